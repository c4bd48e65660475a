package consumer

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/natstrace"
)

// consumerKind starts the jobs' spans; made once, as each option made is
// an allocation.
var consumerKind = trace.WithSpanKind(trace.SpanKindConsumer)

// startSpan starts the span of d's job, the child of the span its
// message's traceparent names (a root span without one), and returns ctx
// carrying it.
func (w *Worker) startSpan(ctx context.Context, d *delivery) context.Context {
	ctx = natstrace.Extract(ctx, d.msg.Headers())
	ctx, d.span = w.tracer.Start(ctx, "hookworker.job", consumerKind)
	return ctx
}

// endSpan ends the span of d's job, settled as disp says: its outcome, or
// that it was handed back and why. Its attributes are few, as each is
// encoded for export, per job: the job's id and outcome, the attempts of a
// job that ended; its attempts' spans hold their URL and status.
func (w *Worker) endSpan(d *delivery, disp *disposition) {
	span := d.span
	if span.IsRecording() {
		id := attribute.String("hookworker.job_id", d.job.ID)
		switch disp.kind {
		case store, confirm:
			r := &disp.result
			span.SetAttributes(id, attribute.String("hookworker.outcome", string(r.Outcome)), attribute.Int("hookworker.attempts", r.Attempts))
			if !r.OK {
				span.SetStatus(codes.Error, r.Error)
			}
		case retry:
			span.SetAttributes(id, attribute.String("hookworker.outcome", "handed back: "+disp.why))
		case leave:
			span.SetAttributes(id, attribute.String("hookworker.outcome", "left to the server: "+disp.why))
		default:
			span.SetAttributes(id)
		}
	}
	span.End()
}

// logFor is the logger of the lines of d's job: the worker's, with the
// job's trace_id when it is traced.
func (w *Worker) logFor(d *delivery) *slog.Logger {
	if d.span == nil {
		return w.log
	}
	if d.log == nil {
		d.log = w.log.With(slog.String("trace_id", d.span.SpanContext().TraceID().String()))
	}
	return d.log
}
