package fanout

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
)

// TestJobEncoder checks that the jobs written without reflection are the
// bytes json.Marshal makes of the same jobs.
func TestJobEncoder(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 1, time.UTC)
	tests := []struct {
		name string
		ev   catalog.Event
		ep   catalog.Endpoint
	}{
		{"plain", catalog.Event{ID: "e1", Type: "order.created", Timestamp: at, Payload: json.RawMessage(`{"a":1}`)},
			catalog.Endpoint{ID: "ep_1", URL: "https://example.com/hook"}},
		{"channel and headers", catalog.Event{ID: "e2", Type: "order.created", Channel: "acme", Timestamp: at, Payload: json.RawMessage(`[1, 2]`)},
			catalog.Endpoint{ID: "ep_2", URL: "https://example.com/hook?a=1&b=<2>", Headers: map[string]string{"X-B": "2", "X-A": "é\"\\"}}},
		{"spaced payload", catalog.Event{ID: "e3", Type: "a.b", Timestamp: at.In(time.FixedZone("x", 3600)), Payload: json.RawMessage("{\n \"k\" : \"<v>\"\n}")},
			catalog.Endpoint{ID: "ep-3", URL: "http://[::1]:8080/h\u2028"}},
		{"no payload", catalog.Event{ID: "e4", Type: "a.b"}, catalog.Endpoint{ID: "ep_4", URL: "https://example.com/"}},
		{"tenant", catalog.Event{ID: "e5", Type: "a.b", Tenant: "acme", Timestamp: at, Payload: json.RawMessage(`{}`)},
			catalog.Endpoint{ID: "ep_5", URL: "https://example.com/", Tenant: "acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJob(JobID(tt.ev.ID, tt.ep.ID), tt.ev, tt.ep)
			want, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := newJobEncoder(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.encode(j)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encode:\n got %s\nwant %s", got, want)
			}
		})
	}
}
