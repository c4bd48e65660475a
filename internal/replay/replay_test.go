package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/replay"
)

type env struct {
	js     jetstream.JetStream
	jobs   jetstream.Stream
	events jetstream.Stream
	cat    *catalog.Catalog
	r      *replay.Replayer
}

const (
	jobSubject    = "hooks.send"
	resultSubject = "hooks.result"
)

func start(t *testing.T) env {
	t.Helper()
	ctx, b, eb := catalogtest.Start(t)
	js := b.JetStream()
	// Limits streams, so that the test reads the jobs published.
	jobs, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{jobSubject}, Duplicates: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	results, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS_RESULTS", Subjects: []string{resultSubject}, Duplicates: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"order.created", "billing.invoice.paid"} {
		if _, err := cat.PutEventType(ctx, catalog.EventType{Name: typ}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ep := range []string{"ep_a", "ep_b", strings.Repeat("e", 63)} {
		if _, err := cat.PutEndpoint(ctx, catalog.Endpoint{ID: ep, URL: "https://" + ep + ".example.com/hook",
			Headers: map[string]string{"X-Env": "prod"}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	r, err := replay.New(replay.Config{JetStream: js, Catalog: cat, Events: eb.Events, Results: results,
		ResultSubject: resultSubject, JobSubject: jobSubject})
	if err != nil {
		t.Fatal(err)
	}
	return env{js: js, jobs: jobs, events: eb.Events, cat: cat, r: r}
}

func (e env) storeEvent(t *testing.T, ev catalog.Event) catalog.Event {
	t.Helper()
	body, _ := json.Marshal(ev)
	if _, err := e.js.Publish(context.Background(), catalog.EventSubject(ev.Type, ev.ID), body); err != nil {
		t.Fatal(err)
	}
	return ev
}

// published returns the jobs on the job stream, oldest first, with their
// Nats-Msg-Id.
func (e env) published(t *testing.T) (jobs []fanout.Job, msgIDs []string) {
	t.Helper()
	err := bus.Scan(context.Background(), e.jobs, jetstream.ConsumerConfig{}, func(m jetstream.Msg) bool {
		var j fanout.Job
		if err := json.Unmarshal(m.Data(), &j); err != nil {
			t.Errorf("job %s: %v", m.Data(), err)
		}
		jobs = append(jobs, j)
		msgIDs = append(msgIDs, m.Headers().Get(nats.MsgIdHdr))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return jobs, msgIDs
}

func TestResend(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ev := e.storeEvent(t, catalog.Event{ID: "evt_1", Type: "billing.invoice.paid", Channel: "eu",
		Timestamp: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), Payload: json.RawMessage(`{"amount":12}`)})
	long := e.storeEvent(t, catalog.Event{ID: strings.Repeat("x", 64), Type: "order.created",
		Timestamp: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), Payload: json.RawMessage(`{}`)})
	first, err := e.r.Resend(ctx, "evt_1", "ep_b")
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.r.Resend(ctx, "evt_1", "ep_b")
	if err != nil {
		t.Fatal(err)
	}
	third, err := e.r.Resend(ctx, long.ID, strings.Repeat("e", 63))
	if err != nil {
		t.Fatal(err)
	}
	if first == second || !strings.HasPrefix(first, "evt_1:ep_b:") {
		t.Errorf("job ids %q, %q: want two distinct evt_1:ep_b:…", first, second)
	}
	if len(third) > replay.MaxJobID {
		t.Errorf("job id %q has %d characters", third, len(third))
	}
	jobs, ids := e.published(t)
	if !slices.Equal(ids, []string{first, second, third}) {
		t.Fatalf("published %v, want %v", ids, []string{first, second, third})
	}
	ep, _ := e.cat.Endpoint(ctx, "ep_b")
	want := fanout.NewJob(first, ev, ep)
	got, _ := json.Marshal(jobs[0])
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("job\n%s\nwant\n%s", got, wantJSON)
	}
	if jobs[0].Event.ID != "evt_1" || jobs[0].Endpoint != "ep_b" || string(jobs[0].Payload.Data) != `{"amount":12}` ||
		jobs[0].Payload.Type != "billing.invoice.paid" || jobs[0].Headers["X-Env"] != "prod" {
		t.Errorf("job %s", got)
	}

	for _, c := range []struct{ event, endpoint string }{{"evt_9", "ep_b"}, {"evt_1", "ep_9"}} {
		if _, err := e.r.Resend(ctx, c.event, c.endpoint); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Resend(%s, %s) = %v, want not found", c.event, c.endpoint, err)
		}
	}
	var ie *catalog.InvalidError
	if _, err := e.r.Resend(ctx, "evt.1", "ep_b"); !errors.As(err, &ie) {
		t.Errorf("Resend(evt.1) = %v, want invalid", err)
	}
	if jobs, _ := e.published(t); len(jobs) != 3 {
		t.Errorf("%d jobs after refused resends, want 3", len(jobs))
	}
}

// A resend reaches only an endpoint that would have received the event:
// its type and channel filters apply as in the fan-out, and a resend they
// exclude is refused, naming the endpoint, and publishes nothing.
func TestResendFollowsTheEndpointsFilters(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	for _, ep := range []catalog.Endpoint{
		{ID: "ep_orders", URL: "https://orders.example.com/", EventTypes: []string{"order.created"}},
		{ID: "ep_eu", URL: "https://eu.example.com/", Channels: []string{"eu"}},
	} {
		if _, err := e.cat.PutEndpoint(ctx, ep, ""); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, ev := range []catalog.Event{
		{ID: "evt_bill_eu", Type: "billing.invoice.paid", Channel: "eu"},
		{ID: "evt_order", Type: "order.created"},
		{ID: "evt_order_us", Type: "order.created", Channel: "us"},
	} {
		ev.Timestamp, ev.Payload = at, json.RawMessage(`{}`)
		e.storeEvent(t, ev)
	}
	tests := []struct {
		name, event, endpoint string
		refused               bool
	}{
		{"another type", "evt_bill_eu", "ep_orders", true},
		{"no channel to an endpoint with channels", "evt_order", "ep_eu", true},
		{"another channel", "evt_order_us", "ep_eu", true},
		{"its type", "evt_order", "ep_orders", false},
		{"its channel", "evt_bill_eu", "ep_eu", false},
		{"an endpoint without filters", "evt_order_us", "ep_a", false},
	}
	var want []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := e.r.Resend(ctx, tt.event, tt.endpoint)
			if !tt.refused {
				if err != nil {
					t.Fatalf("Resend(%s, %s) = %v", tt.event, tt.endpoint, err)
				}
				want = append(want, id)
				return
			}
			var ie *catalog.InvalidError
			if !errors.As(err, &ie) || ie.Field != "endpoint" {
				t.Fatalf("Resend(%s, %s) = %q, %v; want invalid endpoint", tt.event, tt.endpoint, id, err)
			}
		})
	}
	if _, ids := e.published(t); !slices.Equal(ids, want) {
		t.Fatalf("published %v, want only %v", ids, want)
	}

	// Recover skips a failed delivery of an event the endpoint's filters
	// exclude now.
	since := time.Now()
	e.result(t, fanout.JobID("evt_bill_eu", "ep_orders"), "failed", "ep_orders",
		catalog.Event{ID: "evt_bill_eu", Type: "billing.invoice.paid"})
	if n, err := e.r.Recover(ctx, "ep_orders", since, time.Time{}); err != nil || n != 0 {
		t.Fatalf("Recover(ep_orders) = %d, %v; want 0", n, err)
	}
	if _, ids := e.published(t); !slices.Equal(ids, want) {
		t.Fatalf("published %v after recover, want only %v", ids, want)
	}
}

// result publishes a terminal result of an event job, as the worker does.
func (e env) result(t *testing.T, jobID, outcome, endpoint string, ev catalog.Event) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"id": jobID, "type": "webhook", "ok": outcome == "delivered", "outcome": outcome,
		"endpoint": endpoint, "event": map[string]any{"id": ev.ID, "type": ev.Type, "channel": nil},
	})
	if endpoint == "" {
		body, _ = json.Marshal(map[string]any{"id": jobID, "outcome": outcome, "endpoint": nil, "event": nil})
	}
	msg := &nats.Msg{Subject: resultSubject, Data: body, Header: nats.Header{nats.MsgIdHdr: {jobID + ":" + outcome}}}
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func TestRecover(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ev := map[string]catalog.Event{}
	for i := range 8 {
		id := fmt.Sprintf("evt_%d", i)
		typ := []string{"order.created", "billing.invoice.paid"}[i%2]
		ev[id] = e.storeEvent(t, catalog.Event{ID: id, Type: typ, Timestamp: time.Now().UTC(), Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
	}
	job := func(id, ep string) string { return fanout.JobID(id, ep) }
	e.result(t, job("evt_0", "ep_b"), "failed", "ep_b", ev["evt_0"]) // before the window
	since := time.Now()
	e.result(t, job("evt_1", "ep_b"), "failed", "ep_b", ev["evt_1"])    // recovered
	e.result(t, job("evt_2", "ep_b"), "failed", "ep_b", ev["evt_2"])    // delivered since
	e.result(t, job("evt_3", "ep_b"), "delivered", "ep_b", ev["evt_3"]) // never failed
	e.result(t, job("evt_4", "ep_a"), "failed", "ep_a", ev["evt_4"])    // another endpoint
	e.result(t, job("evt_5", "ep_b"), "failed", "ep_b", ev["evt_5"])    // failed twice: sent once
	e.result(t, "evt_5:ep_b:r1", "failed", "ep_b", ev["evt_5"])
	e.result(t, job("evt_6", "ep_b"), "rejected", "ep_b", ev["evt_6"]) // nothing was sent
	e.result(t, "plain-job", "failed", "", catalog.Event{})            // a plain job
	e.result(t, "evt_2:ep_b:r1", "delivered", "ep_b", ev["evt_2"])
	until := time.Now()
	e.result(t, job("evt_7", "ep_b"), "failed", "ep_b", ev["evt_7"]) // after the window

	n, err := e.r.Recover(ctx, "ep_b", since, until)
	if err != nil {
		t.Fatal(err)
	}
	jobs, _ := e.published(t)
	var got []string
	for _, j := range jobs {
		got = append(got, j.Event.ID+"@"+j.Endpoint+":"+string(j.Payload.Data))
	}
	want := []string{`evt_1@ep_b:{"n":1}`, `evt_5@ep_b:{"n":5}`}
	if n != 2 || !slices.Equal(got, want) {
		t.Fatalf("recovered %d: %v, want %v", n, got, want)
	}

	// Without until, the window reaches now.
	n, err = e.r.Recover(ctx, "ep_b", until, time.Time{})
	if err != nil || n != 1 {
		t.Errorf("Recover(since until) = %d, %v; want 1 (evt_7)", n, err)
	}
	if _, err := e.r.Recover(ctx, "ep_9", since, time.Time{}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Recover(ep_9) = %v, want not found", err)
	}
	var ie *catalog.InvalidError
	if _, err := e.r.Recover(ctx, "ep_b", until, since); !errors.As(err, &ie) || ie.Field != "until" {
		t.Errorf("Recover(until before since) = %v, want invalid until", err)
	}
	// A since in the future without an until is the since's fault.
	if _, err := e.r.Recover(ctx, "ep_b", time.Now().Add(time.Hour), time.Time{}); !errors.As(err, &ie) || ie.Field != "since" {
		t.Errorf("Recover(since in the future) = %v, want invalid since", err)
	}
}
