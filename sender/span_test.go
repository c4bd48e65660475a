package sender

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TestAttemptSpans checks that every attempt is a client span, the child
// of the span Send's context carries, and that its request carries the
// attempt's traceparent.
func TestAttemptSpans(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	rc, got := recorder(t, 503)
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 1, TracerProvider: tp})

	ctx, parent := tp.Tracer("test").Start(context.Background(), "job")
	res := s.Send(ctx, Request{ID: "j1", URLs: []string{rc.URL + "/hook?token=secret"}, Body: []byte(`{}`)})
	parent.End()
	if res.Outcome != Delivered || res.Attempts != 2 {
		t.Fatalf("result %+v, want delivered in 2 attempts", res)
	}
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range exp.GetSpans().Snapshots() {
		if s.Name() == "POST" {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(attempts))
	}
	reqs := got()
	for i, span := range attempts {
		if span.Parent().SpanID() != parent.SpanContext().SpanID() || span.SpanKind() != oteltrace.SpanKindClient {
			t.Errorf("attempt %d: parent %s kind %s, want the job's span, client", i+1, span.Parent().SpanID(), span.SpanKind())
		}
		want := "00-" + parent.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"
		if tp := reqs[i].header.Get("Traceparent"); tp != want {
			t.Errorf("attempt %d: traceparent %q, want %q", i+1, tp, want)
		}
		for _, a := range span.Attributes() {
			if a.Key == "url.full" && strings.Contains(a.Value.AsString(), "secret") {
				t.Errorf("attempt %d: url.full %q holds the secret", i+1, a.Value.AsString())
			}
		}
	}
	if c := attempts[0].Status().Code.String(); c != "Error" {
		t.Errorf("the 503 attempt's status %s, want Error", c)
	}
}

// TestNoTracing checks that a Sender given no provider, or the no-op one,
// sends no traceparent, whatever its context carries.
func TestNoTracing(t *testing.T) {
	t.Parallel()
	for name, tp := range map[string]oteltrace.TracerProvider{"nil": nil, "no-op": noop.NewTracerProvider()} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rc, got := recorder(t)
			s := newSender(t, Config{AllowPrivateNetworks: true, TracerProvider: tp})
			sdk := sdktrace.NewTracerProvider()
			ctx, span := sdk.Tracer("test").Start(context.Background(), "job")
			defer span.End()
			if res := s.Send(ctx, Request{ID: "j1", URLs: []string{rc.URL}, Body: []byte(`{}`)}); res.Outcome != Delivered {
				t.Fatalf("result %+v", res)
			}
			if tp := got()[0].header.Get("Traceparent"); tp != "" {
				t.Errorf("traceparent %q sent without tracing", tp)
			}
		})
	}
}
