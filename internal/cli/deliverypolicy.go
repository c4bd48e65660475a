package cli

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/ordering"
	"github.com/hookworker/hookworker/internal/ratelimit"
)

// deliveryPolicy returns what holds endpoints to their rate_limit and
// ordered settings across every worker: the limiter on the rate bucket,
// and the gate on the job stream (the ordered endpoints' subjects) and the
// connection's notices. Close the gate on the way out.
func deliveryPolicy(ctx context.Context, b *bus.Bus, cfg config.Config) (*ratelimit.Limiter, *ordering.Gate, error) {
	rates, err := b.EnsureRates(ctx)
	if err != nil {
		return nil, nil, err
	}
	limiter, err := ratelimit.New(ratelimit.Config{Store: rates})
	if err != nil {
		return nil, nil, err
	}
	jobs, err := bus.Retry(ctx, b, func(ctx context.Context) (jetstream.Stream, error) {
		return b.JetStream().Stream(ctx, cfg.Stream)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s: %w", cfg.Stream, err)
	}
	gate, err := ordering.New(ordering.Config{Stream: jobs, EndpointSubject: bus.EndpointSubject(cfg.Subject), Conn: b.Conn()})
	if err != nil {
		return nil, nil, err
	}
	return limiter, gate, nil
}
