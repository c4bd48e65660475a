// Package tracingtest gives benchmarks a tracer provider that exports, as
// the worker's does, over OTLP/HTTP in batches, to a local collector that
// discards what it gets.
package tracingtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Discarding returns a tracer provider batching its spans (with opts) to a
// collector that discards them. The provider is shut down, and the
// collector closed, when tb ends.
func Discarding(tb testing.TB, opts ...sdktrace.BatchSpanProcessorOption) *sdktrace.TracerProvider {
	tb.Helper()
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	tb.Cleanup(collector.Close)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(collector.URL+"/v1/traces"))
	if err != nil {
		tb.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, opts...))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}
