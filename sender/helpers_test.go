package sender

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newSender builds a Sender for tests against local receivers: private
// networks allowed, short backoffs.
func newSender(t testing.TB, cfg Config) *Sender {
	t.Helper()
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 2 * time.Millisecond
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// receiver is an httptest server that counts the requests it handles and
// answers each with respond(n, r), n counting from 1.
type receiver struct {
	*httptest.Server
	hits atomic.Int64
}

func newReceiver(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(rc.hits.Add(1))
		respond(w, r, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// Hits returns the number of requests handled.
func (rc *receiver) Hits() int { return int(rc.hits.Load()) }

// reply writes status and body.
func reply(w http.ResponseWriter, status int, body string) {
	if body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// counter is an Observer that counts what it is told.
type counter struct {
	mu       sync.Mutex
	statuses []int
	retries  int
	burned   int
	onRetry  func()
}

func (c *counter) Attempt(status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statuses = append(c.statuses, status)
}

func (c *counter) Retry() {
	c.mu.Lock()
	c.retries++
	f := c.onRetry
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *counter) ProxyBurned() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.burned++
}

func (c *counter) counts() (attempts, retries, burned int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.statuses), c.retries, c.burned
}

// send sends body to url with a short default timeout.
func send(t testing.TB, s *Sender, req Request) Result {
	t.Helper()
	if req.ID == "" {
		req.ID = "job-1"
	}
	if req.Body == nil {
		req.Body = []byte(`{"hello":"world"}`)
	}
	return s.Send(context.Background(), req)
}
