package bus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/sleep"
)

// Topology names the streams, the consumer and the state bucket the worker
// uses.
type Topology struct {
	// Subject and Stream are the job subject and its WorkQueue stream.
	Subject, Stream string
	// Durable is the pull consumer every worker process shares.
	Durable string
	// ResultSubject and ResultStream are the result subject and its Limits
	// stream.
	ResultSubject, ResultStream string
	// ResultMaxAge is how long the result stream keeps a result; 0 keeps it
	// for ever.
	ResultMaxAge time.Duration
	// AckWait is the consumer's AckWait.
	AckWait time.Duration
	// MaxAckPending bounds the jobs handed out and not yet acknowledged,
	// across every process; 0 means no bound, which is what the worker
	// needs. Jobs waiting to be redelivered (deferred by a Retry-After,
	// handed back because their host is busy, lost with a worker) count
	// against it: a bound smaller than such a backlog stops the server from
	// handing out any other job, so that one rate-limited or dead
	// destination would starve every other.
	MaxAckPending int
	// StateBucket is the key-value bucket for per-job delivery state;
	// empty means DefaultStateBucket.
	StateBucket string
	// StateTTL is how long a job's delivery state is kept; 0 means 24h.
	StateTTL time.Duration
}

// EndpointSubject returns the subject of the jobs the fan-out, resend and
// recover make, one per event and endpoint: the job subject followed by
// ".endpoint" (hooks.send.endpoint). It is the only subject on which a job
// may name an endpoint, whose secret signs it: producers are granted
// publish on the job subject and not on this one, so that no producer can
// have a body of its choice signed with an endpoint's secret.
func EndpointSubject(jobSubject string) string { return jobSubject + ".endpoint" }

// DefaultStateBucket is the bucket holding per-job delivery state.
const DefaultStateBucket = "HOOKWORKER_STATE"

// JobDuplicates is the job stream's duplicate window.
const JobDuplicates = 2 * time.Minute

// ResultDuplicates is the result stream's duplicate window: a result
// re-published after a lost acknowledgement within it is stored once.
const ResultDuplicates = 10 * time.Minute

// Bound is what Ensure set up.
type Bound struct {
	// Consumer is the durable pull consumer on the job stream.
	Consumer jetstream.Consumer
	// State is the per-job delivery state bucket.
	State jetstream.KeyValue
}

// SubjectError says an existing stream does not capture the subject it is
// configured for.
type SubjectError struct {
	// Stream is the existing stream's name.
	Stream string
	// Subject is the subject it was expected to capture.
	Subject string
}

// Error names the stream and the subject.
func (e *SubjectError) Error() string {
	return fmt.Sprintf("stream %s exists but does not capture subject %s", e.Stream, e.Subject)
}

// Ensure creates what is missing of the job stream, the result stream, the
// durable consumer and the state bucket, the streams and the bucket with
// Config.Replicas replicas (the consumer has its stream's), and uses what
// exists as it is, with a warning naming a stream or bucket whose replica
// count differs. It waits (with backoff, logging) for a server that is not
// reachable or not answering yet, or a cluster with too few servers up to
// place the replicas, until ctx ends; it fails at once on a SubjectError or
// a configuration the server refuses.
func (b *Bus) Ensure(ctx context.Context, t Topology) (Bound, error) {
	bound, err := Retry(ctx, b, func(ctx context.Context) (Bound, error) { return b.ensureOnce(ctx, t) })
	if err != nil {
		return Bound{}, err
	}
	b.bound.Store(true)
	b.log.Info("jetstream ready", "stream", t.Stream, "subject", t.Subject, "durable", t.Durable,
		"result_stream", t.ResultStream, "result_subject", t.ResultSubject, "replicas", b.replicas)
	return bound, nil
}

// Retry calls once, each call bounded by 10s, until it succeeds, fails
// with an error that trying again will not cure (a configuration the server
// refuses, a SubjectError) or ctx ends, waiting with backoff, and logging,
// in between: the way to set up what the worker needs of JetStream while a
// server, or enough servers of a cluster, may not be there yet.
func Retry[T any](ctx context.Context, b *Bus, once func(context.Context) (T, error)) (T, error) {
	wait := 250 * time.Millisecond
	for {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := once(octx)
		cancel()
		if err == nil || permanent(err) {
			return v, err
		}
		b.log.Warn("jetstream not ready, retrying", "error", err, "retry_in", wait)
		if !sleep.For(ctx, wait) {
			var zero T
			return zero, ctx.Err()
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// permanent reports whether err will not go away by retrying.
func permanent(err error) bool {
	var se *SubjectError
	if errors.As(err, &se) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errorsIsAny(err, nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed,
			nats.ErrConnectionReconnecting, nats.ErrDisconnected, jetstream.ErrJetStreamNotEnabled,
			jetstream.ErrJetStreamNotEnabledForAccount, jetstream.ErrNoHeartbeat) {
		return false
	}
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case errCodeNoPeers:
			return false
		case errCodeReplicasNotSupported:
			return true
		}
		return api.Code == http.StatusBadRequest
	}
	return false
}

// JetStream error codes Ensure tells apart.
const (
	// errCodeNoPeers: too few servers of the cluster are up to place a
	// stream's replicas, as while a cluster starts or one of its servers
	// is down; it goes away when they are up.
	errCodeNoPeers jetstream.ErrorCode = 10005
	// errCodeReplicasNotSupported: more than one replica asked of a server
	// that is not in a cluster.
	errCodeReplicasNotSupported jetstream.ErrorCode = 10074
)

func (b *Bus) ensureOnce(ctx context.Context, t Topology) (Bound, error) {
	// A new stream captures the endpoint and ordered subjects from the
	// start, and a new consumer takes them (no update right after the
	// creation, while a replicated stream may still elect its leader); an
	// existing one is made to capture and take them too.
	jobs, err := b.ensureStream(ctx, jetstream.StreamConfig{
		Name:       t.Stream,
		Subjects:   []string{t.Subject, EndpointSubject(t.Subject), orderedSubjects(t.Subject)},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Discard:    jetstream.DiscardNew,
		Duplicates: JobDuplicates,
	}, t.Subject)
	if err != nil {
		return Bound{}, err
	}
	if err := b.captureToo(ctx, jobs, EndpointSubject(t.Subject)); err != nil {
		return Bound{}, err
	}
	if _, err := b.ensureStream(ctx, jetstream.StreamConfig{
		Name:       t.ResultStream,
		Subjects:   []string{t.ResultSubject},
		Retention:  jetstream.LimitsPolicy,
		Storage:    jetstream.FileStorage,
		MaxAge:     t.ResultMaxAge,
		Duplicates: resultDuplicates(t.ResultMaxAge),
	}, t.ResultSubject); err != nil {
		return Bound{}, err
	}
	cons, err := b.js.Consumer(ctx, t.Stream, t.Durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = b.js.CreateConsumer(ctx, t.Stream, jetstream.ConsumerConfig{
			Durable:        t.Durable,
			Description:    "hookworker job consumer",
			AckPolicy:      jetstream.AckExplicitPolicy,
			AckWait:        t.AckWait,
			MaxDeliver:     -1,
			MaxAckPending:  maxAckPending(t.MaxAckPending),
			FilterSubjects: []string{t.Subject, EndpointSubject(t.Subject), orderedSubjects(t.Subject)},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
	case err == nil:
		cons, err = b.fixConsumer(ctx, t, cons)
	}
	if err != nil {
		return Bound{}, fmt.Errorf("consumer %s on stream %s: %w", t.Durable, t.Stream, err)
	}
	if cons, err = b.ensureOrdered(ctx, t, jobs, cons); err != nil {
		return Bound{}, fmt.Errorf("ordered endpoints' jobs: %w", err)
	}
	bucket := t.StateBucket
	if bucket == "" {
		bucket = DefaultStateBucket
	}
	ttl := t.StateTTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	kv, created, err := b.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "hookworker per-job delivery state",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
	})
	if err == nil && !created {
		kv, err = b.growTTL(ctx, kv, ttl)
	}
	if err != nil {
		return Bound{}, fmt.Errorf("state bucket %s: %w", bucket, err)
	}
	return Bound{Consumer: cons, State: kv}, nil
}

// growTTL makes an existing state bucket keep its values at least ttl: a
// bucket made with a shorter one would drop the progress of jobs whose retry
// schedule outlasts it. A longer TTL is left as it is.
func (b *Bus) growTTL(ctx context.Context, kv jetstream.KeyValue, ttl time.Duration) (jetstream.KeyValue, error) {
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, err
	}
	if cur := st.TTL(); cur == 0 || cur >= ttl {
		return kv, nil
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return kv, nil
	}
	cfg := bs.StreamInfo().Config
	b.log.Warn("keeping job state longer", "bucket", kv.Bucket(), "ttl", st.TTL(), "new_ttl", ttl)
	cfg.MaxAge = ttl
	if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
		return nil, err
	}
	return b.js.KeyValue(ctx, kv.Bucket())
}

// maxAckPending is the consumer's MaxAckPending for the topology's: -1 (no
// bound) for 0.
func maxAckPending(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// captureToo makes the existing stream s capture subject as well, adding
// it to the stream's subjects when none of them does.
func (b *Bus) captureToo(ctx context.Context, s jetstream.Stream, subject string) error {
	cfg := s.CachedInfo().Config
	for _, pattern := range cfg.Subjects {
		if SubjectMatches(pattern, subject) {
			return nil
		}
	}
	b.log.Info("adding subject to stream", "stream", cfg.Name, "subject", subject)
	cfg.Subjects = append(cfg.Subjects, subject)
	if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("stream %s: add subject %s: %w", cfg.Name, subject, err)
	}
	return nil
}

// fixConsumer updates an existing consumer whose settings break what the
// worker promises: a MaxDeliver makes the server drop a job after that many
// deliveries, without a result (deferrals and hand-backs count as
// deliveries; the worker fails a job whose deliveries are lost itself); a
// MaxAckPending other than the topology's may let a backlog of deferred
// jobs stop every other one; and a filter that leaves out the endpoint
// subject would leave the fan-out's jobs undelivered. Everything else is
// used as it is.
func (b *Bus) fixConsumer(ctx context.Context, t Topology, cons jetstream.Consumer) (jetstream.Consumer, error) {
	cfg := cons.CachedInfo().Config
	want := maxAckPending(t.MaxAckPending)
	filters := filtersWith(cfg, EndpointSubject(t.Subject))
	if cfg.MaxDeliver == -1 && cfg.MaxAckPending == want && filters == nil {
		return cons, nil
	}
	b.log.Warn("updating consumer", "durable", t.Durable, "stream", t.Stream,
		"max_deliver", cfg.MaxDeliver, "max_ack_pending", cfg.MaxAckPending, "new_max_ack_pending", want,
		"filter_subjects", strings.Join(filters, ","))
	cfg.MaxDeliver = -1
	cfg.MaxAckPending = want
	if filters != nil {
		cfg.FilterSubject, cfg.FilterSubjects = "", filters
	}
	return b.js.UpdateConsumer(ctx, t.Stream, cfg)
}

// filtersWith returns the filter subjects cfg needs to take subject too;
// nil when it takes it already (no filter, or one that captures it).
func filtersWith(cfg jetstream.ConsumerConfig, subject string) []string {
	filters := cfg.FilterSubjects
	if cfg.FilterSubject != "" {
		filters = append([]string{cfg.FilterSubject}, filters...)
	}
	if len(filters) == 0 {
		return nil
	}
	for _, f := range filters {
		if SubjectMatches(f, subject) {
			return nil
		}
	}
	return append(filters, subject)
}

// resultDuplicates is the result stream's duplicate window, never longer
// than its max age (the server refuses that).
func resultDuplicates(maxAge time.Duration) time.Duration {
	if maxAge > 0 && maxAge < ResultDuplicates {
		return maxAge
	}
	return ResultDuplicates
}

// ensureStream returns the stream named in cfg, creating it when missing
// with the Bus's replica count; an existing stream must capture subject, a
// literal subject that cfg.Subjects capture, and is used with the replicas
// it has (a warning names it when they differ). Logs and errors name the
// first of cfg.Subjects, the subject as configured (the job stream's
// second, its endpoint subject, follows from the first).
func (b *Bus) ensureStream(ctx context.Context, cfg jetstream.StreamConfig, subject string) (jetstream.Stream, error) {
	configured := cfg.Subjects[0]
	cfg.Replicas = b.replicas
	s, err := b.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = b.js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = b.js.Stream(ctx, cfg.Name)
		} else if err == nil {
			b.log.Info("created stream", "stream", cfg.Name, "subject", configured, "replicas", cfg.Replicas)
			return s, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	b.checkReplicas("stream", cfg.Name, s.CachedInfo().Config.Replicas)
	subjects := s.CachedInfo().Config.Subjects
	if len(subjects) == 0 {
		subjects = []string{cfg.Name}
	}
	for _, pattern := range subjects {
		if SubjectMatches(pattern, subject) {
			return s, nil
		}
	}
	return nil, &SubjectError{Stream: cfg.Name, Subject: configured}
}

// checkReplicas warns when an existing stream or bucket (what) named name
// has another replica count than the Bus creates with: it is used as it
// is, and changing it is the operator's (nats stream edit --replicas).
func (b *Bus) checkReplicas(what, name string, replicas int) {
	replicas = max(replicas, 1)
	if replicas == b.replicas {
		return
	}
	b.log.Warn(what+" has another replica count than configured; used as it is",
		what, name, "replicas", replicas, "configured_replicas", b.replicas)
}

// SubjectMatches reports whether the subject pattern (with the wildcards *
// for one token and > for one or more trailing tokens) captures the literal
// subject.
func SubjectMatches(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) {
			return false
		}
		if p != "*" && p != st[i] {
			return false
		}
	}
	return len(pt) == len(st)
}
