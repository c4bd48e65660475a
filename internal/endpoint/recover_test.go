package endpoint_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/job"
)

// TestRecoverSendsWhatADisabledEndpointMissed: an event sent while its
// endpoint is disabled reaches it once it is enabled again and recovered,
// with the event's id as its webhook-id; an event it received already is
// not sent again.
func TestRecoverSendsWhatADisabledEndpointMissed(t *testing.T) {
	t.Parallel()
	w := start(t, options{api: true})
	w.putType(t, "a.b")
	ctx := context.Background()
	rc := w.receiver(t, nil)
	ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL}, "")
	// Another endpoint, enabled throughout: its result says the fan-out
	// is done with an event.
	other := w.putEndpoint(t, catalog.Endpoint{URL: w.receiver(t, nil).URL}, "")
	since := time.Now().Add(-time.Second)

	w.send(t, catalog.Event{ID: "evt_before", Type: "a.b", Payload: json.RawMessage(`{"n":1}`)})
	if r := w.result(t, fanout.JobID("evt_before", ep.ID)); r.Outcome != job.Delivered {
		t.Fatalf("before: %s %q", r.Outcome, r.Error)
	}
	if err := w.cat.Disable(ctx, ep.ID, "maintenance"); err != nil {
		t.Fatal(err)
	}
	w.send(t, catalog.Event{ID: "evt_missed", Type: "a.b", Payload: json.RawMessage(`{"n":2}`)})
	w.result(t, fanout.JobID("evt_missed", other.ID))
	got, err := w.api.Endpoint(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.Disabled = false
	if _, err := w.api.PutEndpoint(ctx, got, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests while disabled, want only the one before", n)
	}

	n, err := w.api.Recover(ctx, ep.ID, since, time.Time{})
	if err != nil || n != 1 {
		t.Fatalf("recover: %d, %v; want 1 event (the one missed)", n, err)
	}
	w.waitFor(t, "the missed event", func() bool { return len(rc.reqs) == 2 })
	req := rc.requests()[1]
	if id := req.header.Get("Webhook-Id"); id != "evt_missed" || !strings.Contains(string(req.body), `"n":2`) {
		t.Fatalf("recovered request: webhook-id %q body %s", id, req.body)
	}
	if !verifies(t, w.secret(t, ep.ID), req) {
		t.Fatal("the recovered request does not verify with the endpoint's secret")
	}
}
