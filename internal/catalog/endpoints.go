package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nuid"

	"github.com/hookworker/hookworker/internal/address"
	"github.com/hookworker/hookworker/internal/secret"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/redact"
)

// Endpoint is a receiver's subscription: where events go and which ones.
// It never holds a secret.
type Endpoint struct {
	// ID is 1 to 63 of A-Za-z0-9_-, given or generated (ep_<nuid>).
	ID string `json:"id"`
	// URL is where the endpoint's events are posted (http or https).
	URL string `json:"url"`
	// Description is free text.
	Description string `json:"description"`
	// EventTypes are the types it receives; empty receives every type.
	EventTypes []string `json:"event_types"`
	// Channels are the channels it listens to; empty receives every event.
	Channels []string `json:"channels"`
	// Metadata is any JSON object, kept for the user.
	Metadata json.RawMessage `json:"metadata"`
	// Headers are extra request headers, under the job header rules.
	Headers map[string]string `json:"headers"`
	// Tenant is the tenant the endpoint belongs to; empty for the
	// operator's own. It is set when the endpoint is created, for good.
	Tenant string `json:"tenant,omitempty"`
	// RateLimit is the most requests per second the endpoint receives,
	// across every worker; 0 is no limit.
	RateLimit int `json:"rate_limit,omitempty"`
	// Ordered endpoints receive events in the order they were stored: an
	// event's first attempt starts once the previous event's delivery to
	// the endpoint has reached its outcome.
	Ordered bool `json:"ordered,omitempty"`
	// RetrySchedule, when set, is the wait before each retry of an event
	// job to the endpoint, in place of the worker's
	// HOOKWORKER_RETRY_SCHEDULE; empty is the worker's.
	RetrySchedule Schedule `json:"retry_schedule,omitempty"`
	// Timeout, when set, is the per-attempt timeout of a delivery to the
	// endpoint, clamped by the worker to its HOOKWORKER_TIMEOUT; zero is
	// the worker's.
	Timeout Timeout `json:"timeout,omitempty"`
	// Auth, when set, is how a worker authenticates to the receiver. An
	// Endpoint read from the catalog holds it without its key or client
	// secret.
	Auth *Auth `json:"auth,omitempty"`
	// Disabled endpoints receive nothing; DisabledReason says why.
	Disabled       bool   `json:"disabled"`
	DisabledReason string `json:"disabled_reason"`
	// CreatedAt and UpdatedAt are when it was made and last changed.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// stored is an endpoint as kept in the bucket, with its secrets.
type stored struct {
	Endpoint
	Secret     string      `json:"secret"`
	OldSecrets []oldSecret `json:"old_secrets,omitempty"`
	// AuthSecret is the auth's key (mtls) or client secret (oauth2), kept
	// out of Endpoint.Auth; AuthVersion changes whenever the auth does.
	AuthSecret  string `json:"auth_secret,omitempty"`
	AuthVersion string `json:"auth_version,omitempty"`
	// FailingSince is when the first delivery failed since the last one
	// that succeeded; nil when the last one succeeded (see Failed).
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// FailingAlerted says the failing alert of the streak was raised;
	// FailingError is the error it named (see AlertFailing).
	FailingAlerted bool   `json:"failing_alerted,omitempty"`
	FailingError   string `json:"failing_error,omitempty"`
}

// oldSecret is a rotated-out secret and when it stops signing.
type oldSecret struct {
	Secret string    `json:"secret"`
	Until  time.Time `json:"until"`
}

// CheckSecret reports whether s is an acceptable signing secret, as
// secret.Parse decides, as an invalid-field error naming "secret". The error
// never repeats the secret.
func CheckSecret(s string) error {
	if _, err := secret.Parse(s); err != nil {
		return invalid("secret", "%s", err.Error())
	}
	return nil
}

// check validates the endpoint's fields (not its id) and normalises them.
func (c *Catalog) check(ctx context.Context, e *Endpoint) error {
	if e.URL == "" {
		return invalid("url", "is required")
	}
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return invalid("url", "must be an absolute http or https URL, got %q", redact.URL(e.URL))
	}
	// The workers' address policy: put refuses what delivery would.
	if err := c.addresses().CheckURL(u); err != nil {
		return invalid("url", "%s", err)
	}
	if e.Metadata, err = jsonObject("metadata", e.Metadata); err != nil {
		return err
	}
	if len(e.Headers) > 0 {
		// The same rules as a job's headers.
		probe, _ := json.Marshal(map[string]any{"url": "https://example.com/", "payload": struct{}{}, "headers": e.Headers})
		if _, err := job.Decode(probe, "probe"); err != nil {
			return invalid("headers", "%s", strings.TrimPrefix(err.Error(), "headers: "))
		}
	}
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	e.EventTypes = uniq(e.EventTypes)
	for _, t := range e.EventTypes {
		if !ValidTypeName(t) {
			return invalid("event_types", "%q is not an event type name", t)
		}
		et, err := c.EventType(ctx, t)
		if errors.Is(err, ErrNotFound) || (err == nil && et.Archived) {
			return invalid("event_types", "event type %q does not exist", t)
		}
		if err != nil {
			return err
		}
	}
	e.Channels = uniq(e.Channels)
	for _, ch := range e.Channels {
		if !ValidChannel(ch) {
			return invalid("channels", "%q is not a channel: 1 to 128 of A-Za-z0-9_.:-", ch)
		}
	}
	if e.Tenant != "" {
		if !ValidTenantID(e.Tenant) {
			return invalid("tenant", "must be 1 to 63 of A-Za-z0-9_-")
		}
		if _, err := c.Tenant(ctx, e.Tenant); errors.Is(err, ErrNotFound) {
			return invalid("tenant", "tenant %q does not exist", e.Tenant)
		} else if err != nil {
			return err
		}
	}
	if err := c.checkPolicy(e); err != nil {
		return err
	}
	if !e.Disabled {
		e.DisabledReason = ""
	}
	return nil
}

// addresses is the address policy of the workers, as the catalog's
// configuration mirrors it.
func (c *Catalog) addresses() address.Policy {
	return address.Policy{AllowPrivate: c.cfg.AllowPrivateNetworks, Allowed: c.cfg.AllowedNetworks}
}

// uniq returns s sorted without repeats, never nil.
func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// PutEndpoint creates or updates an endpoint and returns it. Without an id,
// the endpoint of the same tenant (or of none, as e) that already has
// e.URL is updated, else one is created with a generated id. sec, when
// given, becomes the current secret (on an update, the one it replaces
// keeps signing for the grace period); a new endpoint without one gets a
// generated secret. An endpoint's tenant is the one it was created with
// (or none): an update that gives another, or none, is an *InvalidError
// for "tenant". An *InvalidError changes nothing.
func (c *Catalog) PutEndpoint(ctx context.Context, e Endpoint, sec string) (Endpoint, error) {
	if e.ID != "" && !ValidEndpointID(e.ID) {
		return Endpoint{}, invalid("id", "must be 1 to 63 of A-Za-z0-9_-")
	}
	if sec != "" {
		if err := CheckSecret(sec); err != nil {
			return Endpoint{}, err
		}
	}
	if err := c.check(ctx, &e); err != nil {
		return Endpoint{}, err
	}
	if e.ID == "" {
		if err := c.endpoints.sync(ctx); err != nil {
			return Endpoint{}, err
		}
		var same []stored
		eachDecoded(c.endpoints, decodeJSON[stored], func(s stored) {
			if s.URL == e.URL && s.Tenant == e.Tenant {
				same = append(same, s)
			}
		})
		if len(same) > 0 {
			slices.SortFunc(same, byCreation)
			e.ID = same[0].ID
		} else {
			e.ID = "ep_" + nuid.Next()
		}
	}
	var out Endpoint
	err := update(ctx, c.cfg.Endpoints, e.ID, func(cur []byte) ([]byte, error) {
		now := c.now()
		s := stored{Endpoint: e, Secret: sec}
		s.CreatedAt, s.UpdatedAt = now, now
		var old *stored
		if cur != nil {
			o, err := decodeJSON[stored](cur)
			if err != nil {
				return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
			}
			old = &o
			if old.Tenant != e.Tenant {
				return nil, invalid("tenant", "cannot change: endpoint %s %s", e.ID, belongsTo(old.Tenant))
			}
			s.CreatedAt = old.CreatedAt
			s.Secret, s.OldSecrets = old.Secret, old.OldSecrets
			if !old.Disabled || s.Disabled {
				// Enabling again starts afresh.
				s.FailingSince, s.FailingAlerted, s.FailingError = old.FailingSince, old.FailingAlerted, old.FailingError
			}
			if sec != "" && sec != old.Secret {
				s.rotate(sec, now, c.cfg.SecretGrace)
			}
		}
		if s.Secret == "" {
			s.Secret = secret.New()
		}
		if err := s.setAuth(e.Auth, old); err != nil {
			return nil, err
		}
		out = s.Endpoint
		b, err := json.Marshal(s)
		if err == nil && len(b) > MaxEndpointBytes {
			return nil, invalid("endpoint", "takes %d bytes as stored, more than %d: its headers, metadata, description, event types, channels and client certificate add up to too much", len(b), MaxEndpointBytes)
		}
		return b, err
	})
	if err != nil {
		return Endpoint{}, err
	}
	return out, nil
}

// MaxEndpointBytes is the most an endpoint may take as put (JSON, its
// secrets and key material included; a later rotation adds a secret): far
// more than any endpoint needs, and little enough that one fits the
// server's default max payload (1 MiB) with room to spare and a listing's
// reply holds a few.
const MaxEndpointBytes = 256 << 10

// belongsTo says whose an endpoint of tenant is.
func belongsTo(tenant string) string {
	if tenant == "" {
		return "has no tenant"
	}
	return fmt.Sprintf("belongs to tenant %q", tenant)
}

// MaxOldSecrets is the most rotated-out secrets that sign beside the
// current one: a rotation drops the oldest beyond it, so that however often
// an endpoint is rotated, a request carries at most 1+MaxOldSecrets
// signatures.
const MaxOldSecrets = 2

// rotate makes sec the current secret; the current one keeps signing until
// now+grace, and old ones past their time, or beyond the MaxOldSecrets most
// recent, are dropped.
func (s *stored) rotate(sec string, now time.Time, grace time.Duration) {
	kept := s.OldSecrets[:0:0]
	for _, o := range s.OldSecrets {
		if o.Until.After(now) && o.Secret != sec {
			kept = append(kept, o)
		}
	}
	if s.Secret != "" {
		kept = append(kept, oldSecret{Secret: s.Secret, Until: now.Add(grace)})
	}
	if len(kept) > MaxOldSecrets {
		kept = kept[len(kept)-MaxOldSecrets:] // oldest first
	}
	s.Secret, s.OldSecrets = sec, kept
}

// byCreation orders stored endpoints as creationOrder does.
func byCreation(a, b stored) int { return creationOrder(a.Endpoint, b.Endpoint) }

// creationOrder orders endpoints by creation, then by id.
func creationOrder(a, b Endpoint) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// get reads an endpoint with its secrets from the bucket.
func (c *Catalog) get(ctx context.Context, id string) (stored, uint64, error) {
	if !ValidEndpointID(id) {
		return stored{}, 0, invalid("id", "must be 1 to 63 of A-Za-z0-9_-")
	}
	return readJSON[stored](ctx, c.cfg.Endpoints, "endpoint", id)
}

// Endpoint returns the endpoint id, read from the bucket.
func (c *Catalog) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	s, _, err := c.get(ctx, id)
	return s.Endpoint, err
}

// Lookup returns the endpoint id from the catalog's mirror of the bucket,
// without a request: cheap, and as recent as the watch that feeds it.
func (c *Catalog) Lookup(id string) (Endpoint, bool) {
	s, ok := getDecoded(c.endpoints, id, decodeJSON[stored])
	return s.Endpoint, ok
}

// Secret returns the current signing secret of endpoint id.
func (c *Catalog) Secret(ctx context.Context, id string) (string, error) {
	s, _, err := c.get(ctx, id)
	return s.Secret, err
}

// SigningSecrets returns the secrets a request to endpoint id is signed
// with at now: the current one first, then those rotated out less than the
// grace period before.
func (c *Catalog) SigningSecrets(ctx context.Context, id string, now time.Time) ([]string, error) {
	s, _, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.signing(now), nil
}

// Rotate gives endpoint id a new current secret (sec, or a generated one
// when empty); the one it replaces keeps signing for the grace period, and
// so do at most MaxOldSecrets-1 rotated out before it.
func (c *Catalog) Rotate(ctx context.Context, id, sec string) error {
	if sec != "" {
		if err := CheckSecret(sec); err != nil {
			return err
		}
	} else {
		sec = secret.New()
	}
	return c.change(ctx, id, func(s *stored) {
		s.rotate(sec, c.now(), c.cfg.SecretGrace)
	})
}

// change applies fn to the stored endpoint id with a compare-and-set.
func (c *Catalog) change(ctx context.Context, id string, fn func(*stored)) error {
	if _, _, err := c.get(ctx, id); err != nil {
		return err
	}
	return update(ctx, c.cfg.Endpoints, id, func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, notFound("endpoint", id)
		}
		s, err := decodeJSON[stored](cur)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", id, err)
		}
		fn(&s)
		s.UpdatedAt = c.now()
		return json.Marshal(s)
	})
}

// DeleteEndpoint removes endpoint id and its secrets.
func (c *Catalog) DeleteEndpoint(ctx context.Context, id string) error {
	if _, _, err := c.get(ctx, id); err != nil {
		return err
	}
	if err := c.cfg.Endpoints.Purge(ctx, id); err != nil {
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	return nil
}

// Disabled is the operational event Disable publishes on DisabledSubject.
type Disabled struct {
	// Endpoint is the endpoint's id.
	Endpoint string `json:"endpoint"`
	// Reason says why it was disabled.
	Reason string `json:"reason"`
	// At is when.
	At time.Time `json:"at"`
}

// Disable disables endpoint id with reason and publishes a Disabled event
// on DisabledSubject. An endpoint disabled already keeps its first reason
// and publishes nothing.
func (c *Catalog) Disable(ctx context.Context, id, reason string) error {
	at := c.now()
	was := false
	err := c.change(ctx, id, func(s *stored) {
		was = s.Disabled
		if !s.Disabled {
			s.Disabled, s.DisabledReason = true, reason
		}
	})
	if err != nil || was || c.cfg.Conn == nil {
		return err
	}
	body, err := json.Marshal(Disabled{Endpoint: id, Reason: reason, At: at})
	if err != nil {
		return err
	}
	if err := c.cfg.Conn.Publish(DisabledSubject, body); err != nil {
		return fmt.Errorf("publish endpoint %s disabled: %w", id, err)
	}
	return nil
}

// Matching returns the enabled endpoints an event of tenant ("" for the
// operator's own), of type typ, sent on channel ("" for none) goes to, by
// creation. It sees every endpoint change made before it was called.
func (c *Catalog) Matching(ctx context.Context, tenant, typ, channel string) ([]Endpoint, error) {
	if err := c.endpoints.sync(ctx); err != nil {
		return nil, err
	}
	var out []Endpoint
	eachDecoded(c.endpoints, decodeJSON[stored], func(s stored) {
		if !s.Disabled && s.Wants(tenant, typ, channel) {
			out = append(out, s.Endpoint)
		}
	})
	slices.SortFunc(out, creationOrder)
	return out, nil
}

// Wants reports whether the endpoint takes an event of tenant ("" for the
// operator's own), of type typ, sent on channel ("" for none): the event's
// tenant is the endpoint's (an event without one reaches only endpoints
// without one, never a tenant's), its type is one of EventTypes (or there
// are none), and its channel one of Channels (or there are none; an event
// without a channel reaches only endpoints without channels). Matching and
// a resend apply this one rule.
func (e Endpoint) Wants(tenant, typ, channel string) bool {
	return e.Tenant == tenant && e.receives(typ) && e.listens(channel, true)
}

// receives reports whether the endpoint takes events of typ.
func (e Endpoint) receives(typ string) bool {
	return len(e.EventTypes) == 0 || slices.Contains(e.EventTypes, typ)
}

// listens reports whether the endpoint takes events on channel. An event
// without a channel reaches only endpoints without channels when strict.
func (e Endpoint) listens(channel string, strict bool) bool {
	if len(e.Channels) == 0 {
		return true
	}
	if channel == "" {
		return !strict
	}
	return slices.Contains(e.Channels, channel)
}
