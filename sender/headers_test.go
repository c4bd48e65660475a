package sender

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// captured is one request as the receiver saw it.
type captured struct {
	header http.Header
	body   []byte
}

// recorder is a receiver that keeps every request and answers with the
// statuses given, then 200.
func recorder(t *testing.T, statuses ...int) (*receiver, func() []captured) {
	t.Helper()
	var mu sync.Mutex
	var got []captured
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{header: r.Header.Clone(), body: body})
		mu.Unlock()
		if n <= len(statuses) {
			reply(w, statuses[n-1], "")
			return
		}
		reply(w, 200, "")
	})
	return rc, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), got...)
	}
}

func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

func TestSendSignature(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	rc, requests := recorder(t, 500)
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 1, SigningSecret: secret})
	body := []byte(`{"event":"order.shipped","id":123}`)

	res := s.Send(context.Background(), Request{ID: "order-123-shipped", URLs: []string{rc.URL}, Body: body})
	if !res.OK || res.Attempts != 2 {
		t.Fatalf("got %s after %d attempts: %s", res.Outcome, res.Attempts, res.Error)
	}

	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range requests() {
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Errorf("request %d: signature does not verify: %v", i, err)
		}
		if string(r.body) != string(body) {
			t.Errorf("request %d: body %q, want %q", i, r.body, body)
		}
		if got := r.header.Get("webhook-id"); got != "order-123-shipped" {
			t.Errorf("request %d: webhook-id %q, want the job id on every attempt", i, got)
		}
		// A signature made with another secret must not verify.
		other, _ := standardwebhooks.NewWebhook(newSecret(t))
		if other.Verify(r.body, r.header) == nil {
			t.Errorf("request %d: verifies with another secret", i)
		}
	}
}

func TestSendHeaders(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_790_000_000, 0)
	tests := []struct {
		name     string
		cfg      Config
		req      Request
		want     map[string]string // "" means absent
		signedAt bool
	}{
		{
			name: "defaults",
			want: map[string]string{
				"Content-Type":      "application/json",
				"User-Agent":        "hookworker",
				"Webhook-Id":        "job-1",
				"Webhook-Timestamp": strconv.FormatInt(now.Unix(), 10),
				"Webhook-Signature": "",
			},
		},
		{
			name: "configured user agent and extras",
			cfg:  Config{UserAgent: "acme-hooks/2"},
			req: Request{Header: http.Header{
				"X-Env":             {"prod"},
				"webhook-id":        {"spoofed"},
				"Webhook-Signature": {"v1,spoofed"},
				"Content-Length":    {"1"},
				"content-type":      {"text/plain"},
			}},
			want: map[string]string{
				"X-Env":             "prod",
				"User-Agent":        "acme-hooks/2",
				"Content-Type":      "application/json",
				"Webhook-Id":        "job-1",
				"Webhook-Signature": "",
			},
		},
		{
			name: "extras may set the user agent",
			req:  Request{Header: http.Header{"User-Agent": {"custom/1"}}},
			want: map[string]string{"User-Agent": "custom/1"},
		},
		{
			name: "unsigned leaves out every webhook header",
			cfg:  Config{SigningSecret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef01234567"))},
			req:  Request{Unsigned: true, Header: http.Header{"Webhook-Id": {"spoofed"}}},
			want: map[string]string{
				"Content-Type":      "application/json",
				"Webhook-Id":        "",
				"Webhook-Timestamp": "",
				"Webhook-Signature": "",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc, requests := recorder(t)
			cfg := tt.cfg
			cfg.AllowPrivateNetworks = true
			s := newSender(t, cfg)
			s.now = func() time.Time { return now }
			req := tt.req
			req.URLs = []string{rc.URL}
			if res := send(t, s, req); !res.OK {
				t.Fatalf("send: %s", res.Error)
			}
			got := requests()[0]
			for k, v := range tt.want {
				if g := got.header.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			if string(got.body) != `{"hello":"world"}` {
				t.Errorf("body = %q (a Content-Length extra must not cut it)", got.body)
			}
		})
	}
}

func TestSendRedacts(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-t0ken"
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 1, Logger: logger})
	dead := "http://user:" + secret + "@127.0.0.1:1/api/webhooks/123/" + secret + "?token=" + secret

	res := send(t, s, Request{URLs: []string{dead}})

	if res.OK || res.Attempts != 2 {
		t.Fatalf("got %s after %d attempts, want a failure after 2", res.Outcome, res.Attempts)
	}
	logMu.Lock()
	defer logMu.Unlock()
	for what, text := range map[string]string{"url": res.URL, "error": res.Error, "logs": logs.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("%s holds the secret: %s", what, text)
		}
	}
	if !strings.Contains(res.Error, "127.0.0.1:1") {
		t.Errorf("error %q does not name the destination", res.Error)
	}
	if !strings.Contains(logs.String(), "job_id=job-1") || !strings.Contains(logs.String(), "attempt=2") {
		t.Errorf("logs lack the attempt lines:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestRequestTarget checks that each destination's path, query, host and
// user info reach the receiver as written, on every attempt.
func TestRequestTarget(t *testing.T) {
	t.Parallel()
	type seen struct{ host, uri, user, pass string }
	var mu sync.Mutex
	var got []seen
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		user, pass, _ := r.BasicAuth()
		mu.Lock()
		got = append(got, seen{r.Host, r.RequestURI, user, pass})
		mu.Unlock()
		if n == 1 {
			reply(w, http.StatusServiceUnavailable, "")
			return
		}
		reply(w, http.StatusNoContent, "")
	})
	host := strings.TrimPrefix(rc.URL, "http://")
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 2})
	res := s.Send(t.Context(), Request{
		ID:   "target",
		URLs: []string{"http://ann:s3cret@" + host + "/hooks/a%2Fb?x=1&y=%2F", "http://" + host + "/second"},
		Body: []byte(`{}`),
	})
	if res.Outcome != Delivered {
		t.Fatalf("outcome %s (%s), want delivered", res.Outcome, res.Error)
	}
	// The 503 moves the retry to the other URL of the pool.
	want := map[seen]bool{
		{host, "/hooks/a%2Fb?x=1&y=%2F", "ann", "s3cret"}: true,
		{host, "/second", "", ""}:                         true,
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("receiver saw %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, g := range got {
		if !want[g] {
			t.Errorf("request %d: got %+v, want one of %+v", i+1, g, want)
		}
		delete(want, g)
	}
}
