package sender

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestResponseCutOffSaysSo checks that a response kept in part says so:
// a body cut off by the receiver before its end (the connection closed
// short of its Content-Length) and a body longer than the part kept are
// both delivered, with Truncated set; a whole body is not.
func TestResponseCutOffSaysSo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter)
		// response is the Response wanted.
		response string
		cut      bool
	}{
		{
			name:     "whole body",
			respond:  func(w http.ResponseWriter) { reply(w, 200, `{"ok":true}`) },
			response: `{"ok":true}`,
		},
		{
			name: "connection closed mid-body",
			respond: func(w http.ResponseWriter) {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				writeRaw(t, buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial")
			},
			response: `"partial"`,
			cut:      true,
		},
		{
			name:     "longer than the part kept",
			respond:  func(w http.ResponseWriter) { reply(w, 200, strings.Repeat("a", maxKeptBody+1)) },
			response: `"` + strings.Repeat("a", maxKeptBody) + `"`,
			cut:      true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { tt.respond(w) })
			s := newSender(t, Config{AllowPrivateNetworks: true})
			res := send(t, s, Request{ID: "j", URLs: []string{rc.URL}})
			if res.Outcome != Delivered || res.Status != 200 || res.Attempts != 1 {
				t.Fatalf("result %s, status %d, %d attempts; want delivered, 200, 1", res.Outcome, res.Status, res.Attempts)
			}
			if string(res.Response) != tt.response {
				t.Errorf("response = %.40s…, want %.40s…", res.Response, tt.response)
			}
			if !json.Valid(res.Response) {
				t.Errorf("response is not JSON")
			}
			if res.Truncated != tt.cut {
				t.Errorf("truncated = %t, want %t", res.Truncated, tt.cut)
			}
			if p := res.Progress(); p.Truncated != tt.cut {
				t.Errorf("progress truncated = %t, want %t", p.Truncated, tt.cut)
			}
		})
	}
}

func writeRaw(t *testing.T, w *bufio.ReadWriter, s string) {
	t.Helper()
	if _, err := w.WriteString(s); err != nil {
		t.Error(err)
	}
	if err := w.Flush(); err != nil {
		t.Error(err)
	}
}
