package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/replay"
)

// startEvents sets up the event stream, the catalog buckets (event types,
// endpoints, tenants) and the delivery log's stream, serves the event and
// endpoint API and runs the fan-out consumer, traced with tp, until ctx
// ends; tokens mints tenants.token's tokens (nil: no token secret). It
// returns the catalog, which event jobs are delivered with, and the API,
// which the HTTP API serves too; stop stops the API and waits for the
// fan-out.
func startEvents(ctx context.Context, b *bus.Bus, cfg config.Config, tp trace.TracerProvider, tokens *auth.Tokens, log *slog.Logger) (cat *catalog.Catalog, svc *api.Service, stop func(), err error) {
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{EventMaxAge: cfg.EventMaxAge})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("set up events: %w", err)
	}
	cat, err = catalog.New(ctx, catalog.Config{
		Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants, Conn: b.Conn(), SecretGrace: cfg.SecretGrace,
		AllowPrivateNetworks: cfg.AllowPrivateNetworks, AllowedNetworks: cfg.AllowedNetworks, Logger: log,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	attempts, err := b.EnsureAttempts(ctx, cfg.AttemptMaxAge)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("set up the delivery log: %w", err)
	}
	results, err := bus.Retry(ctx, b, func(ctx context.Context) (jetstream.Stream, error) {
		return b.JetStream().Stream(ctx, cfg.ResultStream)
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("result stream %s: %w", cfg.ResultStream, err)
	}
	rp, err := replay.New(replay.Config{JetStream: b.JetStream(), Catalog: cat, Events: eb.Events,
		Results: results, ResultSubject: cfg.ResultSubject, JobSubject: bus.EndpointSubject(cfg.Subject)})
	if err != nil {
		return nil, nil, nil, err
	}
	acfg := api.Config{Prefix: cfg.APIPrefix, Catalog: cat, JetStream: b.JetStream(), Events: eb.Events, Logger: log,
		Attempts: attempt.NewLog(attempts, eb.Events, int(b.Conn().MaxPayload())-api.ReplyRoom), Replayer: rp}
	if tokens != nil {
		acfg.Tokens = tokens
	}
	svc, err = api.Start(b.Conn(), acfg)
	if err != nil {
		return nil, nil, nil, err
	}
	// The fan-out's consumer is bound as the job consumer is: waiting for
	// a server that went away while the worker starts.
	fan, err := bus.Retry(ctx, b, func(ctx context.Context) (*fanout.Fanout, error) {
		return fanout.New(ctx, b.JetStream(), bus.EventStream, fanout.Config{
			Durable: cfg.Durable + fanout.Suffix, JobSubject: bus.EndpointSubject(cfg.Subject), ResultSubject: cfg.ResultSubject,
			// Fanning an event out is mostly waiting (for the catalog's sync,
			// for the jobs' acknowledgements): as many events at once as the
			// worker holds jobs keeps the job stream fed.
			Concurrency: cfg.Concurrency, Catalog: cat, Logger: log, TracerProvider: tp,
			// An event taken by a worker that died is taken over as its jobs
			// are: once the AckWait is over.
			AckWait: cfg.AckWait,
		})
	})
	if err != nil {
		_ = svc.Stop()
		return nil, nil, nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := fan.Run(ctx); err != nil {
			log.Error("event fan-out stopped", "error", err)
		}
	})
	log.Info("serving the event api", "service", api.ServiceName, "prefix", cfg.APIPrefix)
	return cat, svc, func() {
		_ = svc.Stop()
		wg.Wait()
	}, nil
}
