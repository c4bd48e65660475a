package endpoint_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/job"
)

// TestRetryStopsWhenEndpointGoes: a retry the worker waits for in the
// process is not sent once its endpoint was deleted or disabled during the
// wait; the result is failed, names the endpoint, and counts the one
// attempt made. An endpoint left alone (the control) gets its retry.
func TestRetryStopsWhenEndpointGoes(t *testing.T) {
	t.Parallel()
	w := start(t, options{schedule: []time.Duration{300 * time.Millisecond}})
	w.putType(t, "a.b")
	ctx := context.Background()
	type tc struct {
		name    string
		change  func(id string) error
		rc      *receiver
		id      string
		want    job.Outcome
		wantErr string
	}
	cases := []*tc{
		{name: "deleted", change: func(id string) error { return w.cat.DeleteEndpoint(ctx, id) },
			want: job.Failed, wantErr: "was deleted; no retry sent"},
		{name: "disabled", change: func(id string) error { return w.cat.Disable(ctx, id, "maintenance") },
			want: job.Failed, wantErr: "is disabled (maintenance); no retry sent"},
		{name: "left alone", change: func(string) error { return nil }, want: job.Delivered},
	}
	for _, c := range cases {
		c.rc = w.receiver(t, func(n int) int {
			if n > 0 {
				return http.StatusOK
			}
			// The first attempt: change the endpoint, then fail the
			// attempt so that a retry is due.
			if err := c.change(c.id); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			return http.StatusServiceUnavailable
		})
		c.id = w.putEndpoint(t, catalog.Endpoint{URL: c.rc.URL}, "").ID
	}
	w.send(t, catalog.Event{ID: "evt_r", Type: "a.b", Payload: json.RawMessage(`{}`)})
	for _, c := range cases {
		r := w.result(t, fanout.JobID("evt_r", c.id))
		if r.Outcome != c.want || r.Endpoint != c.id || !strings.Contains(r.Error, c.wantErr) ||
			c.wantErr != "" && !strings.Contains(r.Error, "endpoint "+c.id) {
			t.Errorf("%s: %s %q (endpoint %q), want %s naming the endpoint, %q", c.name, r.Outcome, r.Error, r.Endpoint, c.want, c.wantErr)
		}
		wantReqs := 1
		if c.want == job.Delivered {
			wantReqs = 2
		}
		if n := len(c.rc.requests()); n != wantReqs || r.Attempts != wantReqs {
			t.Errorf("%s: the receiver got %d requests, the result counts %d attempts; want %d", c.name, n, r.Attempts, wantReqs)
		}
	}
}
