package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RateBucket holds one record per rate-limited endpoint: when its next
// request may go (see internal/ratelimit).
const RateBucket = "HOOKWORKER_RATE"

// rateTTL is how long the rate bucket keeps a record no request moved on:
// a record is worth something for a second or so after its last request.
const rateTTL = 10 * time.Minute

// OrderNotices is the prefix of the core NATS subjects on which workers
// tell each other that an ordered endpoint's job is over or deferred
// (<OrderNotices>.<endpoint id>; see internal/ordering). Nothing stores
// them.
const OrderNotices = "hooks.ordered"

// OrderedSubject returns the subject of the jobs of ordered endpoint id:
// the endpoint subject (see EndpointSubject) followed by the id
// (hooks.send.endpoint.ep_1). The
// job stream keeps them in the order the fan-out published them, which is
// the order their events were stored, and an endpoint's first one still
// in the stream is the one whose turn it is.
func OrderedSubject(endpointSubject, id string) string { return endpointSubject + "." + id }

// orderedSubjects is what the job stream captures, and the consumer
// takes, of every ordered endpoint's jobs.
func orderedSubjects(jobSubject string) string {
	return OrderedSubject(EndpointSubject(jobSubject), "*")
}

// EnsureRates returns the rate bucket, creating it when missing with the
// Bus's replica count; an existing one is used as it is. Like Ensure, it
// tries again while the server, or a cluster's leader for the bucket, is
// not ready (see Retry): two workers starting together on a cluster create
// it at the same time.
func (b *Bus) EnsureRates(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := Retry(ctx, b, func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, _, err := b.ensureBucket(ctx, jetstream.KeyValueConfig{
			Bucket: RateBucket, Description: "hookworker endpoint rate limits", TTL: rateTTL,
			Storage: jetstream.FileStorage,
		})
		return kv, err
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", RateBucket, err)
	}
	return kv, nil
}

// ensureOrdered makes the job stream s capture the ordered endpoints' jobs
// and the consumer cons take them, updating either when it does not; it
// returns the consumer as it is then.
func (b *Bus) ensureOrdered(ctx context.Context, t Topology, s jetstream.Stream, cons jetstream.Consumer) (jetstream.Consumer, error) {
	pattern := orderedSubjects(t.Subject)
	sample := OrderedSubject(EndpointSubject(t.Subject), "x")
	info, err := s.Info(ctx) // fresh: the stream may just have been changed
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", t.Stream, err)
	}
	scfg := info.Config
	if !capturedBy(scfg.Subjects, sample) {
		b.log.Info("adding subject to stream", "stream", scfg.Name, "subject", pattern)
		scfg.Subjects = append(scfg.Subjects, pattern)
		if _, err := b.js.UpdateStream(ctx, scfg); err != nil {
			return nil, fmt.Errorf("stream %s: add subject %s: %w", scfg.Name, pattern, err)
		}
	}
	ccfg := cons.CachedInfo().Config
	filters := ccfg.FilterSubjects
	if ccfg.FilterSubject != "" {
		filters = append([]string{ccfg.FilterSubject}, filters...)
	}
	if len(filters) == 0 || capturedBy(filters, sample) {
		return cons, nil
	}
	b.log.Info("adding filter subject to consumer", "durable", t.Durable, "filter_subject", pattern,
		"filter_subjects", strings.Join(filters, ","))
	ccfg.FilterSubject, ccfg.FilterSubjects = "", append(filters, pattern)
	return b.js.UpdateConsumer(ctx, t.Stream, ccfg)
}

// capturedBy reports whether one of patterns captures the literal subject.
func capturedBy(patterns []string, subject string) bool {
	for _, p := range patterns {
		if SubjectMatches(p, subject) {
			return true
		}
	}
	return false
}
