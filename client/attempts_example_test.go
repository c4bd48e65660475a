package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/replay"
)

// hookworkerWithLog is hookworker with the delivery log and replays
// served too; it also returns a recorder that stores attempts as the
// delivery path does.
func hookworkerWithLog() (string, *attempt.Recorder, func()) {
	dir, err := os.MkdirTemp("", "client-example")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		log.Fatal("nats server not ready")
	}
	b, err := bus.Connect(bus.Config{URL: srv.ClientURL()})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	if err != nil {
		log.Fatal(err)
	}
	attempts, err := b.EnsureAttempts(ctx, 0)
	if err != nil {
		log.Fatal(err)
	}
	js := b.JetStream()
	results, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS_RESULTS", Subjects: []string{"hooks.result"}})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send"}}); err != nil {
		log.Fatal(err)
	}
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints})
	if err != nil {
		log.Fatal(err)
	}
	rp, err := replay.New(replay.Config{JetStream: js, Catalog: cat, Events: eb.Events, Results: results,
		ResultSubject: "hooks.result", JobSubject: "hooks.send"})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := api.Start(b.Conn(), api.Config{Catalog: cat, JetStream: js, Events: eb.Events,
		Attempts: attempt.NewLog(attempts, eb.Events, 1<<20), Replayer: rp})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := attempt.NewRecorder(b.Conn(), attempt.RecorderConfig{})
	if err != nil {
		log.Fatal(err)
	}
	return srv.ClientURL(), rec, func() {
		_ = rec.Close(context.Background())
		_ = svc.Stop()
		cancel()
		b.Close()
		srv.Shutdown()
		os.RemoveAll(dir)
	}
}

// Read what the deliveries of an event did, newest first, and send it
// once more to an endpoint.
func ExampleClient_AllAttempts() {
	url, rec, stop := hookworkerWithLog()
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()
	if _, err := c.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.PutEndpoint(ctx, client.Endpoint{ID: "ep_1", URL: "https://example.com/hook"}, ""); err != nil {
		log.Fatal(err)
	}
	if _, err := c.SendEvent(ctx, client.Event{ID: "evt_1", Type: "order.created", Payload: json.RawMessage(`{"order":42}`)}); err != nil {
		log.Fatal(err)
	}
	// Two attempts, as a worker records them: a 503, then a 204.
	for i, status := range []int{503, 204} {
		outcome := []attempt.Outcome{attempt.Retry, attempt.Delivered}[i]
		rec.Record(attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", EventType: "order.created", Endpoint: "ep_1",
			URL: "https://example.com/hook", Number: i + 1, Start: time.Now(), Status: status, Outcome: outcome})
	}
	if err := rec.Flush(ctx); err != nil {
		log.Fatal(err)
	}

	for a, err := range c.AllAttempts(ctx, client.AttemptQuery{Endpoint: "ep_1", EventID: "evt_1"}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(a.Attempt, a.Status, a.Outcome, string(a.Payload))
	}
	jobID, err := c.Resend(ctx, "evt_1", "ep_1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(jobID, "evt_1:ep_1:"))
	// Output:
	// 2 204 delivered {"order":42}
	// 1 503 retry {"order":42}
	// true
}
