// Package receiver is the receiving side of the webhooks hookworker sends:
// an http.Handler that takes each request through three steps.
//
//  1. Verify: the Standard Webhooks signature must match one of the
//     configured secrets (several during a rotation) and the timestamp must
//     lie within the tolerance, 5 minutes either way. A request that fails
//     is answered 403 and reaches no handler. Bodies are bounded (1 MiB by
//     default, 413 past it).
//  2. Dispatch: a webhook-id already handled is acknowledged without
//     running anything again (a Store remembers the ids; in memory by
//     default, a NATS key-value bucket for several replicas). The body, the
//     payload structure {"type", "timestamp", "data"}, is decoded and handed
//     to the function registered for its type with On, or to the Default.
//  3. Acknowledge: 204 when the handler returns nil or none wants the type,
//     500 when it returns an error (the sender retries, and the retry runs
//     the handler again), 422 when the error is marked Permanent (the sender
//     gives up).
//
// Register is the setup step before serving: it makes sure the endpoint
// exists through hookworker's API and returns the secret to verify with.
//
// Nothing the Receiver logs holds a signature, a secret or a body.
package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBodyBytes bounds a request body when no other bound is
// configured.
const DefaultMaxBodyBytes = 1 << 20

// Event is one verified webhook as a handler gets it.
type Event struct {
	// ID is the webhook-id header: the same on every retry of a delivery.
	ID string
	// Type is the payload's "type", e.g. "order.created"; empty when the
	// payload has none.
	Type string
	// Timestamp is the payload's "timestamp", when the event happened; zero
	// when the payload has none.
	Timestamp time.Time
	// Data is the payload's "data", raw: decode it with json.Unmarshal.
	// Nil when the payload has none.
	Data json.RawMessage
	// Header holds the request's headers.
	Header http.Header
}

// HandlerFunc handles one event. It returns nil when the event is handled,
// an error for the sender to retry the delivery, or an error wrapped by
// Permanent for it to give up. ctx is the request's context.
type HandlerFunc func(ctx context.Context, ev Event) error

// Config configures a Receiver.
type Config struct {
	// Secrets verify the signatures, each "whsec_" followed by base64 (see
	// NewVerifier). A
	// request verifies when any one matches: list the new secret and the
	// old one during a rotation. Required.
	Secrets []string
	// Tolerance is how far a request's timestamp may be from now, either
	// way. Defaults to 5m.
	Tolerance time.Duration
	// MaxBodyBytes bounds a request body; a larger one is answered 413.
	// Defaults to 1 MiB.
	MaxBodyBytes int64
	// Store remembers handled webhook ids. Defaults to a MemoryStore with
	// its defaults; use a KVStore when several replicas receive.
	Store Store
	// Logger gets one line per refused or failed request. Defaults to
	// discarding.
	Logger *slog.Logger
}

// Receiver is an http.Handler that verifies webhooks, dispatches them by
// type and acknowledges them. Register handlers with On and Default before
// serving; a Receiver is then safe for concurrent use.
type Receiver struct {
	// verifier is swapped whole by SetSecrets.
	verifier  atomic.Pointer[Verifier]
	tolerance time.Duration
	maxBody   int64
	store     Store
	log       *slog.Logger

	mu       sync.RWMutex
	handlers map[string]HandlerFunc
	fallback HandlerFunc
}

var _ http.Handler = (*Receiver)(nil)

// New returns a Receiver for cfg, with no handler registered. The error
// never contains a secret.
func New(cfg Config) (*Receiver, error) {
	v, err := NewVerifier(cfg.Secrets, cfg.Tolerance)
	if err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("receiver: negative MaxBodyBytes %d", cfg.MaxBodyBytes)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore(MemoryConfig{})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rc := &Receiver{tolerance: cfg.Tolerance, maxBody: cfg.MaxBodyBytes, store: cfg.Store, log: cfg.Logger, handlers: make(map[string]HandlerFunc)}
	rc.verifier.Store(v)
	return rc, nil
}

// SetSecrets replaces the secrets requests are verified with, for the
// requests that arrive from then on: after a rotation, list the new secret
// and the old one until the old one stops signing. It is safe to call
// while serving. The error never contains a secret; on error the secrets
// in use stay.
func (rc *Receiver) SetSecrets(secrets []string) error {
	v, err := NewVerifier(secrets, rc.tolerance)
	if err != nil {
		return err
	}
	rc.verifier.Store(v)
	return nil
}

// On registers fn for events of type eventType, replacing any registered
// before. It panics when fn is nil.
func (rc *Receiver) On(eventType string, fn HandlerFunc) {
	if fn == nil {
		panic("receiver: nil handler for " + eventType)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.handlers[eventType] = fn
}

// Default registers fn for the events no On handler wants; nil removes it.
// Without a default those events are acknowledged and ignored.
func (rc *Receiver) Default(fn HandlerFunc) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.fallback = fn
}

// handler returns the function registered for eventType, or nil.
func (rc *Receiver) handler(eventType string) HandlerFunc {
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	if fn, ok := rc.handlers[eventType]; ok {
		return fn
	}
	return rc.fallback
}

// permanentError marks an error the sender should not retry.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: a handler that returns it gets the
// delivery answered 422, and the sender does not retry. Permanent(nil) is
// nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// payload is the Standard Webhooks payload structure.
type payload struct {
	Type      string          `json:"type"`
	Timestamp *time.Time      `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Statuses a Receiver answers with besides 204, 403, 413 and 500.
const (
	// statusPermanent answers a handler's Permanent error.
	statusPermanent = http.StatusUnprocessableEntity
	// statusBusy answers a delivery whose id another one is handling: the
	// sender retries it later, when the first has finished.
	statusBusy = http.StatusServiceUnavailable
)

// busyRetryAfter is the Retry-After sent with statusBusy, in seconds.
const busyRetryAfter = "5"

// ServeHTTP verifies, dispatches and acknowledges one webhook.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed)
		return
	}
	id := r.Header.Get(HeaderID)
	log := rc.log.With("webhook_id", logID(id), "remote_addr", r.RemoteAddr)

	// 1. Verify.
	if r.ContentLength > rc.maxBody {
		log.Warn("webhook refused: body too large", "content_length", r.ContentLength, "max", rc.maxBody)
		reply(w, http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			log.Warn("webhook refused: body too large", "max", rc.maxBody)
			reply(w, http.StatusRequestEntityTooLarge)
			return
		}
		log.Warn("webhook refused: body unreadable", "error", err)
		reply(w, http.StatusBadRequest)
		return
	}
	if err := rc.verifier.Load().Verify(r.Header, body); err != nil {
		log.Warn("webhook refused: verification failed", "error", err)
		reply(w, http.StatusForbidden)
		return
	}

	// 2. Dispatch.
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		log.Warn("webhook refused: payload is not the webhook payload structure", "error", err)
		reply(w, http.StatusBadRequest)
		return
	}
	log = log.With("event_type", logID(p.Type))
	fn := rc.handler(p.Type)
	if fn == nil {
		log.Debug("webhook ignored: no handler for its type")
		reply(w, http.StatusNoContent)
		return
	}
	ctx := r.Context()
	claim, err := rc.store.Claim(ctx, id)
	if err != nil {
		log.Error("webhook not handled: claim failed", "error", err)
		reply(w, http.StatusInternalServerError)
		return
	}
	switch claim {
	case Handled:
		log.Debug("webhook ignored: already handled")
		reply(w, http.StatusNoContent)
		return
	case Busy:
		log.Info("webhook deferred: another delivery of it is being handled")
		w.Header().Set("Retry-After", busyRetryAfter)
		reply(w, statusBusy)
		return
	}
	ev := Event{ID: id, Type: p.Type, Data: p.Data, Header: r.Header}
	if p.Timestamp != nil {
		ev.Timestamp = *p.Timestamp
	}
	herr := run(ctx, fn, ev)

	// 3. Acknowledge. The store is told even when the sender has hung up.
	sctx := context.WithoutCancel(ctx)
	if herr == nil {
		if err := rc.store.Complete(sctx, id); err != nil {
			// The handler ran: answering an error would run it again.
			log.Error("webhook handled, but not recorded as handled", "error", err)
		}
		reply(w, http.StatusNoContent)
		return
	}
	if err := rc.store.Release(sctx, id); err != nil {
		log.Error("webhook claim not released", "error", err)
	}
	if _, ok := errors.AsType[permanentError](herr); ok {
		log.Warn("webhook handler failed permanently", "error", herr)
		reply(w, statusPermanent)
		return
	}
	log.Warn("webhook handler failed; the sender will retry", "error", herr)
	reply(w, http.StatusInternalServerError)
}

// run calls fn, turning a panic into an error.
func run(ctx context.Context, fn HandlerFunc, ev Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return fn(ctx, ev)
}

// reply answers with code and, unless it is 204, its status text.
func reply(w http.ResponseWriter, code int) {
	if code == http.StatusNoContent {
		w.WriteHeader(code)
		return
	}
	http.Error(w, http.StatusText(code), code)
}

// maxLogID bounds the bytes of a request's id or type that go into a log
// line: they are the sender's words, and a refused request's are anyone's.
const maxLogID = 128

func logID(s string) string {
	if len(s) > maxLogID {
		return s[:maxLogID] + "…"
	}
	return s
}
