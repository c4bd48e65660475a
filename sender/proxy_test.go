package sender

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// listProvider hands out its proxies in order, for ever, and records burns.
type listProvider struct {
	mu     sync.Mutex
	list   []*url.URL
	next   int
	burned []string
	err    error
}

func (p *listProvider) Get() (*url.URL, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	u := p.list[p.next%len(p.list)]
	p.next++
	return u, nil
}

func (p *listProvider) Burn(u *url.URL) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.burned = append(p.burned, u.Host)
}

// deadProxy returns the URL of a proxy that refuses connections, with
// credentials.
func deadProxy(t *testing.T) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("user", "pr0xy-passw0rd")
	return u
}

func TestSendProxyRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target string
		errHas string
	}{
		{name: "literal loopback", target: "http://127.0.0.1:8080/hook", errHas: "HOOKWORKER_ALLOW_PRIVATE_NETWORKS"},
		{name: "literal private IPv6", target: "http://[fd00::1]/hook", errHas: "fd00::1"},
		{name: "localhost", target: "http://localhost:8080/hook", errHas: "localhost"},
		{name: "subdomain of localhost", target: "https://app.localhost/hook", errHas: "app.localhost"},
		{name: "metadata address", target: "http://169.254.169.254/latest", errHas: "169.254.169.254"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &listProvider{list: []*url.URL{deadProxy(t)}}
			s := newSender(t, Config{Proxies: p, MaxProxyRetries: 2})
			res := send(t, s, Request{URLs: []string{tt.target}})
			if res.Outcome != Rejected || res.Attempts != 0 || !strings.Contains(res.Error, tt.errHas) {
				t.Errorf("got %s attempts %d error %q, want rejected naming %q", res.Outcome, res.Attempts, res.Error, tt.errHas)
			}
			if p.next != 0 {
				t.Errorf("a proxy was asked for %d times", p.next)
			}
		})
	}
}

func TestSendProxyErrors(t *testing.T) {
	t.Parallel()

	t.Run("no proxy available", func(t *testing.T) {
		t.Parallel()
		p := &listProvider{err: errors.New("no proxy available")}
		s := newSender(t, Config{Proxies: p, AllowPrivateNetworks: true})
		res := send(t, s, Request{URLs: []string{"http://example.com/hook"}})
		if res.Outcome != Failed || res.Attempts != 0 || res.Error != "no proxy available" {
			t.Errorf("got %s attempts %d error %q", res.Outcome, res.Attempts, res.Error)
		}
	})

	t.Run("dead proxies exhaust the rotations, not the retries", func(t *testing.T) {
		t.Parallel()
		p := &listProvider{list: []*url.URL{deadProxy(t), deadProxy(t)}}
		obs := &counter{}
		s := newSender(t, Config{Proxies: p, MaxProxyRetries: 2, MaxRetries: 5, AllowPrivateNetworks: true, Observer: obs})
		res := send(t, s, Request{URLs: []string{"http://example.com/hook"}})
		if res.Outcome != Failed || res.Attempts != 3 || res.Retries != 0 || res.Status != 0 {
			t.Errorf("got %s attempts %d retries %d status %d, want failed after 3 attempts and no retry", res.Outcome, res.Attempts, res.Retries, res.Status)
		}
		if !strings.Contains(res.Error, "proxy rotations exhausted: 2") {
			t.Errorf("error = %q", res.Error)
		}
		if len(p.burned) != 3 {
			t.Errorf("burned %v, want 3 burns", p.burned)
		}
		if _, r, b := obs.counts(); r != 0 || b != 3 {
			t.Errorf("observer: %d retries, %d burned, want 0, 3", r, b)
		}
		if res.Proxy != p.list[0].Host {
			t.Errorf("proxy = %q, want %q", res.Proxy, p.list[0].Host)
		}
		for what, text := range map[string]string{"error": res.Error, "proxy": res.Proxy, "url": res.URL} {
			if strings.Contains(text, "pr0xy-passw0rd") {
				t.Errorf("%s holds the proxy password: %s", what, text)
			}
		}
	})
}
