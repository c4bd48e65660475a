package sender

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/redact"
)

// w3c writes the attempt's traceparent on its request.
var w3c propagation.TraceContext

// startSpan starts the span of the attempt about to go to d.urls[d.cur],
// the child of the span of ctx, and returns ctx carrying it.
func (d *delivery) startSpan(ctx context.Context) context.Context {
	d.code = 0
	ctx, d.span = d.s.tracer.Start(ctx, http.MethodPost, oteltrace.WithSpanKind(oteltrace.SpanKindClient))
	return ctx
}

// endSpan ends the attempt's span with what the attempt came to: its
// status, or why it got no response. Attributes are built only for a span
// that records.
func (d *delivery) endSpan() {
	span := d.span
	d.span = nil
	if span.IsRecording() {
		u := d.urls[d.last]
		attrs := make([]attribute.KeyValue, 0, 7)
		attrs = append(attrs,
			attribute.String("http.request.method", http.MethodPost),
			attribute.String("url.full", redact.URL(d.req.URLs[d.last])),
			attribute.String("server.address", u.Hostname()),
			attribute.String("hookworker.job_id", d.req.ID),
			attribute.Int("hookworker.attempt", d.attempts))
		if p := u.Port(); p != "" {
			attrs = append(attrs, attribute.String("server.port", p))
		}
		if d.proxy != nil {
			attrs = append(attrs, attribute.String("hookworker.proxy", redact.Proxy(d.proxy)))
		}
		if d.code != 0 {
			attrs = append(attrs, attribute.Int("http.response.status_code", d.code))
		}
		span.SetAttributes(attrs...)
		switch cause := d.cause; {
		case d.code >= 400:
			span.SetStatus(codes.Error, statusText(d.code))
		case d.code == 0 && cause == "" && d.done:
			span.SetStatus(codes.Error, d.res.Error)
		case d.code == 0 && cause != "":
			span.SetStatus(codes.Error, cause)
		}
	}
	span.End()
}
