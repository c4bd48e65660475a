// Package client is hookworker's API as Go methods: event types, endpoints
// and their secrets, events, tenants, and plain jobs with their results. It talks to
// any running hookworker over a NATS connection; the workers answer the API
// as the NATS micro service "hookworker".
//
// Errors the API answers are *Error values: errors.Is(err, ErrNotFound) for
// an unknown or archived name or id, errors.Is(err, ErrBadRequest) for a
// request the API refused (Error.Field names the field at fault).
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/job"
)

// Defaults of a Client.
const (
	// DefaultPrefix is the API's subject prefix.
	DefaultPrefix = "hooks.api"
	// DefaultTimeout bounds one API request that has no deadline.
	DefaultTimeout = 10 * time.Second
	// DefaultJobSubject is where Publish publishes jobs.
	DefaultJobSubject = "hooks.send"
	// DefaultResultSubject is where results are published.
	DefaultResultSubject = "hooks.result"
	// DefaultResultStream keeps the results.
	DefaultResultStream = "HOOKS_RESULTS"
)

// Client calls the API over a NATS connection. It is safe for concurrent
// use.
type Client struct {
	nc            *nats.Conn
	prefix        string
	timeout       time.Duration
	jobSubject    string
	resultSubject string
	resultStream  string
	lookback      time.Duration
}

// Option changes a Client's defaults.
type Option func(*Client)

// WithPrefix sets the API's subject prefix (HOOKWORKER_API_PREFIX);
// default hooks.api.
func WithPrefix(prefix string) Option { return func(c *Client) { c.prefix = prefix } }

// WithTimeout bounds each API request whose context has no deadline;
// default 10s.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithJobSubjects sets the job subject, the result subject and the result
// stream Publish and Wait use (HOOKWORKER_SUBJECT, _RESULT_SUBJECT,
// _RESULT_STREAM); defaults hooks.send, hooks.result, HOOKS_RESULTS.
func WithJobSubjects(job, result, resultStream string) Option {
	return func(c *Client) { c.jobSubject, c.resultSubject, c.resultStream = job, result, resultStream }
}

// WithWaitLookback sets how far back Wait looks for a result stored before
// it was called; default 10 minutes.
func WithWaitLookback(d time.Duration) Option { return func(c *Client) { c.lookback = d } }

// New returns a Client over nc.
func New(nc *nats.Conn, opts ...Option) *Client {
	c := &Client{nc: nc, prefix: DefaultPrefix, timeout: DefaultTimeout, jobSubject: DefaultJobSubject,
		resultSubject: DefaultResultSubject, resultStream: DefaultResultStream, lookback: 10 * time.Minute}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Sentinels for errors.Is on an *Error.
var (
	// ErrNotFound matches an *Error with code 404: an unknown or archived
	// name or id.
	ErrNotFound = errors.New("not found")
	// ErrBadRequest matches an *Error with code 400: the request was
	// refused and changed nothing.
	ErrBadRequest = errors.New("bad request")
)

// Violation is one way an event's payload breaks its type's schema.
type Violation struct {
	// Pointer is the JSON pointer of the offending value ("" is the whole
	// payload).
	Pointer string `json:"pointer"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

// Error is an error the API answered.
type Error struct {
	// Code is 400, 404 or 500.
	Code int `json:"code"`
	// Description says what went wrong.
	Description string `json:"description"`
	// Field names the request field at fault (400 only).
	Field string `json:"field,omitempty"`
	// Violations list the schema violations of a payload (400 only).
	Violations []Violation `json:"violations,omitempty"`
}

// Error returns the code and the description.
func (e *Error) Error() string { return fmt.Sprintf("hookworker api: %d %s", e.Code, e.Description) }

// Is matches ErrNotFound for code 404 and ErrBadRequest for code 400.
func (e *Error) Is(target error) bool {
	return (target == ErrNotFound && e.Code == 404) || (target == ErrBadRequest && e.Code == 400)
}

// call sends req as JSON to <prefix>.<verb> and decodes the reply into out
// (which may be nil).
func (c *Client) call(ctx context.Context, verb string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("hookworker api %s: %w", verb, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	rmsg := &nats.Msg{Subject: c.prefix + "." + verb, Data: body}
	natstrace.Inject(ctx, rmsg) // events.send passes it on to the event
	msg, err := c.nc.RequestMsgWithContext(ctx, rmsg)
	if err != nil {
		return fmt.Errorf("hookworker api %s: %w", verb, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		e := &Error{}
		if json.Unmarshal(msg.Data, e) != nil || e.Code == 0 {
			e.Code, _ = strconv.Atoi(code)
			e.Description = msg.Header.Get(micro.ErrorHeader)
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("hookworker api %s: decode reply: %w", verb, err)
	}
	return nil
}

// EventType is a kind of event, with the JSON Schema its payloads must
// satisfy.
type EventType struct {
	// Name is two or more dot-separated tokens (order.created).
	Name string `json:"name"`
	// Description says what the event means.
	Description string `json:"description"`
	// Schema is the payload's JSON Schema (2020-12 unless its $schema
	// names a draft); nil accepts every payload.
	Schema json.RawMessage `json:"schema"`
	// Archived types accept no event and are listed only on request.
	Archived bool `json:"archived"`
	// CreatedAt and UpdatedAt are set by the API.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutEventType creates or updates (and unarchives) the event type t.Name.
func (c *Client) PutEventType(ctx context.Context, t EventType) (EventType, error) {
	var out EventType
	err := c.call(ctx, "event_types.put", struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema,omitempty"`
	}{t.Name, t.Description, t.Schema}, &out)
	return out, err
}

// EventType returns the event type name.
func (c *Client) EventType(ctx context.Context, name string) (EventType, error) {
	var out EventType
	err := c.call(ctx, "event_types.get", map[string]string{"name": name}, &out)
	return out, err
}

// EventTypes lists the event types by name, the archived ones too with
// includeArchived: every one of them, read page after page.
func (c *Client) EventTypes(ctx context.Context, includeArchived bool) ([]EventType, error) {
	out := []EventType{}
	for t, err := range c.AllEventTypes(ctx, includeArchived) {
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// AllEventTypes yields the event types by name, the archived ones too with
// includeArchived, page after page (the API answers as many as fit in one
// message); it stops at the first error, which it yields.
func (c *Client) AllEventTypes(ctx context.Context, includeArchived bool) iter.Seq2[EventType, error] {
	return func(yield func(EventType, error) bool) {
		q := struct {
			IncludeArchived bool   `json:"include_archived,omitempty"`
			Iterator        string `json:"iterator,omitempty"`
		}{IncludeArchived: includeArchived}
		for {
			var page struct {
				EventTypes []EventType `json:"event_types"`
				Iterator   string      `json:"iterator"`
				Done       bool        `json:"done"`
			}
			if err := c.call(ctx, "event_types.list", q, &page); err != nil {
				yield(EventType{}, err)
				return
			}
			for _, t := range page.EventTypes {
				if !yield(t, nil) {
					return
				}
			}
			if page.Done || page.Iterator == "" {
				return
			}
			q.Iterator = page.Iterator
		}
	}
}

// DeleteEventType archives the event type name: no event of it is
// accepted any more.
func (c *Client) DeleteEventType(ctx context.Context, name string) error {
	return c.call(ctx, "event_types.delete", map[string]string{"name": name}, nil)
}

// Endpoint is where a receiver gets the events it subscribed to.
type Endpoint struct {
	// ID is given or generated (ep_…); 1 to 63 of A-Za-z0-9_-.
	ID string `json:"id,omitempty"`
	// URL is the destination (required).
	URL string `json:"url"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// EventTypes it receives; empty: every type.
	EventTypes []string `json:"event_types,omitempty"`
	// Channels it listens to; empty: every event.
	Channels []string `json:"channels,omitempty"`
	// Metadata is any JSON object.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Headers are extra request headers.
	Headers map[string]string `json:"headers,omitempty"`
	// Tenant is the tenant the endpoint belongs to ("" for the operator's
	// own): it receives that tenant's events only. It is set when the
	// endpoint is created and cannot change.
	Tenant string `json:"tenant,omitempty"`
	// RateLimit is the most requests per second the endpoint receives,
	// across every worker; 0 is no limit.
	RateLimit int `json:"rate_limit,omitempty"`
	// Ordered endpoints receive events in the order they were stored.
	Ordered bool `json:"ordered,omitempty"`
	// RetrySchedule is the wait before each retry of a delivery to the
	// endpoint, in place of the worker's; empty: the worker's.
	RetrySchedule []job.Duration `json:"retry_schedule,omitempty"`
	// Timeout is the per-attempt timeout of a delivery to the endpoint,
	// at most the worker's (a longer one is cut to it); zero: the
	// worker's.
	Timeout job.Duration `json:"timeout,omitempty"`
	// Auth is how the workers authenticate to the receiver; nil: not at
	// all. The API never sends back its Key or ClientSecret.
	Auth *EndpointAuth `json:"auth,omitempty"`
	// Disabled endpoints receive nothing; DisabledReason says why.
	Disabled       bool   `json:"disabled"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// CreatedAt and UpdatedAt are set by the API.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// The auth types of an EndpointAuth.
const (
	// AuthMTLS presents a client certificate (Cert and Key).
	AuthMTLS = "mtls"
	// AuthOAuth2 sends a bearer token got with OAuth2 client credentials
	// (TokenURL, ClientID, ClientSecret, Scopes), cached until it expires.
	AuthOAuth2 = "oauth2"
)

// EndpointAuth is how the workers authenticate to an endpoint's receiver.
// Key and ClientSecret are write-only: give them in a put, and the API
// keeps them; an update of the same type without them keeps the ones
// given before.
type EndpointAuth struct {
	// Type is AuthMTLS or AuthOAuth2.
	Type string `json:"type"`
	// Cert and Key are the client certificate chain and its private key,
	// PEM (mtls).
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// TokenURL, ClientID, ClientSecret and Scopes are the client
	// credentials grant (oauth2).
	TokenURL     string   `json:"token_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// PutEndpoint creates or updates an endpoint. Without an ID, the endpoint
// that has e.URL already is updated, else one is created. secret ("" for
// none) sets its signing secret; a new endpoint without one gets a
// generated secret (see Secret).
func (c *Client) PutEndpoint(ctx context.Context, e Endpoint, secret string) (Endpoint, error) {
	var out Endpoint
	err := c.call(ctx, "endpoints.put", struct {
		Endpoint
		Secret string `json:"secret,omitempty"`
	}{e, secret}, &out)
	return out, err
}

// Endpoint returns the endpoint id.
func (c *Client) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	var out Endpoint
	err := c.call(ctx, "endpoints.get", map[string]string{"id": id}, &out)
	return out, err
}

// EndpointQuery selects and pages endpoints.
type EndpointQuery struct {
	// EventType keeps the endpoints that receive it.
	EventType string `json:"event_type,omitempty"`
	// Channel keeps the endpoints listening to it or to every channel.
	Channel string `json:"channel,omitempty"`
	// Tenant keeps the endpoints of this tenant.
	Tenant string `json:"tenant,omitempty"`
	// Order is "asc" or "desc" (default) by creation.
	Order string `json:"order,omitempty"`
	// Limit is the page size: default 50, at most 1000.
	Limit int `json:"limit,omitempty"`
	// Iterator continues after the page that returned it.
	Iterator string `json:"iterator,omitempty"`
}

// EndpointPage is one page of endpoints.
type EndpointPage struct {
	// Endpoints are the page's endpoints.
	Endpoints []Endpoint `json:"endpoints"`
	// Iterator continues the listing; empty when Done.
	Iterator string `json:"iterator"`
	// Done is true on the last page.
	Done bool `json:"done"`
}

// Endpoints returns one page of the endpoints q selects.
func (c *Client) Endpoints(ctx context.Context, q EndpointQuery) (EndpointPage, error) {
	var out EndpointPage
	err := c.call(ctx, "endpoints.list", q, &out)
	return out, err
}

// AllEndpoints yields every endpoint q selects, page after page, starting
// at q.Iterator; it stops at the first error, which it yields.
func (c *Client) AllEndpoints(ctx context.Context, q EndpointQuery) iter.Seq2[Endpoint, error] {
	return func(yield func(Endpoint, error) bool) {
		for {
			page, err := c.Endpoints(ctx, q)
			if err != nil {
				yield(Endpoint{}, err)
				return
			}
			for _, e := range page.Endpoints {
				if !yield(e, nil) {
					return
				}
			}
			if page.Done || page.Iterator == "" {
				return
			}
			q.Iterator = page.Iterator
		}
	}
}

// Secret returns the current signing secret of endpoint id.
func (c *Client) Secret(ctx context.Context, id string) (string, error) {
	var out struct {
		Secret string `json:"secret"`
	}
	err := c.call(ctx, "endpoints.secret", map[string]string{"id": id}, &out)
	return out.Secret, err
}

// Rotate gives endpoint id a new signing secret (secret, or a generated
// one when ""); the old one keeps signing for the grace period.
func (c *Client) Rotate(ctx context.Context, id, secret string) error {
	return c.call(ctx, "endpoints.rotate", struct {
		ID     string `json:"id"`
		Secret string `json:"secret,omitempty"`
	}{id, secret}, nil)
}

// DeleteEndpoint deletes endpoint id.
func (c *Client) DeleteEndpoint(ctx context.Context, id string) error {
	return c.call(ctx, "endpoints.delete", map[string]string{"id": id}, nil)
}

// Event is an event to send.
type Event struct {
	// ID is the idempotency key (1 to 64 of A-Za-z0-9_-); empty: generated.
	ID string `json:"id,omitempty"`
	// Type names an existing, unarchived event type.
	Type string `json:"type"`
	// Channel, when set, reaches the endpoints listening to it (and those
	// listening to every channel).
	Channel string `json:"channel,omitempty"`
	// Payload must satisfy the type's schema.
	Payload json.RawMessage `json:"payload"`
	// Tenant, when set, names an existing tenant: the event reaches that
	// tenant's endpoints only. Without one it reaches only the endpoints
	// without a tenant.
	Tenant string `json:"tenant,omitempty"`
}

// Sent is what SendEvent reports.
type Sent struct {
	// ID is the event's id (the first copy's, for a repeat).
	ID string `json:"id"`
	// Timestamp is when the event was first sent.
	Timestamp time.Time `json:"timestamp"`
	// Endpoints is how many endpoints it goes to.
	Endpoints int `json:"endpoints"`
	// Duplicate is true when an event with this id was sent before: this
	// copy was dropped, whatever its type, channel or payload, and Sent
	// reports the first copy.
	Duplicate bool `json:"duplicate,omitempty"`
}

// SendEvent checks e against its type and stores it; hookworker then
// delivers it to every endpoint that listens. Sending the same id again
// stores nothing new and reports the first copy, with Duplicate set. When
// ctx carries an OpenTelemetry span, the stored event carries its
// traceparent, so that a worker that traces continues the trace through
// the event's fan-out and each of its jobs.
func (c *Client) SendEvent(ctx context.Context, e Event) (Sent, error) {
	var out Sent
	err := c.call(ctx, "events.send", e, &out)
	return out, err
}
