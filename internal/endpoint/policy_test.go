package endpoint_test

import (
	"encoding/json"
	"net/http"
	"strings"
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
