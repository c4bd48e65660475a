package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of what EnsureEvents creates.
const (
	// EventStream keeps the events producers send.
	EventStream = "HOOKS_EVENTS"
	// EventSubjects is what EventStream captures: hooks.event.<type>.<id>.
	EventSubjects = "hooks.event.>"
	// EventTypesBucket holds the event types, keyed by name.
	EventTypesBucket = "HOOKWORKER_EVENT_TYPES"
	// EndpointsBucket holds the endpoints, keyed by id.
	EndpointsBucket = "HOOKWORKER_ENDPOINTS"
	// TenantsBucket holds the tenants, keyed by id.
	TenantsBucket = "HOOKWORKER_TENANTS"
)

// EventDuplicates is the event stream's duplicate window.
const EventDuplicates = 10 * time.Minute

// EventTopology says how long events are kept.
type EventTopology struct {
	// EventMaxAge is how long the event stream keeps an event; 0 keeps it
	// for ever.
	EventMaxAge time.Duration
}

// EventsBound is what EnsureEvents set up.
type EventsBound struct {
	// Events is the event stream.
	Events jetstream.Stream
	// Types, Endpoints and Tenants are the catalog's buckets.
	Types, Endpoints, Tenants jetstream.KeyValue
}

// EnsureEvents creates what is missing of the event stream and the event
// type, endpoint and tenant buckets (with the Bus's replica count), and uses
// what exists as it is; an existing event stream must capture hooks.event.>.
// It waits for the server as Ensure does.
func (b *Bus) EnsureEvents(ctx context.Context, t EventTopology) (EventsBound, error) {
	return Retry(ctx, b, func(ctx context.Context) (EventsBound, error) { return b.ensureEventsOnce(ctx, t) })
}

func (b *Bus) ensureEventsOnce(ctx context.Context, t EventTopology) (EventsBound, error) {
	var out EventsBound
	var err error
	out.Events, err = b.ensureStream(ctx, jetstream.StreamConfig{
		Name: EventStream, Subjects: []string{EventSubjects}, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, MaxAge: t.EventMaxAge, Duplicates: eventDuplicates(t.EventMaxAge),
		Description: "hookworker events",
	}, "hooks.event.x.x.x")
	if err != nil {
		return EventsBound{}, err
	}
	if out.Types, err = b.catalogBucket(ctx, EventTypesBucket, "hookworker event types"); err != nil {
		return EventsBound{}, err
	}
	if out.Endpoints, err = b.catalogBucket(ctx, EndpointsBucket, "hookworker endpoints"); err != nil {
		return EventsBound{}, err
	}
	if out.Tenants, err = b.catalogBucket(ctx, TenantsBucket, "hookworker tenants"); err != nil {
		return EventsBound{}, err
	}
	return out, nil
}

// eventDuplicates is the event stream's duplicate window, never longer than
// its max age (the server refuses that).
func eventDuplicates(maxAge time.Duration) time.Duration {
	if maxAge > 0 && maxAge < EventDuplicates {
		return maxAge
	}
	return EventDuplicates
}

// catalogBucket returns the catalog's key-value bucket name, creating it
// when missing.
func (b *Bus) catalogBucket(ctx context.Context, name, description string) (jetstream.KeyValue, error) {
	kv, _, err := b.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket: name, Description: description, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	return kv, nil
}

// ensureBucket returns the key-value bucket cfg names, creating it with cfg
// and the Bus's replica count when missing (created is then true); an
// existing bucket is used as it is, with a warning when its replica count
// differs.
func (b *Bus) ensureBucket(ctx context.Context, cfg jetstream.KeyValueConfig) (kv jetstream.KeyValue, created bool, err error) {
	cfg.Replicas = b.replicas
	kv, err = b.js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = b.js.CreateKeyValue(ctx, cfg)
		if err == nil {
			b.log.Info("created bucket", "bucket", cfg.Bucket, "replicas", cfg.Replicas)
			return kv, true, nil
		}
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = b.js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, false, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, false, err
	}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		b.checkReplicas("bucket", cfg.Bucket, bs.StreamInfo().Config.Replicas)
	}
	return kv, false, nil
}
