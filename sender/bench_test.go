package sender

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hookworker/hookworker/internal/tracing/tracingtest"
)

// BenchmarkSend measures one signed delivery to a local receiver that
// answers 200 with a small JSON body, over a reused connection.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	s := newSender(b, Config{AllowPrivateNetworks: true, SigningSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	req := Request{
		ID:   "order-123-shipped",
		URLs: []string{srv.URL + "/hook"},
		Body: []byte(`{"event":"order.shipped","order":{"id":123,"items":3}}`),
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := s.Send(ctx, req); !res.OK {
			b.Fatalf("send: %s", res.Error)
		}
	}
}

// BenchmarkSendTraced is BenchmarkSend with tracing on: each send runs
// under a job's span and makes its attempt's span, exported in batches
// over OTLP/HTTP to a local collector that discards them.
func BenchmarkSendTraced(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	tp := tracingtest.Discarding(b)
	s := newSender(b, Config{AllowPrivateNetworks: true, SigningSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", TracerProvider: tp})
	req := Request{
		ID:   "order-123-shipped",
		URLs: []string{srv.URL + "/hook"},
		Body: []byte(`{"event":"order.shipped","order":{"id":123,"items":3}}`),
	}
	tracer := tp.Tracer("bench")
	b.ReportAllocs()
	for b.Loop() {
		ctx, span := tracer.Start(context.Background(), "job")
		if res := s.Send(ctx, req); !res.OK {
			b.Fatalf("send: %s", res.Error)
		}
		span.End()
	}
}
