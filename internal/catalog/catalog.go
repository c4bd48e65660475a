// Package catalog keeps hookworker's event types, endpoints and tenants in
// JetStream key-value buckets: it validates them, stores them, lists them,
// holds the endpoints' signing secrets and checks events against their
// type's JSON Schema.
//
// Secrets leave the package only through SigningSecrets and Secret, and an
// endpoint's auth key or client secret only through Credentials and
// MirroredCredentials, for delivery. A Catalog mirrors its buckets through
// a watch, so that matching an event to its endpoints and validating its
// payload read memory; each such read first makes sure the mirror holds
// every change made before it.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Bucket names.
const (
	// TypesBucket holds the event types, keyed by name.
	TypesBucket = "HOOKWORKER_EVENT_TYPES"
	// EndpointsBucket holds the endpoints, keyed by id.
	EndpointsBucket = "HOOKWORKER_ENDPOINTS"
	// TenantsBucket holds the tenants, keyed by id.
	TenantsBucket = "HOOKWORKER_TENANTS"
)

// DisabledSubject is where Disable publishes {"endpoint","reason","at"}.
const DisabledSubject = "hooks.ops.endpoint.disabled"

// DefaultSecretGrace is how long a rotated-out secret keeps signing.
const DefaultSecretGrace = 24 * time.Hour

// Config is what a Catalog is built from.
type Config struct {
	// Types and Endpoints are the event type and endpoint buckets.
	Types, Endpoints jetstream.KeyValue
	// Tenants is the tenant bucket; nil holds no tenant, and then an
	// endpoint or an event that names one is refused.
	Tenants jetstream.KeyValue
	// Conn publishes operational events (Disable); nil publishes none.
	Conn *nats.Conn
	// SecretGrace is how long a rotated-out secret keeps signing; 0 means
	// DefaultSecretGrace.
	SecretGrace time.Duration
	// AllowPrivateNetworks and AllowedNetworks are the workers' address
	// policy (package address), as HOOKWORKER_ALLOW_PRIVATE_NETWORKS and
	// HOOKWORKER_ALLOWED_NETWORKS set it: an endpoint URL whose host the
	// policy refuses as written (a non-public address in any form a
	// resolver accepts, localhost) is refused unless they allow it.
	AllowPrivateNetworks bool
	AllowedNetworks      []netip.Prefix
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Catalog reads and writes event types, endpoints and tenants.
type Catalog struct {
	cfg       Config
	types     *mirror
	endpoints *mirror
	tenants   *mirror // nil without the tenant bucket

	mu      sync.Mutex
	schemas map[string]compiled // by type name
}

// compiled is a type's schema compiled at one revision of its key, or why
// it does not compile.
type compiled struct {
	rev    uint64
	schema *jsonschema.Schema
	err    error
}

// New returns a Catalog over the buckets in cfg and starts mirroring them;
// the mirrors stop when ctx ends.
func New(ctx context.Context, cfg Config) (*Catalog, error) {
	if cfg.Types == nil || cfg.Endpoints == nil {
		return nil, errors.New("catalog: the event type and endpoint buckets are required")
	}
	if cfg.SecretGrace <= 0 {
		cfg.SecretGrace = DefaultSecretGrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Catalog{cfg: cfg, types: newMirror(cfg.Types, cfg.Logger), endpoints: newMirror(cfg.Endpoints, cfg.Logger), schemas: map[string]compiled{}}
	if err := c.types.run(ctx); err != nil {
		return nil, err
	}
	if err := c.endpoints.run(ctx); err != nil {
		return nil, err
	}
	if cfg.Tenants != nil {
		c.tenants = newMirror(cfg.Tenants, cfg.Logger)
		if err := c.tenants.run(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Catalog) now() time.Time { return c.cfg.Now().UTC() }

// isWrongSequence reports whether err is a KV compare-and-set conflict.
func isWrongSequence(err error) bool {
	var api *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) ||
		(errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
}

// update runs change on the current value of key (nil when absent) and
// stores what it returns with a compare-and-set, again on a conflict.
func update(ctx context.Context, kv jetstream.KeyValue, key string, change func(cur []byte) ([]byte, error)) error {
	for range 10 {
		var cur []byte
		var rev uint64
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("read %s: %w", key, err)
		default:
			cur, rev = e.Value(), e.Revision()
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, next)
		} else {
			_, err = kv.Update(ctx, key, next, rev)
		}
		if err == nil {
			return nil
		}
		if !isWrongSequence(err) {
			return fmt.Errorf("store %s: %w", key, err)
		}
	}
	return fmt.Errorf("store %s: too many concurrent changes", key)
}

// readJSON reads key of kv, the what of that name, and decodes it, with
// the key's revision: an error wrapping ErrNotFound when there is no such
// key, and one naming it when it cannot be read or decoded.
func readJSON[T any](ctx context.Context, kv jetstream.KeyValue, what, key string) (T, uint64, error) {
	var zero T
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return zero, 0, notFound(what, key)
	}
	if err != nil {
		return zero, 0, fmt.Errorf("%s %s: %w", what, key, err)
	}
	v, err := decodeJSON[T](e.Value())
	if err != nil {
		return zero, 0, fmt.Errorf("%s %s: %w", what, key, err)
	}
	return v, e.Revision(), nil
}

// decodeJSON decodes b as a T: the mirrors' decoder, and readJSON's.
func decodeJSON[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}
