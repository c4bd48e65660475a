// Package resultscan finds results in the result stream by job id, reading
// their headers only: the one way the client finds a job's stored result
// and the worker finds whether a lost delivery stored one. The result
// stream has no subject per job (every result is on the result subject),
// so a result is found by its Hook-Job-Id header.
package resultscan

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/job"
)

// Span is where a scan starts: at sequence Seq when it is not 0, else at
// the first result stored at or after Since.
type Span struct {
	Since time.Time
	Seq   uint64
}

// heartbeat is how often the server tells a scan it is still there while
// it has nothing to send: a scan that hears nothing for two of them pulls
// again, from a new consumer.
const heartbeat = 500 * time.Millisecond

// Scan reads the headers of the results published on subject in the stream
// info describes, from span on, oldest first, and calls fn with each one's
// job id (its Hook-Job-Id header) and metadata until fn returns false. It
// stops at the stream's last sequence as info saw it: what was stored
// after info was read is not read. It reads no result body.
func Scan(ctx context.Context, js jetstream.JetStream, info *jetstream.StreamInfo, subject string, span Span,
	fn func(id string, meta *jetstream.MsgMetadata) bool) error {
	last := info.State.LastSeq
	if info.State.Msgs == 0 || span.Seq > last || (span.Seq == 0 && info.State.LastTime.Before(span.Since)) {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, HeadersOnly: true}
	if span.Seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, span.Seq
	} else {
		since := span.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	name := info.Config.Name
	cons, err := js.OrderedConsumer(ctx, name, cfg)
	if err != nil {
		return fmt.Errorf("scan results in %s: %w", name, err)
	}
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		// Nothing on subject from span on: Next would wait for ever.
		return nil
	}
	// A pull request that no server took (the consumer made on another
	// server, not yet known to the one the request went to) is answered
	// by nothing: only the missing heartbeats tell, and the ordered
	// consumer then makes a new consumer and pulls again. The library's
	// heartbeat, 5 s, would take 10 s to tell, the whole of a worker's
	// look-up.
	it, err := cons.Messages(jetstream.PullHeartbeat(heartbeat))
	if err != nil {
		return fmt.Errorf("scan results in %s: %w", name, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("scan results in %s: %w", name, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("scan results in %s: %w", name, err)
		}
		if meta.Sequence.Stream > last {
			return nil
		}
		if !fn(msg.Headers().Get(job.HeaderJobID), meta) || meta.NumPending == 0 || meta.Sequence.Stream == last {
			return nil
		}
	}
}
