package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/internal/replay"
)

type logEnv struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	client *client.Client
	jobs   jetstream.Stream
}

// startLog runs the API with the delivery log and replays over streams the
// test reads.
func startLog(t *testing.T) logEnv {
	t.Helper()
	ctx, b, eb := catalogtest.Start(t)
	as, err := b.EnsureAttempts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	js := b.JetStream()
	jobs, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send"}})
	if err != nil {
		t.Fatal(err)
	}
	results, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS_RESULTS", Subjects: []string{"hooks.result"}})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Conn: b.Conn()})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := replay.New(replay.Config{JetStream: js, Catalog: cat, Events: eb.Events, Results: results,
		ResultSubject: "hooks.result", JobSubject: "hooks.send"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := api.Start(b.Conn(), api.Config{Catalog: cat, JetStream: js, Events: eb.Events,
		Attempts: attempt.NewLog(as, eb.Events, int(b.Conn().MaxPayload())-4096), Replayer: rp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	nc, _ := bustest.Connect(t, b.Conn().ConnectedUrl())
	return logEnv{nc: b.Conn(), js: js, client: client.New(nc), jobs: jobs}
}

func TestAttemptsResendRecover(t *testing.T) {
	e := startLog(t)
	ctx := context.Background()
	c := e.client
	if _, err := c.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ep_a", "ep_b"} {
		if _, err := c.PutEndpoint(ctx, client.Endpoint{ID: id, URL: "https://" + id + ".example.com/"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutEndpoint(ctx, client.Endpoint{ID: "ep_eu", URL: "https://eu.example.com/", Channels: []string{"eu"}}, ""); err != nil {
		t.Fatal(err)
	}
	rec, err := attempt.NewRecorder(e.nc, attempt.RecorderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	for i := range 5 {
		sent, err := c.SendEvent(ctx, client.Event{ID: fmt.Sprintf("evt_%d", i), Type: "order.created", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		for _, ep := range []string{"ep_a", "ep_b"} {
			outcome, status := attempt.Delivered, 204
			if ep == "ep_b" && i%2 == 0 {
				outcome, status = attempt.Failed, 500
			}
			rec.Record(attempt.Attempt{JobID: sent.ID + ":" + ep, EventID: sent.ID, EventType: "order.created", Endpoint: ep,
				URL: "https://" + ep + ".example.com/", Number: 1, Start: time.Now(), Status: status, Outcome: outcome,
				RequestHeaders: http.Header{"Webhook-Id": {sent.ID}}, Response: []byte("nope")})
			// The result the worker publishes, with endpoint and event.
			body, _ := json.Marshal(map[string]any{"id": sent.ID + ":" + ep, "outcome": string(outcome), "endpoint": ep,
				"event": map[string]any{"id": sent.ID, "type": "order.created", "channel": nil}})
			if _, err := e.js.Publish(ctx, "hooks.result", body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}

	var got []string
	for a, err := range c.AllAttempts(ctx, client.AttemptQuery{Endpoint: "ep_b", Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d %s", a.EventID, a.Outcome, a.Status, a.Payload))
	}
	want := []string{`evt_4 failed 500 {"n":4}`, `evt_3 delivered 204 {"n":3}`, `evt_2 failed 500 {"n":2}`,
		`evt_1 delivered 204 {"n":1}`, `evt_0 failed 500 {"n":0}`}
	if !slices.Equal(got, want) {
		t.Errorf("attempts of ep_b:\n%q\nwant\n%q", got, want)
	}
	page, err := c.Attempts(ctx, client.AttemptQuery{Outcome: "failed", Limit: 1})
	if err != nil || len(page.Attempts) != 1 || page.Done || page.Iterator == "" {
		t.Errorf("first page of failed attempts: %+v, %v", page, err)
	}

	jobID, err := c.Resend(ctx, "evt_1", "ep_a")
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.Recover(ctx, "ep_b", since, time.Time{})
	if err != nil || n != 3 {
		t.Fatalf("Recover = %d, %v; want 3", n, err)
	}
	var ids []string
	err = bus.Scan(ctx, e.jobs, jetstream.ConsumerConfig{}, func(m jetstream.Msg) bool {
		var j struct {
			ID    string `json:"id"`
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
			Endpoint string `json:"endpoint"`
		}
		_ = json.Unmarshal(m.Data(), &j)
		if j.ID != m.Headers().Get(nats.MsgIdHdr) {
			t.Errorf("job %s published with Nats-Msg-Id %s", j.ID, m.Headers().Get(nats.MsgIdHdr))
		}
		if len(ids) == 0 && j.ID != jobID {
			t.Errorf("first job %s, want the resend's %s", j.ID, jobID)
		}
		ids = append(ids, j.Event.ID+"@"+j.Endpoint)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"evt_1@ep_a", "evt_0@ep_b", "evt_2@ep_b", "evt_4@ep_b"}; !slices.Equal(ids, want) {
		t.Errorf("jobs %v, want %v", ids, want)
	}

	for _, c := range []struct {
		name string
		call func() error
		want error
	}{
		{"resend unknown event", func() error { _, err := e.client.Resend(ctx, "evt_9", "ep_a"); return err }, client.ErrNotFound},
		{"resend unknown endpoint", func() error { _, err := e.client.Resend(ctx, "evt_1", "ep_9"); return err }, client.ErrNotFound},
		{"resend to an endpoint whose filters exclude it", func() error { _, err := e.client.Resend(ctx, "evt_1", "ep_eu"); return err }, client.ErrBadRequest},
		{"recover unknown endpoint", func() error { _, err := e.client.Recover(ctx, "ep_9", since, time.Time{}); return err }, client.ErrNotFound},
		{"recover without since", func() error { _, err := e.client.Recover(ctx, "ep_b", time.Time{}, time.Time{}); return err }, client.ErrBadRequest},
		{"bad outcome", func() error { _, err := e.client.Attempts(ctx, client.AttemptQuery{Outcome: "lost"}); return err }, client.ErrBadRequest},
		{"limit too large", func() error { _, err := e.client.Attempts(ctx, client.AttemptQuery{Limit: 5000}); return err }, client.ErrBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}
