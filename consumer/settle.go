package consumer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/job"
)

// dispositionKind is what settle does with a job.
type dispositionKind int

// The kinds of disposition.
const (
	// store publishes the result, then acknowledges the job.
	store dispositionKind = iota
	// retry hands the job back with its progress, to come again after
	// disposition.delay (at once when zero).
	retry
	// drop leaves the message alone: it is not a JetStream message.
	drop
	// confirm acknowledges the job: its result is stored already (a
	// delivery lost before its acknowledgement stored it).
	confirm
	// wait leaves the job parked (see hostLimiter.park): it is settled
	// later.
	wait
	// leave leaves a parked job to the server, neither acknowledged nor
	// handed back: another worker may have it by now (see
	// Worker.elsewhere), and either word would act on that worker's
	// delivery. The server delivers it again after AckWait if no other
	// worker has it.
	leave
)

// disposition is the one decision the delivery path returns for a job.
type disposition struct {
	kind   dispositionKind
	result job.Result
	delay  time.Duration
	why    string
}

// ack is the disposition of a job with terminal result r.
func ack(r job.Result) disposition { return disposition{kind: store, result: r} }

// confirmed is the disposition of a job whose result r is stored already.
func confirmed(r job.Result) disposition { return disposition{kind: confirm, result: r} }

// handBack is the disposition of a job to come again after delay.
func handBack(delay time.Duration, why string) disposition {
	return disposition{kind: retry, delay: delay, why: why}
}

// opTimeout bounds a NATS operation on the way out of a job (publish,
// ack, state), its tries included (see tryTimeout).
const opTimeout = 10 * time.Second

// tryTimeout bounds one try of a request the worker sends again while it
// goes unanswered: a result (the result stream stores it once, by its
// message id), an acknowledgement, a state deletion. A server drops a
// request that reaches a stream or a consumer while it has no leader (a
// server of the cluster went away, and another is being elected), and
// answers nothing: waiting opTimeout for the answer would hold the job's
// slot all that time, where the request sent again is answered as soon as
// the new leader is in place.
const tryTimeout = 2 * time.Second

// requests sends the requests on the way out of one job: each is sent
// again while its try ends unanswered (see tryTimeout), within opTimeout
// for them all. Its context is that of the current try.
type requests struct {
	w      *Worker
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc
	end    time.Time
}

// requests starts the requests on the way out of a job, within opTimeout;
// done ends them.
func (w *Worker) requests() requests {
	return w.requestsWithin(context.Background(), opTimeout)
}

// requestsWithin starts requests that end with ctx, or after total.
func (w *Worker) requestsWithin(ctx context.Context, total time.Duration) requests {
	tctx, cancel := w.linked(ctx, min(tryTimeout, total))
	return requests{w: w, parent: ctx, ctx: tctx, cancel: cancel, end: time.Now().Add(total)}
}

// send sends op's request, and again in a new try each time a try ends
// before an answer, until the requests' time is over. It returns op's last
// error.
func (q *requests) send(op func(context.Context) error) error {
	for {
		err := op(q.ctx)
		left := time.Until(q.end)
		if err == nil || !errors.Is(q.ctx.Err(), context.DeadlineExceeded) || left <= 0 {
			return err
		}
		q.cancel()
		q.ctx, q.cancel = q.w.linked(q.parent, min(tryTimeout, left))
	}
}

func (q *requests) done() { q.cancel() }

// linked bounds a NATS operation: timeout, the end of ctx, or the loss of
// the connection it goes out on (see Options.Link).
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

// settle applies disp to d's message: the only place a job is
// acknowledged or handed back. stop ends the message's keep-alive.
//
//   - store: the result is published, then the job is acknowledged
//     (DoubleAck) and its state deleted. A result that cannot be stored is
//     kept in the state bucket and the job handed back after a second: the
//     next delivery stores it instead of sending again. An acknowledgement
//     that is lost keeps the result in the state the same way.
//   - confirm: the job is acknowledged and its state deleted; nothing is
//     published. An acknowledgement that is lost leaves the state as it
//     was: the next delivery finds the stored result again.
//   - retry: the hand-back and the job's progress are recorded in the state
//     bucket, then the job is handed back (Nak, or NakWithDelay).
//   - drop: nothing.
//   - leave: nothing either, but a warning saying why.
func (w *Worker) settle(d *delivery, disp disposition, stop func()) {
	switch disp.kind {
	case store:
		w.store(d, disp.result, stop)
	case confirm:
		w.confirmStored(d, disp.result, stop)
	case retry:
		w.handBack(d, disp.delay, disp.why, stop)
	case leave:
		w.logFor(d).Warn("parked job left to the server", "job_id", d.job.ID, "reason", disp.why)
	}
}

// store publishes r on the result stream and acknowledges the job.
func (w *Worker) store(d *delivery, r job.Result, stop func()) {
	q := w.requests()
	defer q.done()
	if d.span != nil && r.TraceID == "" {
		r.TraceID = d.span.SpanContext().TraceID().String()
	}
	vals := []string{r.ID, string(r.Outcome)} // one allocation for the values
	msg := &nats.Msg{Subject: w.cfg.ResultSubject, Header: nats.Header{
		nats.MsgIdHdr:     vals[0:1:1],
		job.HeaderJobID:   vals[0:1:1],
		job.HeaderOutcome: vals[1:2:2],
	}}
	// The result is cut to fit the server's max payload.
	r, data, err := job.Fit(r, int(w.maxPayload()), msg.Header)
	if err != nil {
		// A Result always marshals, and fits once its parts are cut;
		// keep the job for another try.
		w.logFor(d).Error("encode result", "job_id", r.ID, "error", err)
		w.handBack(d, time.Second, "result not encoded", stop)
		return
	}
	msg.Data = data
	if err := q.send(func(ctx context.Context) error {
		_, err := w.pub.PublishMsg(ctx, msg)
		return err
	}); err != nil {
		w.logFor(d).Warn("publish result, job handed back", "job_id", r.ID, "error", err)
		d.state.Result = &r
		d.state.Progress.Response = nil // the result holds it
		w.handBack(d, time.Second, "result not stored", stop)
		return
	}
	if !w.acknowledge(&q, d, r.ID, stop) {
		// The result is stored; if the ack was lost the job comes back and
		// the stored result is published again (the result stream drops
		// the duplicate), not sent again.
		d.state.Result = &r
		d.state.Progress.Response = nil // the result holds it
		d.handBack()
		// The ack's own tries may have ended (timed out, or the connection
		// went): the state goes out with fresh ones.
		sq := w.requests()
		w.saveState(&sq, d)
		sq.done()
	}
	w.finished(q.ctx, r)
}

// confirmStored acknowledges the job whose result r is stored already.
func (w *Worker) confirmStored(d *delivery, r job.Result, stop func()) {
	q := w.requests()
	defer q.done()
	if w.acknowledge(&q, d, r.ID, stop) {
		w.finished(q.ctx, r)
	}
}

// acknowledge acknowledges d's job (DoubleAck), whose result is stored,
// and deletes its state. It reports whether the acknowledgement was
// confirmed.
func (w *Worker) acknowledge(q *requests, d *delivery, id string, stop func()) bool {
	stop()
	if err := q.send(d.msg.DoubleAck); err != nil {
		w.logFor(d).Warn("acknowledge job", "job_id", id, "error", err)
		return false
	}
	if d.stored {
		if err := q.send(func(ctx context.Context) error { return w.state.Delete(ctx, d.stateKey) }); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			w.logFor(d).Warn("delete job state", "job_id", id, "error", err)
		}
	}
	return true
}

// finished counts and logs the terminal result r.
func (w *Worker) finished(ctx context.Context, r job.Result) {
	w.metrics.Finished(string(r.Outcome), r.FinishedAt.Sub(r.StartedAt))
	w.logFinished(ctx, r)
}

// logFinished writes the info line of a finished job; it costs nothing
// when info is not enabled.
func (w *Worker) logFinished(ctx context.Context, r job.Result) {
	if !w.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
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
	if r.TraceID != "" {
		attrs = append(attrs, slog.String("trace_id", r.TraceID))
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "job finished", attrs...)
}

// handBack records the hand-back (and the job's progress) in the state
// bucket, then asks for redelivery after delay.
func (w *Worker) handBack(d *delivery, delay time.Duration, why string, stop func()) {
	d.handBack()
	if d.stateKey != "" {
		q := w.requests()
		w.saveState(&q, d)
		q.done()
	}
	stop()
	var err error
	if delay > 0 {
		err = d.msg.NakWithDelay(delay)
	} else {
		err = d.msg.Nak()
	}
	if err != nil {
		w.logFor(d).Warn("hand job back", "job_id", d.job.ID, "reason", why, "error", err)
		return
	}
	w.logFor(d).Debug("job handed back", "job_id", d.job.ID, "reason", why, "delay", delay)
}
