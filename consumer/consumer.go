// Package consumer takes send jobs from the JetStream job stream, delivers
// them through a sender (or a Discord client), publishes one result per job
// on the result subject and only then acknowledges the job.
//
// Every ack decision is made in one place (finish, handBack): a terminal
// result that was stored is acknowledged; anything else — a deferral, a busy
// destination host, a shutdown, a result that could not be published — is
// handed back with a recorded negative acknowledgement, so that the job comes
// back with its progress (attempts, retries) intact. Deliveries that ended
// without either (a worker died) are counted, and a job that loses too many
// is failed, so no job ends without a result.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Sender delivers one webhook request; *sender.Sender satisfies it.
type Sender interface {
	Send(ctx context.Context, req sender.Request) sender.Result
}

// Discord delivers one Discord message; *discord.Client satisfies it.
type Discord interface {
	Send(ctx context.Context, m discord.Message, req sender.Request) sender.Result
}

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

// Headers set on every published result.
const (
	HeaderJobID   = "Hook-Job-Id"
	HeaderOutcome = "Hook-Outcome"
)

// Config tunes a Worker.
type Config struct {
	// Concurrency is the number of jobs in flight in this process. At least
	// 1.
	Concurrency int
	// HostConcurrency is the number of jobs one destination host:port may
	// hold in flight in this process; 0 means Concurrency.
	HostConcurrency int
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
	// Limits holds the worker's maximums for per-job values (Timeout,
	// MaxRetries, MaxProxyRetries).
	Limits sender.Config
	// FetchWait is how long one pull waits for jobs; 0 means 2s. It bounds
	// how long Run takes to notice its context ended.
	FetchWait time.Duration
	// Logger receives one info line per terminal result, and problems; nil
	// discards.
	Logger *slog.Logger
	// Rebind, when set, is called after repeated failed pulls (the consumer
	// or its stream was deleted, the server lost its store) to find or
	// create the consumer again. It should wait for the server and return an
	// error only when ctx ends or the setup is refused for good.
	Rebind func(ctx context.Context) (jetstream.Consumer, error)
	// Link, when set, returns a context that ends when the NATS connection
	// is lost (see bus.Bus.Link). Every NATS operation of a job (storing
	// its result, acknowledging, handing back, its state) ends with it, so
	// that a reply lost with the connection is not waited for until its
	// timeout: the job is handed back, or its state saved, on the next
	// connection. Nil: they wait.
	Link func() context.Context
}

// Worker runs jobs from a durable pull consumer. Several Workers, in one
// process or many, may share the consumer.
type Worker struct {
	cfg     Config
	js      jetstream.JetStream
	cons    jetstream.Consumer
	state   jetstream.KeyValue
	sender  Sender
	discord Discord
	metrics Metrics
	log     *slog.Logger
	slots   chan struct{}
	hosts   *hostLimiter
	// working holds a token for every job in flight that is not waiting on
	// its destination (see Config.Working).
	working chan struct{}
}

// New returns a Worker that pulls from cons, publishes results through js,
// keeps per-job delivery state in state and delivers webhooks with s and
// Discord messages with d. m may be nil.
func New(cfg Config, js jetstream.JetStream, cons jetstream.Consumer, state jetstream.KeyValue, s Sender, d Discord, m Metrics) *Worker {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.HostConcurrency < 1 || cfg.HostConcurrency > cfg.Concurrency {
		cfg.HostConcurrency = cfg.Concurrency
	}
	if cfg.Working < 1 {
		cfg.Working = max(64, 64*runtime.GOMAXPROCS(0))
	}
	cfg.Working = min(cfg.Working, cfg.Concurrency)
	if cfg.FetchWait <= 0 {
		cfg.FetchWait = 2 * time.Second
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = nopMetrics{}
	}
	return &Worker{
		cfg: cfg, js: js, cons: cons, state: state,
		sender: s, discord: d, metrics: m, log: log,
		slots:   make(chan struct{}, cfg.Concurrency),
		hosts:   newHostLimiter(cfg.HostConcurrency),
		working: make(chan struct{}, cfg.Working),
	}
}

// Run pulls and runs jobs until ctx ends, then stops pulling, lets in-flight
// jobs finish within ShutdownTimeout, interrupts the rest (they are handed
// back for redelivery with their progress) and returns nil. NATS errors
// are logged and retried, never returned.
func (w *Worker) Run(ctx context.Context) error {
	jobCtx, interrupt := context.WithCancel(context.WithoutCancel(ctx))
	defer interrupt()
	var wg sync.WaitGroup
	w.pull(ctx, jobCtx, &wg)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	grace := time.NewTimer(w.cfg.ShutdownTimeout)
	defer grace.Stop()
	select {
	case <-done:
		w.log.Info("worker stopped, no job in flight")
		return nil
	case <-grace.C:
	}
	w.log.Warn("shutdown timeout reached, handing in-flight jobs back", "shutdown_timeout", w.cfg.ShutdownTimeout)
	interrupt()
	<-done
	return nil
}

// pull fetches batches no larger than the free slots, so that no message
// waits in a buffer (its AckWait running) while the worker is busy, and
// starts one goroutine per message, until ctx ends.
//
// A job starts only with a working token, which it gives up while it waits
// on its destination (see deliver). So with thousands of slots the worker
// takes jobs as fast as it can work on them, not all at once: a burst does
// not become thousands of goroutines, each with its stack, queued for the
// CPU or for the NATS connection, while the jobs waiting on slow receivers
// can still fill every slot.
func (w *Worker) pull(ctx, jobCtx context.Context, wg *sync.WaitGroup) {
	release := func(n int) {
		for range n {
			<-w.slots
		}
	}
	// Jobs go to a goroutine that has just finished one, if one is waiting,
	// else to a new one; quit tells the waiting ones to end.
	next := make(chan jetstream.Msg)
	quit := make(chan struct{})
	defer close(quit)
	backoff := 100 * time.Millisecond
	failures := 0
	failed := func(err error) bool {
		failures++
		w.log.Warn("fetch jobs", "error", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
		if failures >= 3 && w.cfg.Rebind != nil {
			cons, err := w.cfg.Rebind(ctx)
			if err != nil {
				w.log.Error("bind consumer again", "error", err)
				return ctx.Err() == nil
			}
			w.cons = cons
			failures = 0
		}
		return true
	}
	for {
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
		limit := max(1, cap(w.working)-len(w.working))
	grab:
		for n < limit {
			select {
			case w.slots <- struct{}{}:
				n++
			default:
				break grab
			}
		}
		batch, err := w.cons.Fetch(n, jetstream.FetchMaxWait(w.cfg.FetchWait))
		if err != nil {
			release(n)
			if !failed(err) {
				return
			}
			continue
		}
		used := 0
		for msg := range batch.Messages() {
			used++
			w.working <- struct{}{}
			select {
			case next <- msg:
			default:
				wg.Add(1)
				go w.runJobs(jobCtx, msg, next, quit, release, wg)
			}
		}
		release(n - used)
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			if !failed(err) {
				return
			}
			continue
		}
		backoff = 100 * time.Millisecond
		failures = 0
	}
}

// runnerIdle is how long a job goroutine waits for another job before it
// ends.
const runnerIdle = time.Second

// runJobs runs msg and then, as long as one comes within runnerIdle and
// quit is open, the next job from next; it gives back the job's slot and
// working token after each. Staying costs nothing, and a goroutine that
// stays keeps the stack it grew for the first job: every new goroutine
// grows its own from a few KiB, copying it at every doubling.
func (w *Worker) runJobs(ctx context.Context, msg jetstream.Msg, next <-chan jetstream.Msg, quit <-chan struct{}, release func(int), wg *sync.WaitGroup) {
	defer wg.Done()
	var idle *time.Timer
	for {
		w.handle(ctx, msg)
		<-w.working
		release(1)
		if idle == nil {
			idle = time.NewTimer(runnerIdle)
		} else {
			idle.Reset(runnerIdle)
		}
		select {
		case msg = <-next:
		case <-idle.C:
			return
		case <-quit:
			idle.Stop()
			return
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// state is what the state bucket keeps for a job between deliveries.
type state struct {
	// Progress is what earlier deliveries spent.
	Progress sender.Progress `json:"progress"`
	// HandedBack counts deliveries ended on purpose with a negative
	// acknowledgement (deferred, host busy, interrupted, result not stored);
	// every other earlier delivery was lost.
	HandedBack int `json:"handed_back"`
	// StartedAt is when the first delivery started.
	StartedAt time.Time `json:"started_at"`
	// Result is a terminal result that was published (or meant to be) but
	// whose job was not acknowledged: the next delivery stores it again
	// instead of sending again.
	Result *job.Result `json:"result,omitempty"`
}

// delivery is one message being handled.
type delivery struct {
	msg      jetstream.Msg
	meta     *jetstream.MsgMetadata
	job      job.Job
	state    state
	stateKey string
	// stored reports whether the bucket holds state for the job.
	stored bool
	start  time.Time
}

// handle runs one message to a decision: a stored result and an ack, or a
// hand-back. It never panics.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	w.metrics.JobReceived()
	w.metrics.InFlight(1)
	defer w.metrics.InFlight(-1)

	stop := w.keepAlive(msg)
	defer stop()

	d := &delivery{msg: msg, start: time.Now()}
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("job panicked", "job_id", d.job.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r := sender.Result{Outcome: sender.Failed, Error: fmt.Sprintf("internal error: %v", p),
				Attempts: d.state.Progress.Attempts, StartedAt: d.start, FinishedAt: time.Now()}
			w.finish(d, job.NewResult(d.job, r), stop)
		}
	}()
	w.run(ctx, d, stop)
}

// run takes a job from its message to a stored result or a hand-back. It is
// the bottom of every job goroutine's stack while the job waits on its
// destination, so it keeps a small frame: the rare paths live in begin and
// conclude, and a job fits in the goroutine's first stack instead of
// growing it (and having the garbage collector shrink it again while the
// job waits for a working token).
func (w *Worker) run(ctx context.Context, d *delivery, stop func()) {
	if !w.begin(ctx, d, stop) {
		return
	}
	// A job whose destination host is saturated is handed back instead of
	// waiting here: waiting would hold a global slot, and 10,000 jobs to a
	// dead host would then fill every slot while the jobs behind them, to
	// healthy hosts, waited their turn. Handed back, the dead host's jobs
	// hold at most HostConcurrency slots, and their redeliveries are spread
	// out at the pace the host frees slots, so that they do not crowd out
	// the jobs behind them either (the server hands out redeliveries first).
	host := hostOf(&d.job)
	if !w.hosts.acquire(host) {
		w.handBack(d, w.hosts.queue(host, time.Now()), "host busy", stop)
		return
	}
	acquired := time.Now()
	defer func() { w.hosts.release(host, time.Since(acquired)) }()
	res := w.deliver(ctx, d)
	w.conclude(ctx, d, &res, stop)
}

// begin decodes d's job and loads what earlier deliveries left of it. It
// reports whether the job is to be sent; when not, it has already
// finished or dropped the message.
func (w *Worker) begin(ctx context.Context, d *delivery, stop func()) bool {
	meta, err := d.msg.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to acknowledge.
		w.log.Error("message without jetstream metadata", "error", err)
		return false
	}
	d.meta = meta
	fallback := d.msg.Headers().Get(nats.MsgIdHdr)
	if fallback == "" {
		fallback = meta.Stream + "-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	j, decodeErr := job.Decode(d.msg.Data(), fallback)
	d.job = j
	if decodeErr != nil {
		w.finish(d, job.Rejected(j, decodeErr, d.start), stop)
		return false
	}
	d.stateKey = stateKey(j.ID)
	d.state.StartedAt = d.start
	if meta.NumDelivered == 1 {
		return true
	}
	w.loadState(ctx, d)
	if d.state.Result != nil {
		// Delivered before; its result was not confirmed stored.
		w.finish(d, *d.state.Result, stop)
		return false
	}
	lost := int(meta.NumDelivered) - 1 - d.state.HandedBack
	if lost > 0 && lost >= w.cfg.MaxRedeliveries {
		p := d.state.Progress
		r := sender.Result{
			Outcome: sender.Failed, Status: p.Status, Response: p.Response, Attempts: p.Attempts, Retries: p.Retries,
			Error:     fmt.Sprintf("abandoned after %d deliveries without completion", lost),
			StartedAt: d.state.StartedAt, FinishedAt: time.Now(),
		}
		w.finish(d, job.NewResult(j, r), stop)
		return false
	}
	return true
}

// conclude stores the result of a send, or hands the job back when the
// send was deferred or interrupted.
func (w *Worker) conclude(ctx context.Context, d *delivery, res *sender.Result, stop func()) {
	switch {
	case ctx.Err() != nil && res.Outcome != sender.Delivered:
		// Interrupted by shutdown: hand it back with what it spent.
		d.state.Progress = res.Progress()
		w.handBack(d, 0, "interrupted by shutdown", stop)
	case res.Defer > 0:
		d.state.Progress = res.Progress()
		w.log.Info("job deferred", "job_id", d.job.ID, "defer", res.Defer, "attempts", res.Attempts, "status", res.Status)
		w.handBack(d, res.Defer, "deferred", stop)
	default:
		if !d.state.StartedAt.IsZero() && d.state.StartedAt.Before(res.StartedAt) {
			res.StartedAt = d.state.StartedAt
		}
		w.finish(d, job.NewResult(d.job, *res), stop)
	}
}

// deliver sends d's job through the sender or the Discord client. Waiting
// on the destination is not work of the job's own: it gives its working
// token back meanwhile, and takes one again before it goes on.
func (w *Worker) deliver(ctx context.Context, d *delivery) sender.Result {
	req := d.job.Request(w.cfg.Limits)
	req.Prior = d.state.Progress
	req.BeforeRetry = func(p sender.Progress) { w.saveProgress(ctx, d, p) }
	<-w.working
	defer func() { w.working <- struct{}{} }()
	if d.job.Type == job.Discord {
		return w.deliverDiscord(ctx, d.job.Discord, req)
	}
	return w.sender.Send(ctx, req)
}

// deliverDiscord decodes a Discord message and sends it.
func (w *Worker) deliverDiscord(ctx context.Context, raw json.RawMessage, req sender.Request) sender.Result {
	var m discord.Message
	if err := json.Unmarshal(raw, &m); err != nil {
		now := time.Now()
		return sender.Result{Outcome: sender.Rejected, Error: "discord: " + shortJSONError(err),
			Attempts: req.Prior.Attempts, StartedAt: now, FinishedAt: now}
	}
	return w.discord.Send(ctx, m, req)
}

// shortJSONError is a JSON decoding error without the Go type names.
func shortJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s: wrong type (%s)", te.Field, te.Value)
		}
		return "wrong type (" + te.Value + ")"
	}
	return err.Error()
}

// opTimeout bounds one NATS operation on the way out (publish, ack, state).
const opTimeout = 10 * time.Second

// linked bounds a NATS operation: timeout, the end of ctx, or the loss of
// the connection it goes out on (see Config.Link).
func (w *Worker) linked(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if w.cfg.Link == nil {
		return context.WithTimeout(ctx, timeout)
	}
	if ctx.Done() == nil {
		// ctx never ends (the operations on the way out of a job): the
		// connection's context is the only parent needed.
		return context.WithTimeout(w.cfg.Link(), timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	stop := context.AfterFunc(w.cfg.Link(), cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// finish stores r on the result stream and acknowledges the job. If the
// result cannot be stored, the job is handed back with the result kept in
// the state bucket, so the next delivery stores it instead of sending again.
func (w *Worker) finish(d *delivery, r job.Result, stop func()) {
	ctx, cancel := w.linked(context.Background(), opTimeout)
	defer cancel()
	// MarshalJSON directly: json.Marshal would check and compact its output
	// again.
	data, err := r.MarshalJSON()
	if err != nil {
		// A Result always marshals; keep the job for another try.
		w.log.Error("encode result", "job_id", r.ID, "error", err)
		w.handBack(d, time.Second, "result not encoded", stop)
		return
	}
	vals := []string{r.ID, string(r.Outcome)} // one allocation for the values
	msg := &nats.Msg{Subject: w.cfg.ResultSubject, Data: data, Header: nats.Header{
		nats.MsgIdHdr: vals[0:1:1],
		HeaderJobID:   vals[0:1:1],
		HeaderOutcome: vals[1:2:2],
	}}
	if _, err := w.js.PublishMsg(ctx, msg); err != nil {
		w.log.Warn("publish result, job handed back", "job_id", r.ID, "error", err)
		d.state.Result = &r
		w.handBack(d, time.Second, "result not stored", stop)
		return
	}
	stop()
	if err := d.msg.DoubleAck(ctx); err != nil {
		// The result is stored; if the ack was lost the job comes back and
		// the stored result is published again (the result stream drops
		// the duplicate), not sent again.
		w.log.Warn("acknowledge job", "job_id", r.ID, "error", err)
		d.state.Result = &r
		d.state.HandedBack++
		// The ack's own context may have ended (timed out, or the
		// connection went): the state goes out with a fresh one.
		sctx, scancel := w.linked(context.Background(), opTimeout)
		w.saveState(sctx, d)
		scancel()
	} else if d.stored {
		if err := w.state.Delete(ctx, d.stateKey); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			w.log.Warn("delete job state", "job_id", r.ID, "error", err)
		}
	}
	w.metrics.Finished(string(r.Outcome), r.FinishedAt.Sub(r.StartedAt))
	w.logFinished(ctx, r)
}

// logFinished writes the info line of a finished job; it costs nothing
// when info is not enabled.
func (w *Worker) logFinished(ctx context.Context, r job.Result) {
	if !w.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs, slog.String("job_id", r.ID), slog.String("type", string(r.Type)),
		slog.String("outcome", string(r.Outcome)), slog.Int("attempts", r.Attempts), slog.Int64("duration_ms", r.DurationMS))
	if r.Status != 0 {
		attrs = append(attrs, slog.Int("status", r.Status))
	}
	if r.URL != "" {
		attrs = append(attrs, slog.String("url", r.URL))
	}
	if r.Proxy != "" {
		attrs = append(attrs, slog.String("proxy", r.Proxy))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "job finished", attrs...)
}

// handBack records the hand-back (and the job's progress) in the state
// bucket, then asks for redelivery after delay.
func (w *Worker) handBack(d *delivery, delay time.Duration, why string, stop func()) {
	ctx, cancel := w.linked(context.Background(), opTimeout)
	defer cancel()
	d.state.HandedBack++
	if d.stateKey != "" {
		w.saveState(ctx, d)
	}
	stop()
	var err error
	if delay > 0 {
		err = d.msg.NakWithDelay(delay)
	} else {
		err = d.msg.Nak()
	}
	if err != nil {
		w.log.Warn("hand job back", "job_id", d.job.ID, "reason", why, "error", err)
		return
	}
	w.log.Debug("job handed back", "job_id", d.job.ID, "reason", why, "delay", delay)
}

func (w *Worker) loadState(ctx context.Context, d *delivery) {
	ctx, cancel := w.linked(ctx, opTimeout)
	defer cancel()
	e, err := w.state.Get(ctx, d.stateKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	if err != nil {
		// Without the state the job still runs, with fresh budgets; the
		// lost-delivery count errs towards running it.
		w.log.Warn("load job state", "job_id", d.job.ID, "error", err)
		d.state.HandedBack = int(d.meta.NumDelivered) - 1
		return
	}
	var s state
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		w.log.Warn("decode job state", "job_id", d.job.ID, "error", err)
		d.state.HandedBack = int(d.meta.NumDelivered) - 1
		d.stored = true
		return
	}
	if s.StartedAt.IsZero() {
		s.StartedAt = d.start
	}
	d.state = s
	d.stored = true
}

// progressTimeout bounds saving a job's progress before a retry; the
// attempt waits for it.
const progressTimeout = 2 * time.Second

// saveProgress records, before a retry attempt, what the job has spent
// counting that attempt, so that a worker that dies during its retries does
// not take the count with it: the redelivery goes on from there. A first
// attempt is never recorded, so a job delivered at once costs no write.
func (w *Worker) saveProgress(ctx context.Context, d *delivery, p sender.Progress) {
	ctx, cancel := w.linked(ctx, progressTimeout)
	defer cancel()
	d.state.Progress = p
	w.saveState(ctx, d)
}

func (w *Worker) saveState(ctx context.Context, d *delivery) {
	data, err := json.Marshal(d.state)
	if err == nil {
		_, err = w.state.Put(ctx, d.stateKey, data)
	}
	if err != nil {
		w.log.Warn("save job state", "job_id", d.job.ID, "error", err)
		return
	}
	d.stored = true
}

// keepAlive tells the server every AckWait/3 that msg is still being worked
// on, so that it is never redelivered while this worker has it. It holds no
// goroutine while it waits: a timer runs each tick and re-arms itself. The
// returned stop is idempotent; once it has returned, no further tick
// starts.
func (w *Worker) keepAlive(msg jetstream.Msg) (stop func()) {
	every := max(w.cfg.AckWait/3, 10*time.Millisecond)
	var (
		mu      sync.Mutex
		t       *time.Timer
		stopped bool
	)
	tick := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := msg.InProgress(); err != nil {
			w.log.Debug("keep job alive", "error", err)
		}
		t.Reset(every)
	}
	mu.Lock()
	t = time.AfterFunc(every, tick)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			stopped = true
			t.Stop()
		}
	}
}

// stateKey maps a job id to a state bucket key; ids may hold ':', keys may
// not, and '=' never appears in an id.
func stateKey(id string) string { return strings.ReplaceAll(id, ":", "=") }

// hostOf returns host:port of the job's first destination.
func hostOf(j *job.Job) string {
	raw := j.URL
	if raw == "" && len(j.URLs) > 0 {
		raw = j.URLs[0]
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// The pace of host-busy hand-backs: a host whose jobs have not finished
// yet is taken to hold a slot for defaultHold; a job waits at least
// minHostWait and at most maxHostWait before it is offered again.
const (
	defaultHold = time.Second
	minHostWait = 20 * time.Millisecond
	maxHostWait = 10 * time.Minute
)

// hostLimiter bounds the jobs in flight per destination host, and paces
// the jobs that find their host busy.
type hostLimiter struct {
	mu    sync.Mutex
	limit int
	hosts map[string]*hostSlots
}

// hostSlots is what a hostLimiter knows of one host.
type hostSlots struct {
	// busy is the number of jobs in flight.
	busy int
	// hold is a moving average of how long a job held a slot.
	hold time.Duration
	// next is when the job handed back last is due.
	next time.Time
}

func newHostLimiter(limit int) *hostLimiter {
	return &hostLimiter{limit: limit, hosts: make(map[string]*hostSlots)}
}

func (h *hostLimiter) acquire(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil {
		s = &hostSlots{}
		h.hosts[host] = s
	}
	if s.busy >= h.limit {
		return false
	}
	s.busy++
	return true
}

// release frees a slot of host, held for held.
func (h *hostLimiter) release(host string, held time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil {
		return
	}
	s.busy--
	if s.hold == 0 {
		s.hold = held
	} else {
		s.hold += (held - s.hold) / 8
	}
	if s.busy <= 0 && !s.next.After(time.Now()) {
		delete(h.hosts, host)
	}
}

// queue returns how long a job that found host busy at now waits before it
// is offered again: the jobs handed back are lined up one slot's worth of
// time apart (a job's hold over the host's slots), so that they come back
// about as fast as the host takes them, whatever their number.
func (h *hostLimiter) queue(host string, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil {
		return minHostWait
	}
	hold := s.hold
	if hold <= 0 {
		hold = defaultHold
	}
	if s.next.Before(now) {
		s.next = now
	}
	s.next = s.next.Add(hold / time.Duration(h.limit))
	if limit := now.Add(maxHostWait); s.next.After(limit) {
		s.next = limit
	}
	return max(s.next.Sub(now), minHostWait)
}

// nopMetrics is the Metrics of a Worker given none.
type nopMetrics struct{}

func (nopMetrics) JobReceived()                   {}
func (nopMetrics) Finished(string, time.Duration) {}
func (nopMetrics) InFlight(int)                   {}
