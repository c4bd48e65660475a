package sender_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/proxies"
	"github.com/hookworker/hookworker/proxies/proxytest"
	"github.com/hookworker/hookworker/sender"
)

// silentListener accepts connections and never writes a byte; it returns
// its address. The connections close with the test.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return ln.Addr().String()
}

// A destination that never answers, behind working proxies, is the
// destination's fault: no proxy is burned, and the next jobs, to healthy
// receivers, go through at once. A proxy that takes the connection and never
// answers CONNECT is the proxy's fault, and is burned.
func TestSendHangingReceiverBurnsNoProxy(t *testing.T) {
	t.Parallel()
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(healthy.Close)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })
	silent := silentListener(t)

	tests := []struct {
		name    string
		target  string
		proxies func(t *testing.T) []*url.URL
		burned  int
	}{
		{
			name:   "forwarded request",
			target: hanging.URL + "/hook",
			proxies: func(t *testing.T) []*url.URL {
				a, b := proxytest.NewServer(), proxytest.NewServer()
				t.Cleanup(a.Close)
				t.Cleanup(b.Close)
				return []*url.URL{a.URL, b.URL}
			},
		},
		{
			name:   "tunnel answered CONNECT",
			target: "https://" + silent + "/hook",
			proxies: func(t *testing.T) []*url.URL {
				a, b := proxytest.NewServer(), proxytest.NewServer()
				t.Cleanup(a.Close)
				t.Cleanup(b.Close)
				return []*url.URL{a.URL, b.URL}
			},
		},
		{
			// A proxy that takes the connection and does not answer
			// CONNECT is to blame: it is burned and the next one tried.
			name:   "proxy that never answers",
			target: "https://" + silent + "/hook",
			proxies: func(t *testing.T) []*url.URL {
				live := proxytest.NewServer()
				t.Cleanup(live.Close)
				return []*url.URL{{Scheme: "http", Host: silentListener(t)}, live.URL}
			},
			burned: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			list := tt.proxies(t)
			pool := proxies.New(list, time.Hour)
			s, err := sender.New(sender.Config{
				Proxies: pool, Timeout: 300 * time.Millisecond, MaxProxyRetries: 2,
				BackoffMin: time.Millisecond, BackoffMax: time.Millisecond, DeferAfter: time.Second,
				AllowPrivateNetworks: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)

			res := s.Send(context.Background(), sender.Request{ID: "hang", URLs: []string{tt.target}, Body: []byte(`{}`)})
			if res.Outcome != sender.Failed || !strings.Contains(res.Error, "timeout") {
				t.Fatalf("hanging job: %s attempts %d error %q, want failed on a timeout", res.Outcome, res.Attempts, res.Error)
			}
			if got := len(list) - pool.Available(); got != tt.burned {
				t.Errorf("%d proxies burned, want %d", got, tt.burned)
			}
			for i := range len(list) {
				res := s.Send(context.Background(), sender.Request{ID: "next", URLs: []string{healthy.URL}, Body: []byte(`{}`)})
				if res.Outcome != sender.Delivered || res.Attempts != 1 {
					t.Errorf("job %d after the hanging one: %s attempts %d error %q, want delivered at once", i, res.Outcome, res.Attempts, res.Error)
				}
			}
		})
	}
}

// A 429 whose Retry-After asks for no wait (0, or a date in the past) gets
// the backoff, never less than BackoffMin: with a BackoffMin longer than
// DeferAfter, the retry is deferred by it instead of sent at once.
func TestSendRetryAfterNeverShorterThanBackoffMin(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "Sun, 06 Nov 1994 08:49:37 GMT"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", v)
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			t.Cleanup(rc.Close)
			s, err := sender.New(sender.Config{
				MaxRetries: 3, BackoffMin: time.Minute, BackoffMax: time.Minute, DeferAfter: time.Second,
				AllowPrivateNetworks: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			res := s.Send(context.Background(), sender.Request{ID: "ra", URLs: []string{rc.URL}, Body: []byte(`{}`)})
			if res.Outcome != sender.Deferred || res.Attempts != 1 || res.Defer < 45*time.Second {
				t.Errorf("got %s attempts %d defer %s, want deferred by the backoff (about a minute) after 1 attempt", res.Outcome, res.Attempts, res.Defer)
			}
		})
	}
}
