package sender

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
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
