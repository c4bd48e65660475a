package natstrace_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookworker/hookworker/internal/natstrace"
)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestExtractInject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header nats.Header
		want   string // the trace id extracted, "" for none
	}{
		{"lower case", nats.Header{"traceparent": {parent}}, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"http's case", nats.Header{"Traceparent": {parent}}, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"none", nats.Header{"Nats-Msg-Id": {"j1"}}, ""},
		{"no headers", nil, ""},
		{"malformed", nats.Header{"traceparent": {"00-zz-00f067aa0ba902b7-01"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := natstrace.Extract(context.Background(), tc.header)
			if got := natstrace.TraceID(ctx); got != tc.want {
				t.Fatalf("trace id %q, want %q", got, tc.want)
			}
			msg := &nats.Msg{Subject: "s"}
			natstrace.Inject(ctx, msg)
			if tc.want == "" {
				if msg.Header != nil {
					t.Fatalf("headers %v written without a span context", msg.Header)
				}
				return
			}
			if got := msg.Header.Get(natstrace.HeaderTraceparent); got != parent {
				t.Fatalf("traceparent %q, want %q", got, parent)
			}
			if got := natstrace.Header(ctx).Get(natstrace.HeaderTraceparent); got != parent {
				t.Fatalf("Header's traceparent %q, want %q", got, parent)
			}
		})
	}
}

// TestTraceparent checks that Traceparent writes what the W3C propagator
// does, sampled or not.
func TestTraceparent(t *testing.T) {
	t.Parallel()
	for _, tp := range []string{parent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"} {
		ctx := natstrace.Extract(context.Background(), nats.Header{"traceparent": {tp}})
		if got := natstrace.Traceparent(trace.SpanContextFromContext(ctx)); got != tp {
			t.Errorf("Traceparent = %q, want %q", got, tp)
		}
	}
	if got := natstrace.Traceparent(trace.SpanContext{}); got != "" {
		t.Errorf("Traceparent of no span context = %q, want none", got)
	}
}

func TestTracerOff(t *testing.T) {
	t.Parallel()
	for name, tp := range map[string]trace.TracerProvider{"nil": nil, "no-op": noop.NewTracerProvider()} {
		if natstrace.Tracer(tp, "x") != nil {
			t.Errorf("%s provider: a tracer, want none", name)
		}
	}
}
