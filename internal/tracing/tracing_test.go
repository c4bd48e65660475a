package tracing_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/hookworker/hookworker/internal/tracing"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{tracing.EnvEndpoint: "http://collector:4318"}, true},
		{"traces endpoint", map[string]string{tracing.EnvTracesEndpoint: "http://collector:4318/v1/traces"}, true},
		{"sdk disabled", map[string]string{tracing.EnvEndpoint: "http://c:4318", tracing.EnvSDKDisabled: "true"}, false},
		{"exporter none", map[string]string{tracing.EnvEndpoint: "http://c:4318", tracing.EnvTracesExporter: "none"}, false},
		{"exporter otlp", map[string]string{tracing.EnvEndpoint: "http://c:4318", tracing.EnvTracesExporter: "otlp"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tracing.Enabled(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("Enabled = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOff checks that without an endpoint the provider is the no-op one.
func TestOff(t *testing.T) {
	t.Setenv(tracing.EnvEndpoint, "")
	t.Setenv(tracing.EnvTracesEndpoint, "")
	tr, err := tracing.Setup(context.Background(), "hookworker", "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tr.Provider().(noop.TracerProvider); !ok || tr.On() {
		t.Errorf("provider %T, on %v: want the no-op provider, off", tr.Provider(), tr.On())
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestProtocolNamed checks that a protocol other than http/protobuf is
// refused, naming its variable.
func TestProtocolNamed(t *testing.T) {
	t.Setenv(tracing.EnvEndpoint, "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	_, err := tracing.Setup(context.Background(), "hookworker", "test", nil)
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Fatalf("error %v, want one naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	tr, err := tracing.Setup(context.Background(), "hookworker", "test", nil)
	if err != nil || !tr.On() {
		t.Fatalf("http/protobuf: on %v, error %v", tr != nil && tr.On(), err)
	}
	_ = tr.Shutdown(context.Background())
}
