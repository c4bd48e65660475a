// Package fanout turns each event on the event stream into one job per
// matching, enabled endpoint on the job subject.
//
// Every worker process runs the same durable consumer, so each event is
// fanned out by one of them. A job's id and Nats-Msg-Id are
// <event id>:<endpoint id>, and the event is acknowledged only after every
// job's publish is: a fan-out that stops half way is done again by another
// process, and the job stream drops the jobs published the first time. An
// event whose type is unknown or archived, whose payload breaks the type's
// schema, or whose tenant does not exist (one published straight on
// hooks.event.<type>.<id>), gets a rejected result and sends nothing. An
// event of a tenant goes to that tenant's endpoints only, one without a
// tenant to the endpoints without one.
package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/job"
)

// Suffix is appended to the worker's durable name to name the fan-out
// consumer.
const Suffix = "-fanout"

// Config is what a Fanout is built from.
type Config struct {
	// Durable is the consumer's name (<HOOKWORKER_DURABLE>-fanout).
	Durable string
	// JobSubject is where jobs are published: the endpoint subject
	// (hooks.send.endpoint, see bus.EndpointSubject).
	JobSubject string
	// ResultSubject is where rejected events' results go (hooks.result).
	ResultSubject string
	// AckWait is the consumer's AckWait: how long an event taken by a
	// process that stopped waits before another takes it. 0 means 30s.
	AckWait time.Duration
	// Concurrency bounds the events fanned out at once; 0 means 16.
	Concurrency int
	// Catalog checks events and finds their endpoints.
	Catalog *catalog.Catalog
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// TracerProvider, when set and not the OpenTelemetry no-op provider,
	// traces every fan-out: a consumer span, the child of the span a
	// traceparent header on the event's message names, whose trace
	// context every job of the event carries (so that each job's span
	// continues the event's trace) and a rejected result's trace_id. Nil
	// traces nothing.
	TracerProvider trace.TracerProvider
}

// Fanout is the fan-out consumer of one process.
type Fanout struct {
	cfg  Config
	js   jetstream.JetStream
	cons jetstream.Consumer
	// tracer starts the fan-outs' spans; nil when not tracing.
	tracer trace.Tracer
	// beforePublish, when set, runs before each job publish; an error
	// stops the fan-out of that event there, as if the process died.
	beforePublish func(jobID string) error
	// done is how far the events are fanned out (see waitEarlier).
	done progress
}

// New binds the durable consumer on the event stream, creating it when
// missing.
func New(ctx context.Context, js jetstream.JetStream, stream string, cfg Config) (*Fanout, error) {
	if cfg.Catalog == nil || cfg.Durable == "" || cfg.JobSubject == "" || cfg.ResultSubject == "" {
		return nil, errors.New("fanout: catalog, durable and subjects are required")
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cons, err := js.Consumer(ctx, stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable:       cfg.Durable,
			Description:   "hookworker event fan-out",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			FilterSubject: catalog.EventSubjectPrefix + ">",
		})
	}
	if err != nil {
		return nil, fmt.Errorf("fanout consumer %s on stream %s: %w", cfg.Durable, stream, err)
	}
	return &Fanout{cfg: cfg, js: js, cons: cons, done: newProgress(),
		tracer: natstrace.Tracer(cfg.TracerProvider, "github.com/hookworker/hookworker/internal/fanout")}, nil
}

// Run fans events out until ctx ends, then waits for the events in hand.
func (f *Fanout) Run(ctx context.Context) error {
	it, err := f.cons.Messages(jetstream.PullMaxMessages(f.cfg.Concurrency))
	if err != nil {
		return fmt.Errorf("fanout: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	sem := make(chan struct{}, f.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fanout: %w", err)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f.handle(context.WithoutCancel(ctx), msg)
		})
	}
}

// handle fans one event out and settles it.
func (f *Fanout) handle(ctx context.Context, msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.AckWait)
	defer cancel()
	if f.tracer == nil {
		disp := f.decide(ctx, msg)
		f.settle(ctx, msg, disp)
		f.finished(msg, disp)
		return
	}
	ctx, span := f.startSpan(ctx, msg)
	disp := f.decide(ctx, msg)
	f.settle(ctx, msg, disp)
	f.finished(msg, disp)
	endSpan(span, &disp)
}

// decide fans the event of msg out and returns its disposition: fanned out
// when every job is stored, refused when the event is invalid, handed back
// when something failed that may work later (a panic included).
func (f *Fanout) decide(ctx context.Context, msg jetstream.Msg) (disp disposition) {
	var ev catalog.Event
	defer func() {
		if p := recover(); p != nil {
			disp = handBack(ev, "event fan-out panicked", fmt.Errorf("panic: %v (subject %s)", p, msg.Subject()))
			disp.level = slog.LevelError
		}
	}()
	ev, err := f.decode(msg)
	var eps []catalog.Endpoint
	var matchErr error
	if err == nil {
		eps, matchErr, err = f.check(ctx, ev)
	}
	var ie *catalog.InvalidError
	switch {
	case errors.As(err, &ie) || errors.Is(err, catalog.ErrNotFound):
		return disposition{kind: refused, ev: ev, err: err}
	case err != nil:
		return handBack(ev, "event not fanned out, retrying", err)
	case matchErr != nil:
		return handBack(ev, "event fan-out failed, retrying", matchErr)
	}
	if f.tracer != nil {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(attribute.Int("hookworker.endpoints", len(eps)))
		}
	}
	done, err := f.publish(ctx, ev, eps, msg)
	switch {
	case !done:
		return disposition{kind: abandon, ev: ev} // stopped as if the process had died
	case err != nil:
		return handBack(ev, "event fan-out failed, retrying", err)
	}
	return disposition{kind: fannedOut, ev: ev}
}

// decode reads the event from the message. The subject gives the type and
// the id, and the Hooks-Tenant header the tenant; the body may repeat them
// but not contradict them.
func (f *Fanout) decode(msg jetstream.Msg) (catalog.Event, error) {
	rest := strings.TrimPrefix(msg.Subject(), catalog.EventSubjectPrefix)
	i := strings.LastIndexByte(rest, '.')
	var ev catalog.Event
	if i > 0 {
		ev.Type, ev.ID = rest[:i], rest[i+1:]
	}
	if !catalog.ValidEventID(ev.ID) {
		seq := uint64(0)
		if meta, err := msg.Metadata(); err == nil {
			seq = meta.Sequence.Stream
		}
		ev.ID = "event-" + strconv.FormatUint(seq, 10)
		return ev, &catalog.InvalidError{Field: "subject", Reason: "must be hooks.event.<type>.<event id>"}
	}
	var body catalog.Event
	if err := json.Unmarshal(msg.Data(), &body); err != nil {
		return ev, &catalog.InvalidError{Field: "event", Reason: "must be a JSON object with a payload: " + err.Error()}
	}
	if body.ID != "" && body.ID != ev.ID {
		return ev, &catalog.InvalidError{Field: "id", Reason: "differs from the subject's"}
	}
	if body.Type != "" && body.Type != ev.Type {
		return ev, &catalog.InvalidError{Field: "type", Reason: "differs from the subject's"}
	}
	ev.Payload, ev.Timestamp = body.Payload, body.Timestamp.UTC()
	if body.Channel != "" && !catalog.ValidChannel(body.Channel) {
		return ev, &catalog.InvalidError{Field: "channel", Reason: "must be 1 to 128 of A-Za-z0-9_.:-"}
	}
	ev.Channel = body.Channel
	tenant, err := catalog.StoredTenant(msg.Headers().Get(job.HeaderTenant), body.Tenant)
	if err != nil {
		return ev, err
	}
	ev.Tenant = tenant
	if ev.Timestamp.IsZero() {
		if meta, err := msg.Metadata(); err == nil {
			ev.Timestamp = meta.Timestamp.UTC()
		}
	}
	return ev, nil
}

// check checks ev against the catalog (checkErr) as CheckStoredEvent and
// CheckTenant do, which ask the server only to refuse it, and then returns
// the endpoints it goes to (matchErr when they could not be read): those
// of every change made before the call.
func (f *Fanout) check(ctx context.Context, ev catalog.Event) (eps []catalog.Endpoint, matchErr, checkErr error) {
	if checkErr = f.cfg.Catalog.CheckStoredEvent(ctx, ev.Type, ev.Payload); checkErr != nil {
		return nil, nil, checkErr
	}
	if ev.Tenant != "" {
		if checkErr = f.cfg.Catalog.CheckTenant(ctx, "tenant", ev.Tenant); checkErr != nil {
			return nil, nil, checkErr
		}
	}
	eps, matchErr = f.cfg.Catalog.Matching(ctx, ev.Tenant, ev.Type, ev.Channel)
	return eps, matchErr, nil
}

// reject publishes the rejected result of ev.
func (f *Fanout) reject(ctx context.Context, ev catalog.Event, cause error) error {
	return f.rejectJob(ctx, ev, "", ev.ID, cause)
}

// rejectJob publishes a rejected result with id for ev and endpoint ("" for
// none).
func (f *Fanout) rejectJob(ctx context.Context, ev catalog.Event, endpoint, id string, cause error) error {
	ref := eventRef(ev)
	r := job.Reject(job.Job{ID: id, Type: job.Webhook, Endpoint: endpoint, Event: &ref, Tenant: ev.Tenant}, cause, time.Now())
	r.TraceID = natstrace.TraceID(ctx)
	msg := &nats.Msg{Subject: f.cfg.ResultSubject, Header: nats.Header{
		nats.MsgIdHdr: {id}, job.HeaderJobID: {id}, job.HeaderOutcome: {string(job.Rejected)},
	}}
	// The result is cut like the worker's.
	_, body, err := job.Fit(r, f.maxPayload(), msg.Header)
	if err != nil {
		return err
	}
	msg.Data = body
	_, err = f.js.PublishMsg(ctx, msg)
	return err
}

// maxPayload is the largest message the server takes, headers included.
func (f *Fanout) maxPayload() int {
	if nc := f.js.Conn(); nc != nil {
		return int(nc.MaxPayload())
	}
	return 1 << 20
}

// eventRef is the event as a job names it.
func eventRef(ev catalog.Event) job.Event {
	return job.Event{ID: ev.ID, Type: ev.Type, Channel: ev.Channel, Test: ev.Test}
}

// Job is the job an event makes for one endpoint, in its wire form.
type Job struct {
	// ID is <event id>:<endpoint id>.
	ID string `json:"id"`
	// Type is always webhook.
	Type job.Type `json:"type"`
	// URL is the endpoint's URL.
	URL string `json:"url"`
	// Payload is the Standard Webhooks payload structure.
	Payload Payload `json:"payload"`
	// Headers are the endpoint's extra headers.
	Headers map[string]string `json:"headers"`
	// Endpoint is the endpoint's id.
	Endpoint string `json:"endpoint"`
	// Event names the event.
	Event job.Event `json:"event"`
	// Tenant is the event's tenant; empty (absent) for none.
	Tenant string `json:"tenant,omitempty"`
	// Ordered marks the job of an ordered endpoint, published on the
	// endpoint's own subject (bus.OrderedSubject) by the fan-out only.
	Ordered bool `json:"ordered,omitempty"`
}

// Payload is the body every endpoint receives: {type, timestamp, data}.
type Payload struct {
	// Type is the event type.
	Type string `json:"type"`
	// Timestamp is when the event was sent, RFC 3339.
	Timestamp time.Time `json:"timestamp"`
	// Data is the event's payload.
	Data json.RawMessage `json:"data"`
}

// progressEvery is how many jobs of one event are published between two
// progress reports on the event.
const progressEvery = 500

// JobID is the id of the job of event eventID for endpoint endpointID.
func JobID(eventID, endpointID string) string { return eventID + ":" + endpointID }

// publish publishes one job per endpoint of eps and waits for every
// acknowledgement. done is false when beforePublish stopped it.
func (f *Fanout) publish(ctx context.Context, ev catalog.Event, eps []catalog.Endpoint, msg jetstream.Msg) (done bool, err error) {
	enc, err := newJobEncoder(ev)
	if err != nil {
		return true, err
	}
	if slices.ContainsFunc(eps, func(ep catalog.Endpoint) bool { return ep.Ordered }) {
		if err := f.waitEarlier(ctx, msg); err != nil {
			return true, err
		}
	}
	futures := make([]jetstream.PubAckFuture, 0, len(eps))
	// Every job continues the trace of the fan-out (none when not
	// tracing): the same header values, shared.
	tc := natstrace.Header(ctx)
	done = true
	for i, ep := range eps {
		if i > 0 && i%progressEvery == 0 {
			_ = msg.InProgress() // many endpoints: keep the event ours
		}
		j := NewJob(JobID(ev.ID, ep.ID), ev, ep)
		subject := f.cfg.JobSubject
		if ep.Ordered {
			j.Ordered, subject = true, bus.OrderedSubject(f.cfg.JobSubject, ep.ID)
		}
		if f.beforePublish != nil {
			if err := f.beforePublish(j.ID); err != nil {
				done = false
				break
			}
		}
		body, err := enc.encode(j)
		if err != nil {
			return true, err
		}
		if limit := f.js.Conn().MaxPayload(); int64(len(body)) > limit {
			// It will never fit: the job ends here, rejected, for good.
			cause := fmt.Errorf("job too large: %d bytes, the server takes at most %d", len(body), limit)
			if err := f.rejectJob(ctx, ev, ep.ID, j.ID, cause); err != nil {
				return true, err
			}
			continue
		}
		hdr := nats.Header{nats.MsgIdHdr: {j.ID}}
		maps.Copy(hdr, tc)
		fut, err := f.js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: body, Header: hdr})
		if err != nil {
			return true, fmt.Errorf("publish job %s: %w", j.ID, err)
		}
		futures = append(futures, fut)
	}
	for _, fut := range futures {
		select {
		case <-fut.Ok():
		case err := <-fut.Err():
			return done, fmt.Errorf("publish job %s: %w", fut.Msg().Header.Get(nats.MsgIdHdr), err)
		case <-ctx.Done():
			return done, ctx.Err()
		}
	}
	return done, nil
}
