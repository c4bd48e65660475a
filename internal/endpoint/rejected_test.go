package endpoint_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/secret"
	"github.com/hookworker/hookworker/job"
)

// TestRejectedEventJobNamesEventAndEndpoint: an endpoint stored with a URL
// no worker can dial (as put accepted before the address policy applied to
// it) gets a job from the fan-out that the worker rejects, nothing sent;
// the rejected result names the event and the endpoint, and not the URL's
// path.
func TestRejectedEventJobNamesEventAndEndpoint(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "order.created")
	ctx := context.Background()
	kv, err := w.js.KeyValue(ctx, catalog.EndpointsBucket)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	legacy, _ := json.Marshal(map[string]any{
		"id": "ep_legacy", "url": "http://127.0.0.1:99999/hooks/tok3n", "description": "", "event_types": []string{},
		"channels": []string{}, "metadata": map[string]any{}, "headers": map[string]string{}, "disabled": false,
		"disabled_reason": "", "created_at": now, "updated_at": now, "secret": secret.New(),
	})
	if _, err := kv.Put(ctx, "ep_legacy", legacy); err != nil {
		t.Fatal(err)
	}

	w.send(t, catalog.Event{ID: "evt_legacy", Type: "order.created", Channel: "shop-1", Payload: json.RawMessage(`{"n":1}`)})
	r := w.result(t, fanout.JobID("evt_legacy", "ep_legacy"))
	if string(r.Outcome) != "rejected" || r.Attempts != 0 {
		t.Fatalf("result %+v, want rejected with no attempt", r)
	}
	if r.Endpoint != "ep_legacy" || r.Event == nil ||
		*r.Event != (job.Event{ID: "evt_legacy", Type: "order.created", Channel: "shop-1"}) {
		t.Errorf("rejected result names endpoint %q and event %+v, want ep_legacy and evt_legacy", r.Endpoint, r.Event)
	}
	if !strings.Contains(r.Error, "port") || strings.Contains(r.Error, "tok3n") {
		t.Errorf("error %q, want the port blamed without the URL's path", r.Error)
	}
}

// TestRefusedEventJobNamesEventAndEndpoint: an endpoint the catalog accepts
// on a loopback address gets a job from the fan-out that a worker refusing
// non-public destinations rejects, nothing sent; the rejected result names
// the event and the endpoint.
func TestRefusedEventJobNamesEventAndEndpoint(t *testing.T) {
	t.Parallel()
	w := start(t, options{strictSender: true})
	w.putType(t, "order.created")
	rc := w.receiver(t, nil)
	ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL + "/hooks/tok3n"}, "")

	w.send(t, catalog.Event{ID: "evt_local", Type: "order.created", Payload: json.RawMessage(`{}`)})
	r := w.result(t, fanout.JobID("evt_local", ep.ID))
	if string(r.Outcome) != "rejected" || r.Attempts != 0 || len(rc.requests()) != 0 {
		t.Fatalf("result %+v, %d requests, want rejected with nothing sent", r, len(rc.requests()))
	}
	if r.Endpoint != ep.ID || r.Event == nil || *r.Event != (job.Event{ID: "evt_local", Type: "order.created"}) {
		t.Errorf("rejected result names endpoint %q and event %+v, want %s and evt_local", r.Endpoint, r.Event, ep.ID)
	}
	if !strings.Contains(r.Error, "not a public address") || strings.Contains(r.Error, "tok3n") {
		t.Errorf("error %q, want the refusal without the URL's path", r.Error)
	}
}
