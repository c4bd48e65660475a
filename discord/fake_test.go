package discord_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDiscord is an httptest server that behaves like Discord's
// execute-webhook endpoint: it enforces a rate-limit bucket per webhook
// (limit requests per window, the window starting with the first request
// after the previous one ended), answers with Discord's X-RateLimit-*
// headers and 429 body, and records what it received.
type fakeDiscord struct {
	*httptest.Server
	limit  int
	window time.Duration

	mu       sync.Mutex
	buckets  map[string]*fakeBucket
	requests []fakeRequest
	limited  int
	// status, when set, is the answer to every request instead of
	// delivering it, with Discord's error body.
	status int
}

type fakeBucket struct {
	start time.Time
	count int
}

// fakeRequest is one delivered request.
type fakeRequest struct {
	Path  string
	Query url.Values
	Body  []byte
	// Header holds the request headers.
	Header http.Header
}

// newFakeDiscord starts a fake Discord allowing limit requests per window
// to each webhook.
func newFakeDiscord(t testing.TB, limit int, window time.Duration) *fakeDiscord {
	t.Helper()
	f := &fakeDiscord{limit: limit, window: window, buckets: make(map[string]*fakeBucket)}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// webhook returns the URL of webhook id with token.
func (f *fakeDiscord) webhook(id, token string) string {
	return f.URL + "/api/webhooks/" + id + "/" + token
}

func (f *fakeDiscord) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/webhooks/"), "/")
	if r.Method != http.MethodPost || len(parts) != 2 {
		writeJSON(w, http.StatusNotFound, `{"message": "404: Not Found", "code": 0}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	now := time.Now()

	f.mu.Lock()
	key := parts[0] + "/" + parts[1]
	b := f.buckets[key]
	if b == nil || !now.Before(b.start.Add(f.window)) {
		b = &fakeBucket{start: now}
		f.buckets[key] = b
	}
	b.count++
	resetAfter := b.start.Add(f.window).Sub(now).Seconds()
	reset := float64(b.start.Add(f.window).UnixMilli()) / 1000
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(f.limit))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(reset, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(resetAfter, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", "fakebucket"+parts[0])
	if b.count > f.limit {
		f.limited++
		f.mu.Unlock()
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Scope", "user")
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(resetAfter))))
		writeJSON(w, http.StatusTooManyRequests,
			fmt.Sprintf(`{"message": "You are being rate limited.", "retry_after": %.3f, "global": false}`, resetAfter))
		return
	}
	h.Set("X-RateLimit-Remaining", strconv.Itoa(f.limit-b.count))
	status := f.status
	if status == 0 {
		f.requests = append(f.requests, fakeRequest{Path: r.URL.Path, Query: r.URL.Query(), Body: body, Header: r.Header.Clone()})
	}
	f.mu.Unlock()

	switch {
	case status == http.StatusNotFound:
		writeJSON(w, status, `{"message": "Unknown Webhook", "code": 10015}`)
	case status != 0:
		writeJSON(w, status, fmt.Sprintf(`{"message": "%s", "code": 0}`, http.StatusText(status)))
	case r.URL.Query().Get("wait") == "true":
		writeJSON(w, http.StatusOK, `{"id": "1100000000000000001", "type": 0, "content": "ok"}`)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// fail makes every following request answer status.
func (f *fakeDiscord) fail(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

// Requests returns the delivered requests.
func (f *fakeDiscord) Requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

// Limited returns how many requests were answered 429.
func (f *fakeDiscord) Limited() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limited
}

// body decodes the JSON body of a request into a generic map.
func (r fakeRequest) body(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("request body %s: %v", r.Body, err)
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
