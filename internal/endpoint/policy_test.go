package endpoint_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/job"
)

// TestEndpointScheduleAndTimeout: an endpoint's retry_schedule replaces
// the worker's (which here retries nothing), and its timeout bounds each
// attempt, cut to the worker's own.
func TestEndpointScheduleAndTimeout(t *testing.T) {
	t.Parallel()
	w := start(t, options{maxTimeout: 300 * time.Millisecond})
	w.putType(t, "a.b")
	flaky := func() *receiver {
		return w.receiver(t, func(n int) int {
			if n < 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		})
	}
	slow := func(d time.Duration) *receiver {
		return w.receiver(t, func(int) int {
			time.Sleep(d)
			return http.StatusNoContent
		})
	}
	retried := w.putEndpoint(t, catalog.Endpoint{URL: flaky().URL, RetrySchedule: catalog.Schedule{job.Duration(20 * time.Millisecond), job.Duration(20 * time.Millisecond)}}, "")
	worker := w.putEndpoint(t, catalog.Endpoint{URL: flaky().URL}, "")
	short := w.putEndpoint(t, catalog.Endpoint{URL: slow(time.Second).URL, Timeout: catalog.Timeout(100 * time.Millisecond)}, "")
	long := w.putEndpoint(t, catalog.Endpoint{URL: slow(time.Second).URL, Timeout: catalog.Timeout(time.Hour)}, "")

	w.send(t, catalog.Event{ID: "evt_p", Type: "a.b", Payload: json.RawMessage(`{}`)})
	for _, c := range []struct {
		name, id string
		want     job.Outcome
		attempts int
		err      string
	}{
		{"the endpoint's schedule", retried.ID, job.Delivered, 3, ""},
		{"the worker's schedule", worker.ID, job.Failed, 1, "503"},
		{"the endpoint's timeout", short.ID, job.Failed, 1, "timeout after 100ms"},
		{"a timeout cut to the worker's", long.ID, job.Failed, 1, "timeout after 300ms"},
	} {
		r := w.result(t, fanout.JobID("evt_p", c.id))
		if r.Outcome != c.want || r.Attempts != c.attempts || !strings.Contains(r.Error, c.err) {
			t.Errorf("%s: %s after %d attempts %q, want %s after %d, %q", c.name, r.Outcome, r.Attempts, r.Error, c.want, c.attempts, c.err)
		}
	}
}

// TestServiceUnavailableRetryAfterWaited: a 503 with Retry-After: 2 is
// waited for, two seconds, before the retry its endpoint's schedule allows
// (whose own wait is a millisecond), and the retry is delivered.
func TestServiceUnavailableRetryAfterWaited(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "a.b")
	var mu sync.Mutex
	var at []time.Time
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		n := len(at)
		mu.Unlock()
		if n == 1 {
			rw.Header().Set("Retry-After", "2")
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL, RetrySchedule: catalog.Schedule{job.Duration(time.Millisecond)}}, "")
	w.send(t, catalog.Event{ID: "evt_ra", Type: "a.b", Payload: json.RawMessage(`{}`)})
	r := w.result(t, fanout.JobID("evt_ra", ep.ID))
	mu.Lock()
	defer mu.Unlock()
	if r.Outcome != job.Delivered || r.Attempts != 2 || len(at) != 2 {
		t.Fatalf("%s after %d attempts (%d requests) %q, want delivered on the second", r.Outcome, r.Attempts, len(at), r.Error)
	}
	if gap := at[1].Sub(at[0]); gap < 2*time.Second {
		t.Fatalf("retried %s after the 503, want the 2s it asked for", gap)
	}
}
