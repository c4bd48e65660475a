package sender

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/redact"
)

// clientKind starts the attempts' spans; made once, as each option made
// is an allocation.
var clientKind = oteltrace.WithSpanKind(oteltrace.SpanKindClient)

// startSpan starts the span of the attempt about to go to d.urls[d.cur],
// the child of the span of ctx, and returns ctx carrying it.
func (d *delivery) startSpan(ctx context.Context) context.Context {
	d.code = 0
	ctx, d.span = d.s.tracer.Start(ctx, http.MethodPost, clientKind)
	return ctx
}

// endSpan ends the attempt's span with what the attempt came to: its
// status, or why it got no response. Attributes are few (each is encoded
// for export, per span) and built only for a span that records: the
// redacted URL and the status; the job's span holds the rest.
func (d *delivery) endSpan() {
	span := d.span
	d.span = nil
	if span.IsRecording() {
		u := d.res.URL // the attempt's, redacted, when it ended the delivery
		if !d.done || u == "" {
			u = redact.URL(d.req.URLs[d.last])
		}
		if d.code != 0 {
			span.SetAttributes(attribute.String("url.full", u), attribute.Int("http.response.status_code", d.code))
		} else {
			span.SetAttributes(attribute.String("url.full", u))
		}
		if d.proxy != nil {
			span.SetAttributes(attribute.String("hookworker.proxy", redact.Proxy(d.proxy)))
		}
		switch {
		case d.code >= 400:
			span.SetStatus(codes.Error, statusText(d.code))
		case d.code != 0:
		case d.done: // no response, and the delivery ends here
			span.SetStatus(codes.Error, d.res.Error)
		default: // no response; another attempt follows
			span.SetStatus(codes.Error, d.cause)
		}
	}
	span.End()
}
