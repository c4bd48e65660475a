// Package api is hookworker's event and endpoint API: event types,
// endpoints, their secrets, events.send, the delivery log, resend and
// recover, tenants and their tokens, each an operation that takes a JSON
// request and gives a JSON reply or a typed error.
//
// The operations do not know their transport. Start serves them as the
// NATS micro service "hookworker", on <prefix>.<group>.<verb> subjects,
// for the operator (whoever the NATS server lets in); the HTTP API calls
// the same operations through Call for the principal it authenticated.
// Who may do what is decided here, once, for both: Call refuses an
// operator-only operation to a tenant (auth.ErrForbidden), and the
// operations answer an object of another tenant as missing. Status maps
// every error to the code both transports answer with.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/build"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/internal/replay"
)

// ServiceName is the micro service's name.
const ServiceName = "hookworker"

// DefaultPrefix is the subject prefix of the API.
const DefaultPrefix = "hooks.api"

// Config is what a Service is built from.
type Config struct {
	// Prefix starts every API subject; empty means DefaultPrefix.
	Prefix string
	// Catalog holds the event types and endpoints.
	Catalog *catalog.Catalog
	// JetStream stores events on Events.
	JetStream jetstream.JetStream
	// Events is the event stream (HOOKS_EVENTS).
	Events jetstream.Stream
	// Timeout bounds the work of one request; 0 means 10s.
	Timeout time.Duration
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
	// Attempts reads the delivery log (attempts.list) and Replayer resends
	// events (events.resend, endpoints.recover); without them those
	// subjects are not served.
	Attempts *attempt.Log
	Replayer *replay.Replayer
	// Tokens mints tenant tokens (tenants.token); without it that subject
	// is not served.
	Tokens Minter
}

// Service is the running API.
type Service struct {
	svc micro.Service
	cfg Config
	ops map[string]endpoint // by name
}

// Start adds the service to nc and serves it until Stop.
func Start(nc *nats.Conn, cfg Config) (*Service, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Catalog == nil || cfg.JetStream == nil || cfg.Events == nil {
		return nil, errors.New("api: catalog, jetstream and event stream are required")
	}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     version(build.Version),
		Description: "hookworker event types, endpoints and events",
	})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Service{svc: svc, cfg: cfg, ops: map[string]endpoint{}}
	ops := append([]endpoint{
		{"event_types.put", s.putEventType},
		{"event_types.get", s.getEventType},
		{"event_types.list", s.listEventTypes},
		{"event_types.delete", s.deleteEventType},
		{"endpoints.put", s.putEndpoint},
		{"endpoints.get", s.getEndpoint},
		{"endpoints.patch", s.patchEndpoint},
		{"endpoints.list", s.listEndpoints},
		{"endpoints.secret", s.secret},
		{"endpoints.rotate", s.rotate},
		{"endpoints.delete", s.deleteEndpoint},
		{"events.send", s.sendEvent},
	}, append(s.logEndpoints(), s.tenantEndpoints()...)...)
	// Every operation is known before the first is served: a request
	// reads the map as soon as its subject is subscribed.
	for _, ep := range ops {
		s.ops[ep.subject] = ep
	}
	g := svc.AddGroup(cfg.Prefix)
	for _, ep := range ops {
		name := nonNameRE.ReplaceAllString(ep.subject, "_")
		if err := g.AddEndpoint(name, s.handler(ep.subject), micro.WithEndpointSubject(ep.subject)); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("api: endpoint %s: %w", ep.subject, err)
		}
	}
	// Answer requests from other connections as soon as Start returns.
	if err := nc.FlushTimeout(cfg.Timeout); err != nil && nc.IsConnected() {
		_ = svc.Stop()
		return nil, fmt.Errorf("api: %w", err)
	}
	return s, nil
}

// endpoint is one operation: its name, which is its subject after the
// prefix, and its function, which decodes the request, acts for the
// principal in the context and returns the reply.
type endpoint struct {
	subject string
	fn      func(context.Context, []byte) (any, error)
}

// ErrUnknownOperation is the error of Call for a name that is not an
// operation of the Service (a 404).
var ErrUnknownOperation = errors.New("unknown operation")

// tenantOperations are the operations a tenant may call, each on its own
// objects only; every other operation is the operator's alone. An
// operation added later is the operator's until it is listed here.
var tenantOperations = map[string]bool{
	"event_types.get":   true,
	"event_types.list":  true,
	"endpoints.put":     true,
	"endpoints.get":     true,
	"endpoints.list":    true,
	"endpoints.patch":   true,
	"endpoints.secret":  true,
	"endpoints.rotate":  true,
	"endpoints.delete":  true,
	"endpoints.recover": true,
	"endpoints.test":    true,
	"endpoints.stats":   true,
	"events.resend":     true,
	"attempts.list":     true,
	"attempts.watch":    true, // Watch, the HTTP API's stream of new records
}

// Call runs the operation name (a subject after the prefix, such as
// "endpoints.get") on the JSON request data, for the principal that ctx
// carries (see auth.With), and returns its reply, which encodes to the
// same JSON as the NATS API's. It is where the HTTP API enters.
//
// A ctx without a principal is an error wrapping auth.ErrUnauthenticated;
// a tenant calling an operation that is not one of its own, one wrapping
// auth.ErrForbidden. Objects of another tenant are, to a tenant, missing.
func (s *Service) Call(ctx context.Context, name string, data []byte) (any, error) {
	op, ok := s.ops[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownOperation, name)
	}
	if err := permit(ctx, name); err != nil {
		return nil, err
	}
	return op.fn(ctx, data)
}

// permit is the operation-level half of the one authorisation check: who
// may call operation name at all. The object-level half is principal's
// use in the operations.
func permit(ctx context.Context, name string) error {
	p, ok := auth.From(ctx)
	switch {
	case !ok:
		return auth.RequireOperator(ctx) // unauthenticated
	case p.IsOperator() || tenantOperations[name]:
		return nil
	}
	return auth.ErrForbidden
}

// Operations returns the names of the operations the Service serves, in
// no order.
func (s *Service) Operations() []string {
	names := make([]string, 0, len(s.ops))
	for name := range s.ops {
		names = append(names, name)
	}
	return names
}

// Status returns the status code an error of an operation is answered
// with, the same over both transports: 400 for a bad request, 401 for a
// caller not authenticated, 403 for one not allowed the operation, 404
// for a missing object (or one of another tenant) or operation, 500 for
// the rest.
func Status(err error) int {
	var ie *catalog.InvalidError
	var ae *auth.InvalidError
	switch {
	case errors.As(err, &ie), errors.As(err, &ae):
		return 400
	case errors.Is(err, auth.ErrUnauthenticated):
		return 401
	case errors.Is(err, auth.ErrForbidden):
		return 403
	case errors.Is(err, catalog.ErrNotFound), errors.Is(err, ErrUnknownOperation):
		return 404
	}
	return 500
}

// Stop stops serving.
func (s *Service) Stop() error {
	return s.svc.Stop()
}

var (
	// nonNameRE matches what a micro endpoint name may not hold.
	nonNameRE = regexp.MustCompile(`[^A-Za-z0-9]`)
	// semverRE matches a semantic version.
	semverRE = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
)

// version is v as a semantic version, which micro requires; "0.0.0-dev"
// when it is not one.
func version(v string) string {
	if v = strings.TrimPrefix(v, "v"); semverRE.MatchString(v) {
		return v
	}
	return "0.0.0-dev"
}

// handler turns operation subject into a micro handler: its value is the
// JSON reply, its error the error reply. A request is answered before its
// handler returns, as micro requires (it reads the reply's error for its
// stats once the handler returns); every subject has its own
// subscription, so requests to different subjects are handled at once,
// and every worker process serves the same queue group.
func (s *Service) handler(subject string) micro.HandlerFunc {
	return func(r micro.Request) {
		s.handle(r, subject)
	}
}

// handle answers one request, for the operator: the NATS server's own
// permissions decide who may publish on the API's subjects.
func (s *Service) handle(r micro.Request, subject string) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("api request panicked", "subject", subject, "panic", fmt.Sprint(p))
			_ = r.Error("500", "internal error", nil)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	ctx = auth.With(ctx, auth.Operator())
	// A request's traceparent goes on to what it publishes (events.send's
	// event), so that the caller's trace continues.
	ctx = natstrace.Extract(ctx, nats.Header(r.Headers()))
	limit := int(s.cfg.JetStream.Conn().MaxPayload())
	out, err := s.Call(ctx, subject, r.Data())
	if err != nil {
		code, desc, data := s.errorReply(subject, err, limit)
		_ = r.Error(code, desc, data)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		_ = r.Error("500", "encode reply", nil)
		return
	}
	if len(body) > limit {
		// A reply the server would drop would leave the requester waiting.
		code, desc, data := s.errorReply(subject, fmt.Errorf("the reply takes %d bytes, more than the server's max payload, %d", len(body), limit), limit)
		_ = r.Error(code, desc, data)
		return
	}
	_ = r.Respond(body)
}

// errorBody is the JSON an error reply carries, besides micro's headers.
type errorBody struct {
	Code        int                 `json:"code"`
	Description string              `json:"description"`
	Field       string              `json:"field,omitempty"`
	Violations  []catalog.Violation `json:"violations,omitempty"`
}

// Fault returns the request field a bad request (a 400) is at fault in,
// and the violations of a payload that breaks its schema; "" and nil for
// every other error.
func Fault(err error) (field string, violations []catalog.Violation) {
	var ie *catalog.InvalidError
	var ae *auth.InvalidError
	switch {
	case errors.As(err, &ie):
		return ie.Field, ie.Violations
	case errors.As(err, &ae):
		return ae.Field, nil
	}
	return "", nil
}

// maxErrorHeader is the most bytes of the description that an error
// reply's Nats-Service-Error header carries; the body carries more.
const maxErrorHeader = 4 << 10

// errorReply maps err to a status code, a description for the error header
// and a JSON body, which together fit in limit bytes, the server's max
// payload: the header's description is cut to maxErrorHeader (and to a
// quarter of limit), and the body drops its last violations, then cuts its
// description, until it fits.
func (s *Service) errorReply(subject string, err error, limit int) (string, string, []byte) {
	b := errorBody{Code: Status(err), Description: err.Error()}
	b.Field, b.Violations = Fault(err)
	if b.Code == 500 {
		s.cfg.Logger.Error("api request failed", "subject", subject, "error", err)
	}
	code := strconv.Itoa(b.Code)
	desc := cut(strings.NewReplacer("\r", " ", "\n", " ").Replace(b.Description), min(maxErrorHeader, limit/4))
	room := limit - len("NATS/1.0\r\n"+micro.ErrorCodeHeader+": "+code+"\r\n"+micro.ErrorHeader+": "+desc+"\r\n\r\n")
	data, _ := json.Marshal(b)
	for len(data) > room && len(b.Violations) > 0 {
		b.Violations = b.Violations[:len(b.Violations)-1]
		data, _ = json.Marshal(b)
	}
	for len(data) > room && b.Description != "" {
		b.Description = cut(b.Description, max(len(b.Description)-(len(data)-room), len(b.Description)/2))
		data, _ = json.Marshal(b)
	}
	if len(data) > room {
		data = nil
	}
	return code, desc, data
}

// cut returns s cut to at most n bytes, at a character boundary, ending
// with "…" when cut.
func cut(s string, n int) string {
	const ellipsis = "…"
	if len(s) <= n {
		return s
	}
	if n < len(ellipsis) {
		return ""
	}
	i := n - len(ellipsis)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ellipsis
}

// decode reads the JSON request data into v; an empty request is {}.
// Unknown keys are refused, so that a misspelt field is not ignored.
func decode(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var ie *catalog.InvalidError
		if errors.As(err, &ie) {
			return ie // a field that names itself, such as an endpoint's timeout
		}
		return &catalog.InvalidError{Field: "request", Reason: "must be a JSON object of the documented fields: " + err.Error()}
	}
	return nil
}

type nameRequest struct {
	Name string `json:"name"`
}

type idRequest struct {
	ID string `json:"id"`
}

type empty struct{}

func (s *Service) putEventType(ctx context.Context, data []byte) (any, error) {
	var req struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return s.cfg.Catalog.PutEventType(ctx, catalog.EventType{Name: req.Name, Description: req.Description, Schema: req.Schema})
}

func (s *Service) getEventType(ctx context.Context, data []byte) (any, error) {
	var req nameRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return s.cfg.Catalog.EventType(ctx, req.Name)
}

func (s *Service) listEventTypes(ctx context.Context, data []byte) (any, error) {
	var q catalog.TypeQuery
	if err := decode(data, &q); err != nil {
		return nil, err
	}
	return s.fitted(func(maxBytes int) (any, error) {
		q.MaxBytes = maxBytes
		return s.cfg.Catalog.ListEventTypes(ctx, q)
	})
}

func (s *Service) deleteEventType(ctx context.Context, data []byte) (any, error) {
	var req nameRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return empty{}, s.cfg.Catalog.ArchiveEventType(ctx, req.Name)
}

func (s *Service) putEndpoint(ctx context.Context, data []byte) (any, error) {
	var req struct {
		catalog.Endpoint
		Secret string `json:"secret"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return s.putEndpointFor(ctx, req.Endpoint, req.Secret)
}

// putEndpointFor creates or updates e for the caller: a tenant's endpoint
// is its own, whatever e says, and an id that names another tenant's
// endpoint is missing to it.
func (s *Service) putEndpointFor(ctx context.Context, e catalog.Endpoint, secret string) (catalog.Endpoint, error) {
	e.Tenant = ownTenant(ctx, e.Tenant)
	if !principal(ctx).IsOperator() && e.ID != "" {
		old, err := s.cfg.Catalog.Endpoint(ctx, e.ID)
		switch {
		case err == nil && old.Tenant != e.Tenant:
			return catalog.Endpoint{}, missingEndpoint(e.ID)
		case err != nil && !errors.Is(err, catalog.ErrNotFound):
			return catalog.Endpoint{}, err
		}
	}
	return s.cfg.Catalog.PutEndpoint(ctx, e, secret)
}

func (s *Service) getEndpoint(ctx context.Context, data []byte) (any, error) {
	var req idRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return s.endpointFor(ctx, req.ID)
}

func (s *Service) listEndpoints(ctx context.Context, data []byte) (any, error) {
	var q catalog.Query
	if err := decode(data, &q); err != nil {
		return nil, err
	}
	var ok bool
	if q.Tenant, ok = tenantFilter(ctx, q.Tenant); !ok {
		return catalog.Page{Endpoints: []catalog.Endpoint{}, Done: true}, nil
	}
	return s.fitted(func(maxBytes int) (any, error) {
		q.MaxBytes = maxBytes
		return s.cfg.Catalog.Endpoints(ctx, q)
	})
}

// ReplyRoom is what a listing's page (of the catalog, or of the delivery
// log) leaves of the server's max payload for the reply's headers.
const ReplyRoom = 4 << 10

// fitted runs list with the most a listing's page may take: the max payload
// of the server the connection is on now, less room for headers. A first
// item too large for that alone is listed again within the whole max
// payload, which a reply without headers (every reply but an error) may
// fill; an item too large for that too is the error, which names it.
func (s *Service) fitted(list func(maxBytes int) (any, error)) (any, error) {
	limit := int(s.cfg.JetStream.Conn().MaxPayload())
	out, err := list(max(limit-min(ReplyRoom, limit/2), 1))
	if errors.Is(err, catalog.ErrTooLarge) {
		out, err = list(max(limit, 1))
	}
	return out, err
}

func (s *Service) secret(ctx context.Context, data []byte) (any, error) {
	var req idRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if _, err := s.endpointFor(ctx, req.ID); err != nil {
		return nil, err
	}
	secret, err := s.cfg.Catalog.Secret(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	return struct {
		Secret string `json:"secret"`
	}{secret}, nil
}

func (s *Service) rotate(ctx context.Context, data []byte) (any, error) {
	var req struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if _, err := s.endpointFor(ctx, req.ID); err != nil {
		return nil, err
	}
	return empty{}, s.cfg.Catalog.Rotate(ctx, req.ID, req.Secret)
}

func (s *Service) deleteEndpoint(ctx context.Context, data []byte) (any, error) {
	var req idRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if _, err := s.endpointFor(ctx, req.ID); err != nil {
		return nil, err
	}
	return empty{}, s.cfg.Catalog.DeleteEndpoint(ctx, req.ID)
}
