// Package consumer takes send jobs from the JetStream job stream, delivers
// each through the Deliverer registered for its type, publishes one result
// per job on the result subject and only then acknowledges the job.
//
// A job's way is: pull (a batch no larger than the free slots), handle
// (decode, load what earlier deliveries left, take a host slot or wait for
// one, parked when the wait is long, deliver), and settle, the one place
// that applies the job's disposition: publish the result and acknowledge;
// or hand the job back, now or after a delay, with its progress recorded.
// Deliveries that ended without either (a worker died) are counted, and a
// job that loses too many is failed, so no job ends without a result.
package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Deliverer is what the worker needs of a job type: each job type's
// package provides one as a method named Prepare (discord.Client.Prepare,
// slack.Client.Prepare, the webhook jobs' in the binary), registered by
// type in Options.Deliverers. It is called with every decoded job of its
// type before the job takes a host slot: it decodes and checks what the
// type carries, and returns an error that rejects the job (its text is the
// result's error; nothing is sent), or the send to run with the job's
// request. The send returns deferred or interrupted outcomes as the sender
// does.
type Deliverer func(j *job.Job) (send func(ctx context.Context, req sender.Request) sender.Result, err error)

// Metrics is told what the worker does; *metrics.Metrics satisfies it. Its
// methods must be safe for concurrent use.
type Metrics interface {
	// JobReceived is called for every message taken from the stream.
	JobReceived()
	// Finished is called for every terminal result stored.
	Finished(outcome string, d time.Duration)
	// InFlight is called with +1 when a job starts and -1 when it ends.
	InFlight(delta int)
}

// Options configure a Worker. JetStream, Consumer, State, ResultSubject
// and at least one Deliverer are required.
type Options struct {
	// JetStream publishes results.
	JetStream jetstream.JetStream
	// Consumer is the durable pull consumer jobs come from.
	Consumer jetstream.Consumer
	// State keeps per-job delivery state between deliveries.
	State jetstream.KeyValue
	// Deliverers maps each job type to its Deliverer; a job of a type
	// without one is rejected.
	Deliverers map[job.Type]Deliverer
	// Metrics, when set, is told what the worker does.
	Metrics Metrics
	// OnAttempt, when set, is told of every HTTP attempt of every job,
	// with the job (its event and endpoint included): the seam for a
	// delivery log. It becomes the sender.Request's OnAttempt, runs on the
	// job's goroutine and delays the job while it runs; it must not keep
	// the job or the attempt's Header past its return.
	OnAttempt func(*job.Job, sender.Attempt)
	// Concurrency is the number of jobs in flight in this process. At least
	// 1.
	Concurrency int
	// HostConcurrency is the number of jobs one destination host:port may
	// hold in flight in this process while other hosts' jobs wait; a host
	// whose requests come back fast may use every slot but HostConcurrency
	// when none do. 0 means Concurrency.
	HostConcurrency int
	// MaxParked and MaxParkedBytes bound the jobs parked at once: jobs
	// whose host is busy and would keep them waiting in the worker's slots
	// for long, which wait for the host apart, holding no slot and no
	// goroutine (see Worker), and the memory they take (about twice each
	// message's size). 0 means DefaultMaxParked and DefaultMaxParkedBytes.
	// A negative MaxParked parks none: such jobs are handed back. Parked
	// jobs are pending acknowledgement: with a consumer whose MaxAckPending
	// is bounded, MaxParked should leave room for the jobs behind them.
	MaxParked      int
	MaxParkedBytes int64
	// Working is the number of jobs in flight that may be doing work of
	// their own at once (decoding, storing their result, handing back), as
	// opposed to waiting on their destination; new jobs are taken only as
	// fast as they can start. 0 means 64 per CPU; at most Concurrency.
	Working int
	// AckWait is the consumer's AckWait; jobs running longer are kept alive
	// every AckWait/3.
	AckWait time.Duration
	// ShutdownTimeout is how long in-flight jobs may run on after Run's
	// context ends; the rest are interrupted and handed back.
	ShutdownTimeout time.Duration
	// MaxRedeliveries is how many deliveries of a job may be lost without an
	// acknowledgement before the job gets a failed result.
	MaxRedeliveries int
	// ResultSubject is where results are published.
	ResultSubject string
	// EndpointSubject is the only subject on which a job may name an
	// endpoint and an event (bus.EndpointSubject): the fan-out's. A job
	// that names them on another subject is rejected, and so is one on
	// this subject that does not. An ordered endpoint's jobs come on this
	// subject followed by the endpoint's id (bus.OrderedSubject), marked
	// ordered. Empty: no job may name them.
	EndpointSubject string
	// Limits are the worker's maximums for per-job values.
	Limits Limits
	// FetchWait is how long one pull waits for jobs; 0 means
	// DefaultFetchWait. It bounds how long Run takes to notice its context
	// ended: a pull under way is waited for, as a job the server sends it
	// meanwhile would otherwise wait out AckWait.
	FetchWait time.Duration
	// Logger receives one info line per terminal result, and problems; nil
	// discards.
	Logger *slog.Logger
	// Rebind, when set, is called after repeated failed pulls (the consumer
	// or its stream was deleted, the server lost its store) to find or
	// create the consumer again. It should wait for the server and return an
	// error only when ctx ends or the setup is refused for good.
	Rebind func(ctx context.Context) (jetstream.Consumer, error)
	// TracerProvider, when set and not the OpenTelemetry no-op provider,
	// traces every job: a consumer span from the job's fetch to its
	// settle, the child of the span a traceparent header on the job's
	// message names, whose trace id the result carries (trace_id) and the
	// job's log lines too. The Deliverers' sends run under it, so that a
	// Sender tracing with the same provider makes each HTTP attempt its
	// child. Nil traces nothing and costs nothing.
	TracerProvider trace.TracerProvider
	// Link, when set, returns a context that ends when the NATS connection
	// is lost. Every NATS operation of a job (storing its result,
	// acknowledging, handing back, its state) ends with it, so that a reply
	// lost with the connection is not waited for until its timeout: the job
	// is handed back, or its state saved, on the next connection. Nil: they
	// wait.
	Link func() context.Context
	// Outage, when set, returns the longest the NATS connection has been
	// down since a time (bus.Bus.Outage). A parked job whose connection was
	// down, since it came, for longer than its keep-alive bridges may have
	// been handed to another worker by the server: it is then neither sent
	// nor acknowledged nor handed back, but left to the server, which
	// delivers it again after AckWait if no other worker has it. Nil: the
	// connection is taken never to have been down.
	Outage func(since time.Time) time.Duration
}

// publisher stores results; jetstream.JetStream satisfies it.
type publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// stateStore keeps per-job state; jetstream.KeyValue satisfies it.
type stateStore interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error
}

// Worker runs jobs from a durable pull consumer. Several Workers, in one
// process or many, may share the consumer.
//
// A job whose destination host already has its HostConcurrency jobs in
// flight waits for one of them to finish: in the worker's slots when the
// wait is short, else parked, apart from the slots, when the host is slow
// (its jobs hold a slot more than 100 ms) and should free one for it
// within a minute, or has not answered yet (parked jobs are kept alive as jobs in flight are, and
// bounded by Options.MaxParked and MaxParkedBytes); a job that can do
// neither is handed back, to come again when its host should
// have a slot. A job parked for two minutes without getting a slot is
// handed back, and so is every parked job when the worker stops; one whose
// connection was down meanwhile for longer than its keep-alive bridges is
// left to the server instead (see Options.Outage).
type Worker struct {
	cfg        Options
	pub        publisher
	cons       jetstream.Consumer
	state      stateStore
	deliverers map[job.Type]Deliverer
	metrics    Metrics
	log        *slog.Logger
	slots      chan struct{}
	hosts      *hostLimiter
	// working holds a token for every job in flight that is not waiting on
	// its destination (see Options.Working).
	working chan struct{}
	// maxPayload is the largest message the server takes, headers
	// included, as the connection last heard it.
	maxPayload func() int64
	// results finds the results lost deliveries stored (see storedResult).
	results *resultIndex
	// tracer starts the jobs' spans; nil when not tracing.
	tracer trace.Tracer
	// background runs the hand-backs of parked jobs.
	background sync.WaitGroup
}

// New checks that o holds what a Worker needs and returns the Worker it
// configures. Its error names every required option missing.
func New(o Options) (*Worker, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return newWorker(o), nil
}

// check reports the required options o lacks.
func (o *Options) check() error {
	var missing []string
	if o.JetStream == nil {
		missing = append(missing, "JetStream")
	}
	if o.Consumer == nil {
		missing = append(missing, "Consumer")
	}
	if o.State == nil {
		missing = append(missing, "State")
	}
	if o.ResultSubject == "" {
		missing = append(missing, "ResultSubject")
	}
	deliverers := 0
	for _, d := range o.Deliverers {
		if d != nil {
			deliverers++
		}
	}
	if deliverers == 0 {
		missing = append(missing, "Deliverers (at least one)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("consumer: options lack %s", strings.Join(missing, ", "))
	}
	return nil
}

// newWorker builds the Worker of o, its defaults applied; New checks o
// first.
func newWorker(o Options) *Worker {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.HostConcurrency < 1 || o.HostConcurrency > o.Concurrency {
		o.HostConcurrency = o.Concurrency
	}
	if o.Working < 1 {
		o.Working = max(64, 64*runtime.GOMAXPROCS(0))
	}
	o.Working = min(o.Working, o.Concurrency)
	if o.FetchWait <= 0 {
		o.FetchWait = DefaultFetchWait
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.MaxParked == 0 {
		o.MaxParked = DefaultMaxParked
	}
	if o.MaxParkedBytes <= 0 {
		o.MaxParkedBytes = DefaultMaxParkedBytes
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := o.Metrics
	if m == nil {
		m = nopMetrics{}
	}
	w := &Worker{
		cfg: o, cons: o.Consumer, deliverers: o.Deliverers, metrics: m, log: log,
		slots:   make(chan struct{}, o.Concurrency),
		hosts:   newHostLimiter(o.HostConcurrency, o.Concurrency),
		working: make(chan struct{}, o.Working),
		tracer:  natstrace.Tracer(o.TracerProvider, "github.com/hookworker/hookworker/consumer"),
	}
	w.hosts.maxParked, w.hosts.maxParkedBytes = max(o.MaxParked, 0), o.MaxParkedBytes
	w.hosts.expired = w.expired
	if pm, ok := m.(ParkedMetrics); ok {
		w.hosts.counted = pm.Parked
	}
	// Interfaces holding nil pointers would not compare equal to nil.
	w.maxPayload = func() int64 { return defaultMaxPayload }
	if o.JetStream != nil {
		w.pub = o.JetStream
		w.results = newResultIndex(o.JetStream, o.ResultSubject)
		if nc := o.JetStream.Conn(); nc != nil {
			w.maxPayload = nc.MaxPayload
		}
	}
	if o.State != nil {
		w.state = o.State
	}
	return w
}

// Run pulls and runs jobs until ctx ends, then stops pulling, lets in-flight
// jobs finish within ShutdownTimeout, interrupts the rest (they are handed
// back for redelivery with their progress) and returns. NATS errors are
// logged and retried.
func (w *Worker) Run(ctx context.Context) {
	jobCtx, interrupt := context.WithCancel(context.WithoutCancel(ctx))
	defer interrupt()
	var wg sync.WaitGroup
	w.pull(ctx, jobCtx, &wg)
	// The parked jobs have not started: they go back at once, while the
	// jobs in flight have their grace.
	if parked := w.hosts.unpark(); len(parked) > 0 {
		w.background.Go(func() { w.handBackParked(parked, "worker stopping", false) })
	}

	done := make(chan struct{})
	go func() {
		wg.Wait()
		w.background.Wait()
		close(done)
	}()
	grace := time.NewTimer(w.cfg.ShutdownTimeout)
	defer grace.Stop()
	select {
	case <-done:
		w.log.Info("worker stopped, no job in flight")
		return
	case <-grace.C:
	}
	w.log.Warn("shutdown timeout reached, handing in-flight jobs back", "shutdown_timeout", w.cfg.ShutdownTimeout)
	interrupt()
	<-done
}

// DefaultFetchWait is how long one pull waits for jobs when Options give
// none: short enough that a stopping worker is not kept waiting, long
// enough that an idle one asks the server a few times a second at most.
const DefaultFetchWait = 500 * time.Millisecond

// defaultMaxPayload is the server's default max payload, used without a
// connection to read it from.
const defaultMaxPayload = 1 << 20

// ParkedMetrics is what a Worker's Metrics may also do: be told how many
// jobs are parked (see Worker). *metrics.Metrics does.
type ParkedMetrics interface {
	// Parked is called with +n when n jobs are parked and -n when n leave
	// (to be sent, or handed back).
	Parked(delta int)
}

// nopMetrics is the Metrics of a Worker given none.
type nopMetrics struct{}

func (nopMetrics) JobReceived()                   {}
func (nopMetrics) Finished(string, time.Duration) {}
func (nopMetrics) InFlight(int)                   {}
