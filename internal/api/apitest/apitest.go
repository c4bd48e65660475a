// Package apitest starts, for the tests of the packages that serve the API
// (the HTTP API, the portal), the worker's parts in process on a fresh
// JetStream server: the catalog, the API service, the fan-out, a consumer
// delivering event jobs and the delivery log.
package apitest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/replay"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Topology is the job stream's topology of every Worker.
var Topology = bus.Topology{Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
	ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS", AckWait: 30 * time.Second}

// Worker is the worker's parts running for a test.
type Worker struct {
	// Service is the API service, listening on Conn.
	Service *api.Service
	// Tokens signs and checks the tenants' tokens.
	Tokens *auth.Tokens
	// Conn is the worker's connection to the server.
	Conn *nats.Conn
}

// Start starts the worker's parts, with concurrency jobs in flight and
// tenant tokens signed with tokenSecret, until t ends; private addresses
// are allowed (the tests' receivers are on loopback). The caller serves
// Service as it needs; on t's end the worker stops before the service.
func Start(t testing.TB, concurrency int, tokenSecret string) *Worker {
	t.Helper()
	topo := Topology
	srv := bustest.Server(t)
	b := catalogtest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithCancel(context.Background())
	fatal := func(err error) {
		t.Helper()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	bound, err := b.Ensure(ctx, topo)
	fatal(err)
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	fatal(err)
	js, nc := b.JetStream(), b.Conn()
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants, Conn: nc, AllowPrivateNetworks: true})
	fatal(err)
	attempts, err := b.EnsureAttempts(ctx, 0)
	fatal(err)
	results, err := js.Stream(ctx, topo.ResultStream)
	fatal(err)
	rp, err := replay.New(replay.Config{JetStream: js, Catalog: cat, Events: eb.Events, Results: results,
		ResultSubject: topo.ResultSubject, JobSubject: bus.EndpointSubject(topo.Subject)})
	fatal(err)
	tokens, err := auth.NewTokens([]byte(tokenSecret))
	fatal(err)
	svc, err := api.Start(nc, api.Config{Catalog: cat, JetStream: js, Events: eb.Events, Replayer: rp, Tokens: tokens,
		Attempts: attempt.NewLog(attempts, eb.Events, int(nc.MaxPayload())-api.ReplyRoom)})
	fatal(err)
	rec, err := attempt.NewRecorder(nc, attempt.RecorderConfig{})
	fatal(err)
	fan, err := fanout.New(ctx, js, bus.EventStream, fanout.Config{Durable: "hookworker" + fanout.Suffix,
		JobSubject: bus.EndpointSubject(topo.Subject), ResultSubject: topo.ResultSubject, Catalog: cat})
	fatal(err)
	snd, err := sender.New(sender.Config{Timeout: 5 * time.Second, MaxRetries: 1, BackoffMin: 10 * time.Millisecond,
		BackoffMax: 50 * time.Millisecond, DeferAfter: 10 * time.Second, AllowPrivateNetworks: true})
	fatal(err)
	d, err := endpoint.New(endpoint.Config{Catalog: cat, Send: snd.Send, Schedule: []time.Duration{}})
	fatal(err)
	wk, err := consumer.New(consumer.Options{
		JetStream: js, Consumer: bound.Consumer, State: bound.State,
		Deliverers:  map[job.Type]consumer.Deliverer{job.Webhook: d.Prepare},
		Concurrency: concurrency, AckWait: topo.AckWait, ShutdownTimeout: time.Second, MaxRedeliveries: 5,
		ResultSubject: topo.ResultSubject, EndpointSubject: bus.EndpointSubject(topo.Subject), FetchWait: 200 * time.Millisecond,
		Limits:    consumer.Limits{Timeout: 5 * time.Second, MaxRetries: 1, MaxSchedule: time.Hour},
		OnAttempt: rec.Observe,
	})
	fatal(err)
	var wg sync.WaitGroup
	wg.Go(func() { _ = fan.Run(ctx) })
	wg.Go(func() { wk.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = svc.Stop()
	})
	return &Worker{Service: svc, Tokens: tokens, Conn: nc}
}
