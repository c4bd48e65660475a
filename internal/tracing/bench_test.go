package tracing_test

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/tracing/tracingtest"
)

// BenchmarkSpanExported is what the OpenTelemetry SDK costs per span as
// the worker makes them: started, given two attributes, ended, batched
// and exported over OTLP/HTTP to a collector that discards what it gets.
// The batcher blocks rather than drop a span, so that every span is
// exported and counted; with -cpu 1 the export shares the one CPU with the
// spans, and ns/op is the whole cost of a span.
//
//	go test -run '^$' -bench SpanExported -benchmem -cpu 1 ./internal/tracing
func BenchmarkSpanExported(b *testing.B) {
	tp := tracingtest.Discarding(b, sdktrace.WithBlocking())
	tracer := tp.Tracer("bench")
	kind := trace.WithSpanKind(trace.SpanKindClient)
	url := attribute.String("url.full", "http://127.0.0.1:8080/hook")
	status := attribute.Int("http.response.status_code", 200)
	b.ReportAllocs()
	for b.Loop() {
		_, span := tracer.Start(context.Background(), http.MethodPost, kind)
		span.SetAttributes(url, status)
		span.End()
	}
	// Untimed: the last batch, a small part of the spans exported.
	if err := tp.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
}
