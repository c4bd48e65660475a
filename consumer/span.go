package consumer

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/natstrace"
)

// startSpan starts the span of d's job, the child of the span its
// message's traceparent names (a root span without one), and returns ctx
// carrying it.
func (w *Worker) startSpan(ctx context.Context, d *delivery) context.Context {
	ctx = natstrace.Extract(ctx, d.msg.Headers())
	ctx, d.span = w.tracer.Start(ctx, "hookworker.job", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(d.start))
	if d.span.IsRecording() {
		d.span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", d.msg.Subject()))
	}
	return ctx
}

// endSpan ends the span of d's job, settled as disp says: its outcome, or
// that it was handed back and why.
func (w *Worker) endSpan(d *delivery, disp *disposition) {
	span := d.span
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 7)
		attrs = append(attrs, attribute.String("hookworker.job_id", d.job.ID), attribute.String("hookworker.job_type", string(d.job.Type)))
		if d.meta != nil {
			attrs = append(attrs, attribute.Int64("hookworker.delivery", int64(d.meta.NumDelivered)))
		}
		switch disp.kind {
		case store, confirm:
			r := &disp.result
			attrs = append(attrs, attribute.String("hookworker.outcome", string(r.Outcome)), attribute.Int("hookworker.attempts", r.Attempts))
			if r.Status != 0 {
				attrs = append(attrs, attribute.Int("http.response.status_code", r.Status))
			}
			if !r.OK {
				span.SetStatus(codes.Error, r.Error)
			}
		case retry:
			attrs = append(attrs, attribute.String("hookworker.outcome", "handed back"), attribute.String("hookworker.reason", disp.why))
		}
		span.SetAttributes(attrs...)
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
