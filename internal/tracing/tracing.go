// Package tracing sets up OpenTelemetry tracing from the standard OTEL_
// variables: spans are exported over OTLP/HTTP (protobuf) when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set,
// and nothing is traced otherwise. Every other OTEL_ variable the
// OpenTelemetry SDK and its OTLP/HTTP exporter read applies as they
// document it (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_…).
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The variables that switch tracing on, and off again.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
)

// The variables naming the OTLP protocol: only http/protobuf is spoken.
var protocolVars = []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"}

// Tracing is the process's tracing: a provider exporting spans, or the
// no-op provider when tracing is off.
type Tracing struct {
	sdk *sdktrace.TracerProvider
}

// Enabled reports whether the environment asks for tracing: an OTLP
// endpoint is set, and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none says otherwise.
func Enabled(getenv func(string) string) bool {
	if getenv(EnvEndpoint) == "" && getenv(EnvTracesEndpoint) == "" {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(getenv(EnvSDKDisabled)), "true") {
		return false
	}
	return !strings.EqualFold(strings.TrimSpace(getenv(EnvTracesExporter)), "none")
}

// Setup reads the OTEL_ variables and returns the process's Tracing;
// service is the default service.name and version its service.version.
// Export errors go to log. Its error names the variable at fault.
func Setup(ctx context.Context, service, version string, log *slog.Logger) (*Tracing, error) {
	if !Enabled(os.Getenv) {
		return &Tracing{}, nil
	}
	for _, v := range protocolVars {
		if p := os.Getenv(v); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s: %q is not supported: hookworker exports traces over OTLP/HTTP, http/protobuf", v, p)
			}
			break // the more specific one decides
		}
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		name := EnvTracesEndpoint
		if os.Getenv(name) == "" {
			name = EnvEndpoint
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Later detectors win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override the defaults.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	if log != nil {
		// The SDK reports export failures through this one global.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("export traces", "error", err)
		}))
	}
	return &Tracing{sdk: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// On reports whether spans are exported.
func (t *Tracing) On() bool { return t.sdk != nil }

// Provider is the tracer provider to hand the worker's parts: the no-op
// provider when tracing is off, which they take for no tracing at all.
func (t *Tracing) Provider() trace.TracerProvider {
	if t.sdk == nil {
		return noop.NewTracerProvider()
	}
	return t.sdk
}

// Shutdown exports the spans still buffered and stops the exporter, within
// ctx. It does nothing when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}
