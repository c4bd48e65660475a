package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ScanBatch is how many messages one fetch of Scan asks for.
const ScanBatch = 128

// Scan reads the messages of stream that cfg selects (its filter subjects
// and deliver policy; the rest is set here) forwards, through an ephemeral
// pull consumer that acknowledges nothing, and calls fn on each until fn
// returns false or the messages stored so far are read. The consumer is
// deleted when Scan returns.
func Scan(ctx context.Context, stream jetstream.Stream, cfg jetstream.ConsumerConfig, fn func(jetstream.Msg) bool) error {
	cfg.Durable, cfg.Name = "", ""
	cfg.AckPolicy = jetstream.AckNonePolicy
	cfg.MemoryStorage = true
	cfg.InactiveThreshold = time.Minute
	cfg.Replicas = 1
	cons, err := stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("scan stream %s: %w", stream.CachedInfo().Config.Name, err)
	}
	name := cons.CachedInfo().Name
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = stream.DeleteConsumer(dctx, name)
	}()
	for {
		batch, err := cons.FetchNoWait(ScanBatch)
		if err != nil {
			return fmt.Errorf("scan stream %s: %w", stream.CachedInfo().Config.Name, err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			if !fn(msg) {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("scan stream %s: %w", stream.CachedInfo().Config.Name, err)
		}
		if n == 0 {
			return ctx.Err()
		}
	}
}

// Locate returns the sequence of the first message of stream on filter
// stored at or after t, or 0 when there is none.
func Locate(ctx context.Context, stream jetstream.Stream, filter string, t time.Time) (uint64, error) {
	var seq uint64
	err := Scan(ctx, stream, jetstream.ConsumerConfig{
		FilterSubject: filter, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &t,
	}, func(m jetstream.Msg) bool {
		if meta, err := m.Metadata(); err == nil {
			seq = meta.Sequence.Stream
		}
		return false
	})
	return seq, err
}
