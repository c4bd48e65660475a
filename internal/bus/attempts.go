package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of what EnsureAttempts creates.
const (
	// AttemptStream keeps one record per HTTP attempt: the delivery log.
	AttemptStream = "HOOKS_ATTEMPTS"
	// AttemptSubjects is what AttemptStream captures:
	// hooks.attempt.<endpoint id or _>.<event type or _>.
	AttemptSubjects = "hooks.attempt.>"
)

// EnsureAttempts creates the attempt stream when it is missing (with the
// Bus's replica count, keeping records for maxAge; 0 keeps them for ever)
// and uses an existing one as it is; an existing stream must capture
// hooks.attempt.>. It waits for the server as Ensure does.
//
// With one replica the stream is created with asynchronous persistence
// (NATS 2.12 and later; older servers ignore it): the server acknowledges a
// record once it holds it and writes records to disk in batches, not one
// write per record. Records are a log that may lose its last few
// milliseconds should the server process die (not on a clean stop), which
// the delivery log allows (a record is never a reason to retry), and the
// server is spared the write system call per record that the default
// persistence makes. The server refuses it on a replicated stream, whose
// records are acknowledged once a majority of the replicas hold them.
func (b *Bus) EnsureAttempts(ctx context.Context, maxAge time.Duration) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{
		Name: AttemptStream, Subjects: []string{AttemptSubjects}, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, MaxAge: maxAge, Description: "hookworker delivery log: one record per HTTP attempt",
	}
	if b.replicas == 1 {
		cfg.PersistMode = jetstream.AsyncPersistMode
	}
	return Retry(ctx, b, func(ctx context.Context) (jetstream.Stream, error) {
		return b.ensureStream(ctx, cfg, "hooks.attempt.x.x.x")
	})
}
