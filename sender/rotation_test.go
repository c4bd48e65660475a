package sender_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/proxies"
	"github.com/hookworker/hookworker/proxies/proxytest"
	"github.com/hookworker/hookworker/sender"
)

// burns counts burned proxies.
type burns struct{ n atomic.Int64 }

func (*burns) Attempt(int)    {}
func (*burns) Retry()         {}
func (b *burns) ProxyBurned() { b.n.Add(1) }

func TestSendRotatesThroughProxies(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"via":"proxy"}`))
	}))
	t.Cleanup(rc.Close)
	live := proxytest.NewServerAuth("user", "l1ve-passw0rd")
	t.Cleanup(live.Close)
	dead := proxytest.DeadURL(t)
	dead.User = url.UserPassword("user", "d3ad-passw0rd")
	obs := &burns{}
	s, err := sender.New(sender.Config{
		Proxies:              proxies.New([]*url.URL{dead, live.URL}, time.Minute),
		MaxProxyRetries:      2,
		AllowPrivateNetworks: true,
		Observer:             obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	req := sender.Request{ID: "job-1", URLs: []string{rc.URL + "/hook"}, Body: []byte(`{}`)}

	res := s.Send(context.Background(), req)

	if !res.OK || res.Attempts != 2 || res.Retries != 0 {
		t.Fatalf("got %s attempts %d retries %d error %q, want delivered on the second attempt", res.Outcome, res.Attempts, res.Retries, res.Error)
	}
	if res.Proxy != live.URL.Host {
		t.Errorf("proxy = %q, want the live one %q", res.Proxy, live.URL.Host)
	}
	if live.Requests() != 1 || hits.Load() != 1 {
		t.Errorf("live proxy handled %d requests, receiver %d, want 1, 1", live.Requests(), hits.Load())
	}
	if n := obs.n.Load(); n != 1 {
		t.Errorf("%d proxies burned, want 1", n)
	}
	all, _ := json.Marshal(res)
	for _, secret := range []string{"l1ve-passw0rd", "d3ad-passw0rd"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("result holds a proxy password: %s", all)
		}
	}

	// The dead proxy cools down out of rotation: the next send goes through
	// the live one at once.
	again := s.Send(context.Background(), req)
	if !again.OK || again.Attempts != 1 || again.Proxy != live.URL.Host || live.Requests() != 2 {
		t.Errorf("second send: %s attempts %d proxy %q, want delivered through the live proxy at once", again.Outcome, again.Attempts, again.Proxy)
	}
}

func TestSendDefersWhenEveryProxyIsBurned(t *testing.T) {
	t.Parallel()
	dead := proxytest.DeadURL(t)
	dead.User = url.UserPassword("user", "d3ad-passw0rd")
	s, err := sender.New(sender.Config{
		Proxies:              proxies.New([]*url.URL{dead}, time.Minute),
		MaxProxyRetries:      3,
		DeferAfter:           time.Second,
		AllowPrivateNetworks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	res := s.Send(context.Background(), sender.Request{ID: "job-1", URLs: []string{"http://example.com/hook"}, Body: []byte(`{}`)})
	// The only proxy is back in a minute, longer than DeferAfter: the job
	// is deferred until then, not failed.
	if res.Outcome != sender.Deferred || res.Attempts != 1 || res.Defer < 59*time.Second || res.Defer > time.Minute ||
		!strings.Contains(res.Error, "no proxy available") || !strings.Contains(res.Error, "connection refused") {
		t.Errorf("got %s attempts %d defer %s error %q, want deferred by about a minute after 1 attempt", res.Outcome, res.Attempts, res.Defer, res.Error)
	}
	if res.Proxy != dead.Host || strings.Contains(res.Error, "d3ad-passw0rd") {
		t.Errorf("proxy %q error %q", res.Proxy, res.Error)
	}
}
