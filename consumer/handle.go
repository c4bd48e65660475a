package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/redact"
	"github.com/hookworker/hookworker/sender"
)

// delivery is one message being handled.
type delivery struct {
	msg      jetstream.Msg
	meta     *jetstream.MsgMetadata
	job      job.Job
	host     string
	state    state
	stateKey string
	// stored reports whether the bucket holds state for the job.
	stored bool
	start  time.Time
	// token reports whether the job holds a working token.
	token bool
	// span is the job's span, nil when not tracing; log is the worker's
	// logger with the job's trace_id, made when first needed (see logFor).
	span trace.Span
	log  *slog.Logger
	// stop ends the message's keep-alive.
	stop func()
	// send is the job's send, kept while the job is parked.
	send func(context.Context, sender.Request) sender.Result
	// next is the parked job that took the slot of its host this job
	// released: it runs next, with this job's slot of the worker.
	next *delivery
}

// handle runs one message to its disposition and settles it. It never
// panics. It reports whether the job still holds its working token, and
// the parked job, if any, that is to run next with the job's slot of the
// worker (see resume). A job that handle parks is settled later, by resume
// or handBackParked.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) (token bool, next *delivery) {
	w.metrics.JobReceived()
	w.metrics.InFlight(1)
	d := &delivery{msg: msg, start: time.Now(), token: true, stop: w.keepAlive(msg)}
	if w.tracer != nil {
		ctx = w.startSpan(ctx, d)
	}
	disp := w.decide(ctx, d, w.run)
	if disp.kind == wait {
		// Parked, with its working token (see waitOrPark), which stays
		// with this goroutine. d is no longer this goroutine's: the job
		// that frees a slot of its host may be running it already.
		return true, nil
	}
	w.finish(d, disp)
	return d.token, d.next
}

// resume runs parked job d, which a slot of its host went to, with a slot
// of the worker (that of the job that released the host's slot, or a free
// one, see spread): it takes a working token, sends the job and settles
// it; or, when ctx ends first, hands it back; or, when another worker may
// have it by now (see elsewhere), leaves it to the server. It reports what
// handle does.
func (w *Worker) resume(ctx context.Context, d *delivery) (token bool, next *delivery) {
	if why := w.elsewhere(d); why != "" {
		d.next = w.hosts.release(d.host, 0)
		w.finish(d, disposition{kind: leave, why: why})
		return false, d.next
	}
	select {
	case w.working <- struct{}{}:
		d.token = true
	case <-ctx.Done():
		d.next = w.hosts.release(d.host, 0)
		w.finish(d, handBack(0, "worker stopping"))
		return false, d.next
	}
	if d.span != nil {
		ctx = trace.ContextWithSpan(ctx, d.span)
	}
	w.finish(d, w.decide(ctx, d, w.sendParked))
	return d.token, d.next
}

// sendParked sends parked job d, which holds a slot of its host.
func (w *Worker) sendParked(ctx context.Context, d *delivery) disposition {
	return w.sendHeld(ctx, d, d.send)
}

// finish settles d as disp says and ends its span.
func (w *Worker) finish(d *delivery, disp disposition) {
	w.settle(d, disp, d.stop)
	d.stop()
	if d.span != nil {
		w.endSpan(d, &disp)
	}
	w.metrics.InFlight(-1)
}

// handBackParked hands back parked jobs ds, which did not get a slot of
// their host, why, and returns when they are: each comes again at once, or
// when its host should have a slot for it when paced. One that another
// worker may have by now (see elsewhere) is left to the server instead.
func (w *Worker) handBackParked(ds []*delivery, why string, paced bool) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, handBackParkedAtOnce)
	for _, d := range ds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if why := w.elsewhere(d); why != "" {
				w.finish(d, disposition{kind: leave, why: why})
				return
			}
			var delay time.Duration
			if paced {
				delay = w.hosts.queue(d.host, w.hosts.now())
			}
			w.finish(d, handBack(delay, why))
		})
	}
	wg.Wait()
}

// expired hands back parked jobs ds that waited too long, in the
// background (Run waits for it). It is called with the hostLimiter's lock
// held, before the worker's Run can find the parked jobs gone and wait for
// the background: so it only starts the work.
func (w *Worker) expired(ds []*delivery) {
	w.background.Add(1)
	go func() {
		defer w.background.Done()
		w.handBackParked(ds, "parked too long", true)
	}()
}

// elsewhere says why parked job d may be with another worker by now, ""
// when it cannot be: the connection was down, since d came, for longer
// than its keep-alive bridges. The keep-alive tells the server every
// keepAliveEvery; the last word the server surely has may be from two
// ticks before the connection dropped, so an outage longer than AckWait
// less two ticks may have outlasted the server's AckWait.
func (w *Worker) elsewhere(d *delivery) string {
	if w.cfg.Outage == nil {
		return ""
	}
	bridged := w.cfg.AckWait - 2*w.keepAliveEvery()
	if out := w.cfg.Outage(d.start); out > bridged {
		return fmt.Sprintf("the connection was down for %s while it waited, longer than its keep-alive bridges (%s): another worker may have it",
			out.Round(time.Millisecond), bridged)
	}
	return ""
}

// handBackParkedAtOnce bounds the parked jobs handed back at once.
const handBackParkedAtOnce = 64

// parkedSize is the memory parked job d is taken to hold: its message,
// its decoded job (as large again) and what goes with them.
func parkedSize(d *delivery) int64 {
	return 2*int64(len(d.msg.Data())) + 1024
}

// returnUnstarted settles a job fetched as the worker stops, without
// sending it: decoded and its state loaded as any job's, then handed back
// (or settled as begin decides, for a job that is already done).
func (w *Worker) returnUnstarted(ctx context.Context, msg jetstream.Msg) {
	d := &delivery{msg: msg, start: time.Now()}
	disp, ok := w.begin(ctx, d)
	if ok {
		disp = handBack(0, "worker stopping")
	}
	w.settle(d, disp, func() {})
}

// decide runs path, the delivery path or the rest of it, and returns its
// disposition; a panic on the way becomes a failed result.
func (w *Worker) decide(ctx context.Context, d *delivery, path func(context.Context, *delivery) disposition) (disp disposition) {
	defer func() {
		if p := recover(); p != nil {
			w.logFor(d).Error("job panicked", "job_id", d.job.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r := sender.Result{Outcome: sender.Failed, Error: fmt.Sprintf("internal error: %v", p),
				Attempts: d.state.Progress.Attempts, StartedAt: d.start, FinishedAt: time.Now()}
			disp = ack(newResult(&d.job, r))
		}
	}()
	return path(ctx, d)
}

// run takes a job from its message to a disposition. It is the bottom of
// every job goroutine's stack while the job waits on its destination, so it
// keeps a small frame: the rare paths live in begin and outcome.
func (w *Worker) run(ctx context.Context, d *delivery) disposition {
	if disp, ok := w.begin(ctx, d); !ok {
		return disp
	}
	deliverer := w.deliverers[d.job.Type]
	if deliverer == nil {
		return w.reject(d, fmt.Errorf("type %q: no deliverer in this worker", d.job.Type))
	}
	send, err := deliverer(&d.job)
	if err != nil {
		return w.reject(d, err)
	}
	// A job whose destination host is saturated waits for a slot in the
	// process, holding one of the worker's, only when the wait is short:
	// 10,000 jobs to a dead host would otherwise fill every slot while the
	// jobs behind them, to healthy hosts, waited their turn. A job whose
	// wait would be longer is parked, holding nothing, when its host should
	// have a slot for it within a minute or has not answered yet, and the
	// bounds of parked jobs allow; else it is handed back, its redelivery paced at the rate the
	// host frees slots, so that the redeliveries do not crowd out the jobs
	// behind them either (the server hands out redeliveries first). Either
	// way the host's jobs hold at most HostConcurrency slots.
	if !w.hosts.tryAcquire(d.host) {
		if disp, ok := w.waitOrPark(ctx, d, send); !ok {
			return disp
		}
	}
	return w.sendHeld(ctx, d, send)
}

// sendHeld sends d's job, which holds a slot of its host, and releases the
// slot: to a parked job, d.next, when the host's line is empty.
func (w *Worker) sendHeld(ctx context.Context, d *delivery, send func(context.Context, sender.Request) sender.Result) disposition {
	acquired := time.Now()
	defer func() { d.next = w.hosts.release(d.host, time.Since(acquired)) }()
	res := w.deliver(ctx, d, send)
	return w.outcome(d, &res)
}

// waitOrPark gets d a slot of its busy host (see run). It reports whether
// d holds one; if not, it returns d's disposition: parked, or handed back.
func (w *Worker) waitOrPark(ctx context.Context, d *delivery, send func(context.Context, sender.Request) sender.Result) (disposition, bool) {
	if w.waitHost(ctx, d) {
		return disposition{}, true
	}
	// Only a job that holds its working token is parked: its goroutine
	// keeps the token, and goes on to other jobs.
	if ctx.Err() == nil && d.token {
		d.send = send
		switch w.hosts.park(d, parkedSize(d)) {
		case parkGot:
			return disposition{}, true
		case parked:
			return disposition{kind: wait}, false
		}
	}
	return handBack(w.hosts.queue(d.host, w.hosts.now()), "host busy"), false
}

// waitHost waits in the line of d's host for a slot, without a working
// token (see hostLimiter.acquire). It reports whether the job got the slot
// and its working token back.
func (w *Worker) waitHost(ctx context.Context, d *delivery) bool {
	wait := func() {
		<-w.working
		d.token = false
	}
	resume := func() {
		select {
		case w.working <- struct{}{}:
			d.token = true
		case <-ctx.Done():
		}
	}
	if !w.hosts.acquire(ctx, d.host, wait, resume) {
		return false
	}
	if !d.token {
		// Interrupted while waiting for the token: hand the job back.
		d.next = w.hosts.release(d.host, 0)
		return false
	}
	return true
}

// begin decodes d's job and loads what earlier deliveries left of it. It
// reports whether the job is to be sent; when not, it returns the
// disposition.
func (w *Worker) begin(ctx context.Context, d *delivery) (disposition, bool) {
	meta, err := d.msg.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to acknowledge.
		w.log.Error("message without jetstream metadata", "error", err)
		return disposition{kind: drop}, false
	}
	d.meta = meta
	fallback := d.msg.Headers().Get(nats.MsgIdHdr)
	if fallback == "" {
		fallback = meta.Stream + "-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	j, decodeErr := job.Decode(d.msg.Data(), fallback)
	j.Sequence = meta.Sequence.Stream
	d.job = j
	if decodeErr == nil {
		decodeErr = w.checkSubject(d.msg.Subject(), &j)
	}
	if decodeErr != nil {
		return ack(job.Reject(j, decodeErr, d.start)), false
	}
	d.host = hostOf(&d.job)
	d.stateKey = stateKey(j.ID)
	d.state.StartedAt = d.start
	if meta.NumDelivered == 1 {
		return disposition{}, true
	}
	w.loadState(ctx, d)
	if d.state.Result != nil {
		// Delivered before; its result was not confirmed stored.
		return ack(*d.state.Result), false
	}
	if r, ok := w.storedResult(ctx, d); ok {
		// A lost delivery stored the result before it was lost.
		return confirmed(r), false
	}
	lost := int(meta.NumDelivered) - 1 - d.state.HandedBack
	// The deliveries after the one that wrote the state wrote nothing: each
	// is counted as one attempt (a delivery is lost while it waits on its
	// destination, or it would have written its progress).
	if unrecorded := min(int(meta.NumDelivered)-1-int(d.state.Delivery), lost); unrecorded > 0 {
		d.state.Progress.Attempts += unrecorded
	}
	if lost > 0 && lost >= w.cfg.MaxRedeliveries {
		p := d.state.Progress
		r := sender.Result{
			Outcome: sender.Failed, Status: p.Status, Response: p.Response, Truncated: p.Truncated,
			URL: p.URL, Attempts: p.Attempts, Retries: p.Retries,
			Error:     fmt.Sprintf("abandoned after %d deliveries without completion", lost),
			StartedAt: d.state.StartedAt, FinishedAt: time.Now(),
		}
		if r.URL == "" {
			r.URL = firstURL(&d.job, redact.URL)
		}
		return ack(newResult(&d.job, r)), false
	}
	return disposition{}, true
}

// firstURL is the first destination of j, redacted by redacted; empty
// without one.
func firstURL(j *job.Job, redacted func(string) string) string {
	if len(j.URLs) > 0 {
		return redacted(j.URLs[0])
	}
	return ""
}

// reject is the disposition of a job its Deliverer refused: rejected,
// nothing sent. Its URL is shown with the whole path hidden unless it is a
// well-formed webhook URL: a refused URL may be a mistyped one whose path
// holds a token.
func (w *Worker) reject(d *delivery, err error) disposition {
	now := time.Now()
	r := sender.Result{Outcome: sender.Rejected, Error: err.Error(), Attempts: d.state.Progress.Attempts,
		Retries: d.state.Progress.Retries, StartedAt: d.state.StartedAt, FinishedAt: now}
	r.URL = firstURL(&d.job, redact.Path)
	w.logFor(d).LogAttrs(context.Background(), slog.LevelDebug, "job rejected", slog.String("job_id", d.job.ID), slog.String("error", r.Error))
	return ack(newResult(&d.job, r))
}

// deferMargin is added to a deferral's wait when the job is handed back:
// the server's redelivery timer may fire a few milliseconds before the
// delay it was given, and a destination that asked for a wait (a
// Retry-After) must not get the retry before it.
const deferMargin = 25 * time.Millisecond

// outcome maps the result of a send to the job's disposition: a terminal
// result is stored and acknowledged, whatever happened to the context
// meanwhile; a deferral is handed back after its wait, an interruption at
// once, both with their progress.
func (w *Worker) outcome(d *delivery, res *sender.Result) disposition {
	switch res.Outcome {
	case sender.Deferred:
		d.state.Progress = res.Progress()
		w.logFor(d).Info("job deferred", "job_id", d.job.ID, "defer", res.Defer, "attempts", res.Attempts, "status", res.Status)
		return handBack(res.Defer+deferMargin, "deferred")
	case sender.Interrupted:
		d.state.Progress = res.Progress()
		return handBack(0, "interrupted by shutdown")
	}
	if !d.state.StartedAt.IsZero() && d.state.StartedAt.Before(res.StartedAt) {
		res.StartedAt = d.state.StartedAt
	}
	return ack(newResult(&d.job, *res))
}

// deliver sends d's job. Waiting on the destination is not work of the
// job's own: it gives its working token back meanwhile, and takes one again
// before it goes on, unless ctx ends first (the job then settles without
// one).
func (w *Worker) deliver(ctx context.Context, d *delivery, send func(context.Context, sender.Request) sender.Result) sender.Result {
	req := request(&d.job, w.cfg.Limits)
	req.Prior = d.state.Progress
	req.BeforeRetry = func(p sender.Progress) { w.saveProgress(ctx, d, p) }
	if on := w.cfg.OnAttempt; on != nil {
		req.OnAttempt = func(a sender.Attempt) { on(&d.job, a) }
	}
	<-w.working
	d.token = false
	defer func() {
		select {
		case w.working <- struct{}{}:
			d.token = true
		case <-ctx.Done():
		}
	}()
	return send(ctx, req)
}

// checkSubject reports whether job j may come on subject: a job that names
// an endpoint is signed with the endpoint's secret, and one that names a
// tenant is counted as that tenant's, so only the fan-out's subjects carry
// them, and they carry nothing else. A job to an ordered endpoint comes on
// the endpoint's own subject (bus.OrderedSubject), marked ordered, and
// only such a job does.
func (w *Worker) checkSubject(subject string, j *job.Job) error {
	named := j.Endpoint != "" || j.Event != nil || j.Tenant != ""
	fanout := subject == w.cfg.EndpointSubject && subject != ""
	ordered := w.cfg.EndpointSubject != "" && j.Endpoint != "" && isOrderedSubject(subject, w.cfg.EndpointSubject, j.Endpoint)
	switch {
	case ordered && !j.Ordered:
		return fmt.Errorf("endpoint: a job on %s must be marked ordered", subject)
	case ordered:
		return nil
	case named && !fanout:
		return errors.New("endpoint: only the jobs hookworker makes from events may name an endpoint, an event or a tenant; send events with events.send")
	case fanout && j.Endpoint == "":
		return fmt.Errorf("endpoint: a job on %s must name its endpoint and event", subject)
	case j.Ordered:
		return fmt.Errorf("ordered: a job marked ordered comes on %s.%s", w.cfg.EndpointSubject, j.Endpoint)
	}
	return nil
}

// isOrderedSubject reports whether subject is endpointSubject + "." +
// endpoint, without building it: every event job asks.
func isOrderedSubject(subject, endpointSubject, endpoint string) bool {
	rest, ok := strings.CutPrefix(subject, endpointSubject)
	return ok && len(rest) == 1+len(endpoint) && rest[0] == '.' && rest[1:] == endpoint
}
