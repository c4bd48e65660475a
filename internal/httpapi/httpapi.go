// Package httpapi serves hookworker's API over HTTP/JSON under /api/v1: the
// same operations as the NATS API (package api), each route mapping its
// path, query and body to one operation's JSON request and answering with
// the operation's JSON reply, or its error as
// {"error": {"code", "message", "field"?, "violations"?}} with that status.
//
// Every route but /api/v1/openapi.json takes Authorization: Bearer and an
// operator key or a tenant token (package auth); the operations decide what
// the caller may do. Bodies are limited to MaxBody bytes (413), replies
// that hold a secret are marked Cache-Control: no-store, CORS is answered
// for the configured origins only, and the access log names the route, the
// status and the caller's kind, never a credential.
package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/catalog"
)

// Prefix starts every route.
const Prefix = "/api/v1"

// MaxBody is the largest request body accepted, in bytes; a larger one is
// answered 413.
const MaxBody = 1 << 20

// Server timeouts (see NewServer).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	// WriteTimeout bounds the writing of one reply; the attempt stream,
	// which never ends on its own, lifts it.
	WriteTimeout = 60 * time.Second
)

// DefaultHeartbeat is how often the attempt stream sends a comment when
// it has nothing else to send, so that proxies and clients keep it open.
const DefaultHeartbeat = 15 * time.Second

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the routes, as served at
// /api/v1/openapi.json.
func OpenAPI() []byte { return slices.Clone(openAPI) }

// Operations are what the routes call: package api's Service.
type Operations interface {
	// Call runs an operation for the principal in ctx.
	Call(ctx context.Context, name string, data []byte) (any, error)
	// Watch streams new attempt records the principal in ctx may see.
	Watch(ctx context.Context, endpoint string) (<-chan attempt.Record, error)
}

var _ Operations = (*api.Service)(nil)

// Config is what a Handler is built from.
type Config struct {
	// API runs the operations.
	API Operations
	// Auth authenticates callers; its CORSOrigins are the origins
	// browsers may call from (none: CORS off).
	Auth auth.Settings
	// Logger receives the access log and failed requests; nil discards.
	Logger *slog.Logger
	// Timeout bounds one operation; 0 means 30s.
	Timeout time.Duration
	// Heartbeat is the attempt stream's heartbeat; 0 means
	// DefaultHeartbeat.
	Heartbeat time.Duration
}

// Handler serves the routes under Prefix.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the handler of the HTTP API.
func New(cfg Config) (*Handler, error) {
	if cfg.API == nil {
		return nil, errors.New("httpapi: the API is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	for _, rt := range routes {
		h.mux.Handle(rt.method+" "+Prefix+rt.path, h.operation(rt))
	}
	h.mux.HandleFunc("GET "+Prefix+"/attempts/stream", h.stream)
	h.mux.HandleFunc("GET "+Prefix+"/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	return h, nil
}

// NewServer returns an HTTP server of h (or of a mux that holds it) with
// the API's timeouts set: a slow client cannot hold a connection open.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// route is one route: a method and a path under Prefix, whose {wildcards}
// are named as the request fields they fill, and the operation it calls.
type route struct {
	method, path string
	op           string
	// body says that the request body's fields go in the request.
	body bool
	// query are the query parameters it takes, each with its kind.
	query map[string]kind
	// secret says that the reply holds a secret or a credential.
	secret bool
}

// kind is the JSON kind a query parameter is passed on as.
type kind int

const (
	text kind = iota
	integer
	boolean
)

// routes are the API's routes but the attempt stream and the document.
var routes = []route{
	{method: "GET", path: "/tenants", op: "tenants.list", query: map[string]kind{"limit": integer, "iterator": text}},
	{method: "PUT", path: "/tenants/{id}", op: "tenants.put", body: true},
	{method: "GET", path: "/tenants/{id}", op: "tenants.get"},
	{method: "DELETE", path: "/tenants/{id}", op: "tenants.delete"},
	{method: "POST", path: "/tenants/{id}/token", op: "tenants.token", body: true, secret: true},

	{method: "GET", path: "/event-types", op: "event_types.list", query: map[string]kind{"include_archived": boolean, "iterator": text}},
	{method: "PUT", path: "/event-types/{name}", op: "event_types.put", body: true},
	{method: "GET", path: "/event-types/{name}", op: "event_types.get"},
	{method: "DELETE", path: "/event-types/{name}", op: "event_types.delete"},

	{method: "GET", path: "/endpoints", op: "endpoints.list", query: map[string]kind{
		"tenant": text, "event_type": text, "channel": text, "order": text, "limit": integer, "iterator": text}},
	{method: "POST", path: "/endpoints", op: "endpoints.put", body: true},
	{method: "GET", path: "/endpoints/{id}", op: "endpoints.get"},
	{method: "PATCH", path: "/endpoints/{id}", op: "endpoints.patch", body: true},
	{method: "DELETE", path: "/endpoints/{id}", op: "endpoints.delete"},
	{method: "GET", path: "/endpoints/{id}/secret", op: "endpoints.secret", secret: true},
	{method: "POST", path: "/endpoints/{id}/rotate", op: "endpoints.rotate", body: true},
	{method: "POST", path: "/endpoints/{id}/recover", op: "endpoints.recover", body: true},
	{method: "POST", path: "/endpoints/{id}/test", op: "endpoints.test", body: true},
	{method: "GET", path: "/endpoints/{id}/stats", op: "endpoints.stats", query: map[string]kind{"since": text}},

	{method: "POST", path: "/events", op: "events.send", body: true},
	{method: "POST", path: "/events/{event_id}/resend", op: "events.resend", body: true},

	{method: "GET", path: "/attempts", op: "attempts.list", query: map[string]kind{
		"endpoint": text, "event_type": text, "channel": text, "event_id": text, "outcome": text,
		"before": text, "after": text, "limit": integer, "iterator": text, "tenant": text}},
}

// ServeHTTP answers a request: CORS, then the caller's credentials, then
// the route; every answer is logged.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	var p auth.Principal
	defer func() {
		if v := recover(); v != nil {
			h.cfg.Logger.Error("http api request panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, "internal error", "", nil)
			}
		}
		kind, tenant := "none", ""
		if p.IsOperator() {
			kind = "operator"
		} else if p.TenantID() != "" {
			kind, tenant = "tenant", p.TenantID()
		}
		h.cfg.Logger.Info("http api request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds(), "principal", kind, "tenant", tenant)
	}()
	if h.cors(rec, r) {
		return
	}
	if r.URL.Path == Prefix+"/openapi.json" {
		h.mux.ServeHTTP(rec, r)
		return
	}
	var err error
	p, err = h.cfg.Auth.Authenticate(r.Header.Get("Authorization"))
	if err != nil {
		rec.Header().Set("WWW-Authenticate", `Bearer realm="hookworker"`)
		writeError(rec, http.StatusUnauthorized, err.Error(), "", nil)
		return
	}
	if r.ContentLength > MaxBody {
		writeError(rec, http.StatusRequestEntityTooLarge, tooLarge, "", nil)
		return
	}
	r.Body = http.MaxBytesReader(rec, r.Body, MaxBody)
	r = r.WithContext(auth.With(r.Context(), p))
	if _, pattern := h.mux.Handler(r); pattern == "" {
		// No route: the mux's own answer (404, or 405 with Allow), as
		// JSON.
		probe := &probe{header: http.Header{}}
		h.mux.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" {
			rec.Header().Set("Allow", allow)
		}
		status := probe.status
		if status == 0 || status == http.StatusOK {
			status = http.StatusNotFound
		}
		writeError(rec, status, strings.ToLower(http.StatusText(status)), "", nil)
		return
	}
	h.mux.ServeHTTP(rec, r)
}

const tooLarge = "the request body is larger than 1 MiB"

// cors answers CORS for an allowed origin: its headers on every reply,
// and a preflight request in full (it returns true then). Without
// configured origins, or for another origin, it does nothing.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || len(h.cfg.Auth.CORSOrigins) == 0 {
		return false
	}
	w.Header().Add("Vary", "Origin")
	if !slices.Contains(h.cfg.Auth.CORSOrigins, "*") && !slices.Contains(h.cfg.Auth.CORSOrigins, strings.ToLower(origin)) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// operation returns the handler of rt: the request built from the path,
// query and body, the operation called, its reply or error written.
func (h *Handler) operation(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(WriteTimeout))
		if rt.secret {
			w.Header().Set("Cache-Control", "no-store")
		}
		data, err := rt.request(r)
		if err != nil {
			h.fail(w, r, rt.op, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
		defer cancel()
		// A request's traceparent goes on to what the operation publishes
		// (events.send's event), as it does over NATS.
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header))
		out, err := h.cfg.API.Call(ctx, rt.op, data)
		if err != nil {
			h.fail(w, r, rt.op, err)
			return
		}
		body, err := json.Marshal(out)
		if err != nil {
			h.fail(w, r, rt.op, fmt.Errorf("encode reply: %w", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
		_, _ = w.Write(append(body, '\n'))
	})
}

// fail writes the error reply of err: its status from api.Status, its
// message (a 500's is not shown, but logged), its field and violations.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, tooLarge, "", nil)
		return
	}
	status := api.Status(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		h.cfg.Logger.Error("http api request failed", "method", r.Method, "path", r.URL.Path, "operation", op, "error", err)
		msg = "internal error"
	}
	field, violations := api.Fault(err)
	writeError(w, status, msg, field, violations)
}

// ErrorReply is the body of every error reply.
type ErrorReply struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: Code is the HTTP status, Field the
// request field at fault in a 400, Violations a payload's schema
// violations.
type ErrorDetail struct {
	Code       int                 `json:"code"`
	Message    string              `json:"message"`
	Field      string              `json:"field,omitempty"`
	Violations []catalog.Violation `json:"violations,omitempty"`
}

// writeError writes an error reply.
func writeError(w http.ResponseWriter, status int, msg, field string, violations []catalog.Violation) {
	body, _ := json.Marshal(ErrorReply{ErrorDetail{Code: status, Message: msg, Field: field, Violations: violations}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.Header().Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// request returns the operation's JSON request of r: the body's fields
// (a JSON object; none when the route takes no body), the path's
// wildcards, which a body field of the same name must agree with, and the
// query's parameters, each given at most once; an unknown parameter is a
// bad request, not one ignored.
func (rt route) request(r *http.Request) ([]byte, error) {
	fields := map[string]json.RawMessage{}
	if rt.body {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(data)) > 0 {
			d := json.NewDecoder(bytes.NewReader(data))
			if err := d.Decode(&fields); err != nil {
				return nil, &catalog.InvalidError{Field: "request", Reason: "the body must be a JSON object: " + err.Error()}
			}
			if _, err := d.Token(); err != io.EOF {
				return nil, &catalog.InvalidError{Field: "request", Reason: "the body must be one JSON object"}
			}
			if fields == nil {
				fields = map[string]json.RawMessage{}
			}
		}
	}
	for _, name := range wildcards(rt.path) {
		v := r.PathValue(name)
		raw, _ := json.Marshal(v)
		if have, ok := fields[name]; ok {
			var s string
			if json.Unmarshal(have, &s) != nil || s != v {
				return nil, &catalog.InvalidError{Field: name, Reason: fmt.Sprintf("must be the path's, %q, or left out", v)}
			}
		}
		fields[name] = raw
	}
	for key, vals := range r.URL.Query() {
		k, ok := rt.query[key]
		switch {
		case !ok:
			return nil, &catalog.InvalidError{Field: key, Reason: "is not a query parameter of this route"}
		case len(vals) > 1:
			return nil, &catalog.InvalidError{Field: key, Reason: "must be given once"}
		case vals[0] == "":
			continue
		}
		var raw []byte
		switch k {
		case integer:
			n, err := strconv.Atoi(vals[0])
			if err != nil {
				return nil, &catalog.InvalidError{Field: key, Reason: "must be an integer"}
			}
			raw, _ = json.Marshal(n)
		case boolean:
			b, err := strconv.ParseBool(vals[0])
			if err != nil {
				return nil, &catalog.InvalidError{Field: key, Reason: "must be true or false"}
			}
			raw, _ = json.Marshal(b)
		default:
			raw, _ = json.Marshal(vals[0])
		}
		fields[key] = raw
	}
	return json.Marshal(fields)
}

// wildcards returns the names of path's {wildcards}.
func wildcards(path string) []string {
	var names []string
	for seg := range strings.SplitSeq(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(seg[1:], "}"))
		}
	}
	return names
}

// recorder keeps the status of a reply for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the writer beneath.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// probe takes the mux's answer to a request no route matches.
type probe struct {
	header http.Header
	status int
}

func (p *probe) Header() http.Header         { return p.header }
func (p *probe) Write(b []byte) (int, error) { return len(b), nil }
func (p *probe) WriteHeader(status int)      { p.status = status }
