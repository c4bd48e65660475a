package endpoint_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/internal/ordering"
	"github.com/hookworker/hookworker/internal/ratelimit"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// BenchmarkNoPolicy is an event job's way through the deliverer, the
// request answered at once without HTTP, to an endpoint that sets neither
// rate_limit nor ordered: with the worker's limiter and gate and without
// them. The difference is what the policy checks cost the endpoints that
// set none.
func BenchmarkNoPolicy(b *testing.B) {
	ctx, bs, eb := catalogtest.Start(b)
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants,
		Conn: bs.Conn(), AllowPrivateNetworks: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cat.PutEndpoint(ctx, catalog.Endpoint{ID: "ep", URL: "http://127.0.0.1:9/hook"}, ""); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, ok := cat.MirroredSigningSecrets("ep", time.Now()); ok {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the catalog's mirror never held the endpoint")
		}
		time.Sleep(time.Millisecond)
	}
	rates, err := bs.EnsureRates(ctx)
	if err != nil {
		b.Fatal(err)
	}
	limiter, err := ratelimit.New(ratelimit.Config{Store: rates})
	if err != nil {
		b.Fatal(err)
	}
	jobs, err := bs.JetStream().CreateStream(ctx, jetstreamConfig())
	if err != nil {
		b.Fatal(err)
	}
	gate, err := ordering.New(ordering.Config{Stream: jobs, EndpointSubject: bus.EndpointSubject("hooks.send")})
	if err != nil {
		b.Fatal(err)
	}
	send := func(_ context.Context, req sender.Request) sender.Result {
		return sender.Result{OK: true, Outcome: sender.Delivered, Status: 204, Attempts: 1}
	}
	j := job.Job{ID: "evt_1:ep", Type: job.Webhook, URLs: []string{"http://127.0.0.1:9/hook"}, Payload: []byte(`{}`),
		Endpoint: "ep", Event: &job.Event{ID: "evt_1", Type: "a.b"}}
	for _, bc := range []struct {
		name string
		cfg  endpoint.Config
	}{
		{"without", endpoint.Config{Catalog: cat, Send: send}},
		{"with", endpoint.Config{Catalog: cat, Send: send, Limiter: limiter, Gate: gate}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := endpoint.New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				deliver, err := d.Prepare(&j)
				if err != nil {
					b.Fatal(err)
				}
				if r := deliver(ctx, sender.Request{ID: j.ID, URLs: j.URLs, Body: j.Payload}); !r.OK {
					b.Fatalf("%s: %s", r.Outcome, r.Error)
				}
			}
		})
	}
}

// jetstreamConfig is a job stream for the benchmark's gate.
func jetstreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send", "hooks.send.endpoint", "hooks.send.endpoint.*"},
		Retention: jetstream.WorkQueuePolicy}
}
