package apitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receiver is a webhook receiver on loopback that keeps what it was sent.
// It answers 204 with no body until Answer gives it a reply.
type Receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []Delivery
	reply  string
	status int
	more   chan struct{}
}

// Delivery is one request a Receiver took.
type Delivery struct {
	Header http.Header
	Body   []byte
}

// NewReceiver starts a Receiver that answers reply (see Answer); it stops
// when t ends.
func NewReceiver(t testing.TB, reply string) *Receiver {
	t.Helper()
	r := &Receiver{more: make(chan struct{}, 1024), reply: reply}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, Delivery{Header: req.Header.Clone(), Body: body})
		reply, status := r.reply, r.status
		r.mu.Unlock()
		r.more <- struct{}{}
		if reply == "" && status == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if strings.HasPrefix(reply, "{") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/html")
		}
		if status != 0 {
			w.WriteHeader(status)
		}
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(r.Close)
	return r
}

// Answer makes r answer the requests from now on with reply as the body
// (JSON when it starts with "{", else HTML) and status (0: 200).
func (r *Receiver) Answer(reply string, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reply, r.status = reply, status
}

// Deliveries returns what r was sent so far.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Wait waits up to 15s for r's n-th delivery (from 1) and returns it.
func (r *Receiver) Wait(t testing.TB, n int) Delivery {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if got := r.Deliveries(); len(got) >= n {
			return got[n-1]
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("no delivery %d to %s", n, r.URL)
		}
	}
}
