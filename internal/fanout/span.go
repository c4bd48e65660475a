package fanout

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/natstrace"
)

// consumerKind starts the fan-outs' spans; made once, as each option made
// is an allocation.
var consumerKind = trace.WithSpanKind(trace.SpanKindConsumer)

// startSpan starts the span of the fan-out of msg's event, the child of
// the span its traceparent names (a root span without one), and returns
// ctx carrying it.
func (f *Fanout) startSpan(ctx context.Context, msg jetstream.Msg) (context.Context, trace.Span) {
	ctx = natstrace.Extract(ctx, msg.Headers())
	ctx, span := f.tracer.Start(ctx, "hookworker.fanout", consumerKind)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", msg.Subject()))
	}
	return ctx, span
}

// endSpan ends the span of a fan-out settled as disp says.
func endSpan(span trace.Span, disp *disposition) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("hookworker.event_id", disp.ev.ID), attribute.String("hookworker.event_type", disp.ev.Type))
		if disp.ev.Tenant != "" {
			span.SetAttributes(attribute.String("hookworker.tenant", disp.ev.Tenant))
		}
		switch disp.kind {
		case fannedOut:
			span.SetAttributes(attribute.String("hookworker.outcome", "fanned out"))
		case refused:
			span.SetAttributes(attribute.String("hookworker.outcome", "rejected"))
			span.SetStatus(codes.Error, disp.err.Error())
		case retry:
			span.SetAttributes(attribute.String("hookworker.outcome", "handed back"))
			span.SetStatus(codes.Error, disp.why+": "+disp.err.Error())
		case abandon:
			span.SetAttributes(attribute.String("hookworker.outcome", "abandoned"))
		}
	}
	span.End()
}
