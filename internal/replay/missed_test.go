package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
)

// TestRecoverSendsWhatWasNeverSent: recover sends every event stored in
// the window that the endpoint's filters take and that has no delivered
// result for it, whether its delivery failed or was never made (the
// endpoint was disabled, so the fan-out made no job); not the events it
// does not take, nor those stored before it
// was created.
func TestRecoverSendsWhatWasNeverSent(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	store := func(id, typ, channel string) catalog.Event {
		return e.storeEvent(t, catalog.Event{ID: id, Type: typ, Channel: channel, Timestamp: time.Now().UTC(), Payload: json.RawMessage(fmt.Sprintf(`{"id":%q}`, id))})
	}
	store("evt_before", "order.created", "")
	since := time.Now()
	if _, err := e.cat.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_new", URL: "https://new.example.com/", EventTypes: []string{"order.created"}}, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the endpoint's creation time, then the events'
	for _, id := range []string{"evt_a", "evt_b", "evt_c", "evt_d"} {
		store(id, "order.created", "")
	}
	store("evt_other_type", "billing.invoice.paid", "")
	store("evt_channel", "order.created", "eu") // an endpoint without channels takes every channel
	e.result(t, fanout.JobID("evt_a", "ep_new"), "delivered", "ep_new", catalog.Event{ID: "evt_a", Type: "order.created"})
	e.result(t, fanout.JobID("evt_b", "ep_new"), "failed", "ep_new", catalog.Event{ID: "evt_b", Type: "order.created"})
	e.result(t, fanout.JobID("evt_c", "ep_new"), "failed", "ep_new", catalog.Event{ID: "evt_c", Type: "order.created"})
	e.result(t, "evt_c:ep_new:r1", "delivered", "ep_new", catalog.Event{ID: "evt_c", Type: "order.created"})
	// evt_d: never sent (the endpoint was disabled when it was fanned out).

	n, err := e.r.Recover(ctx, "ep_new", since, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, _ := e.published(t)
	var got []string
	for _, j := range jobs {
		got = append(got, j.Event.ID+"@"+j.Endpoint)
	}
	want := []string{"evt_b@ep_new", "evt_d@ep_new", "evt_channel@ep_new"}
	if n != len(want) || !slices.Equal(got, want) {
		t.Fatalf("recovered %d: %v, want %v", n, got, want)
	}
}
