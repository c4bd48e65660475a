package proxytest_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/hookworker/hookworker/proxies/proxytest"
)

// receiver starts a plain or TLS webhook receiver that echoes the path and
// counts requests, failing the test if a proxy header reaches it.
func receiver(t *testing.T, useTLS bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if v := r.Header.Get("Proxy-Authorization"); v != "" {
			t.Errorf("receiver got Proxy-Authorization %q", v)
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(body)
	})
	var ts *httptest.Server
	if useTLS {
		ts = httptest.NewTLSServer(h)
	} else {
		ts = httptest.NewServer(h)
	}
	t.Cleanup(ts.Close)
	return ts, &hits
}

// client returns an HTTP client that goes through proxy and trusts ts.
func client(t *testing.T, ts *httptest.Server, proxy *url.URL) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: http.ProxyURL(proxy)}
	if ts.TLS != nil {
		tr.TLSClientConfig = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestServerForwards(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		tls  bool
		auth bool
	}{
		{"http", false, false},
		{"https via connect", true, false},
		{"http with auth", false, true},
		{"https with auth", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, hits := receiver(t, tt.tls)
			var p *proxytest.Server
			if tt.auth {
				p = proxytest.NewServerAuth("alice", "pa:ss word")
			} else {
				p = proxytest.NewServer()
			}
			defer p.Close()
			c := client(t, ts, p.URL)
			for i := range 3 {
				resp, err := c.Post(ts.URL+"/hook", "application/json", strings.NewReader(`{"n":1}`))
				if err != nil {
					t.Fatalf("request %d through proxy: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || string(body) != `{"n":1}` || resp.Header.Get("X-Path") != "/hook" {
					t.Fatalf("request %d: status %d, body %q, path %q", i, resp.StatusCode, body, resp.Header.Get("X-Path"))
				}
			}
			if got := hits.Load(); got != 3 {
				t.Errorf("receiver got %d requests, want 3", got)
			}
			// Plain HTTP sends every request to the proxy; HTTPS opens one
			// tunnel and reuses it.
			want := 3
			if tt.tls {
				want = 1
			}
			if got := p.Requests(); got != want {
				t.Errorf("proxy handled %d requests, want %d", got, want)
			}
		})
	}
}

func TestServerRefusesBadCredentials(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		tls  bool
		user *url.Userinfo
	}{
		{"http none", false, nil},
		{"http wrong password", false, url.UserPassword("alice", "wrong")},
		{"http wrong user", false, url.UserPassword("bob", "secret")},
		{"https none", true, nil},
		{"https wrong password", true, url.UserPassword("alice", "wrong")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, hits := receiver(t, tt.tls)
			p := proxytest.NewServerAuth("alice", "secret")
			defer p.Close()
			bad := *p.URL
			bad.User = tt.user
			resp, err := client(t, ts, &bad).Get(ts.URL + "/hook")
			if tt.tls {
				// The transport reports a refused CONNECT as an error.
				if err == nil {
					resp.Body.Close()
					t.Fatalf("status %d, want a CONNECT error", resp.StatusCode)
				}
				if !strings.Contains(err.Error(), "Proxy Authentication Required") {
					t.Errorf("error %q does not name the 407", err)
				}
			} else {
				if err != nil {
					t.Fatalf("request: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusProxyAuthRequired {
					t.Errorf("status %d, want 407", resp.StatusCode)
				}
				if resp.Header.Get("Proxy-Authenticate") == "" {
					t.Error("407 without Proxy-Authenticate")
				}
			}
			if got := hits.Load(); got != 0 {
				t.Errorf("receiver got %d requests, want 0", got)
			}
			if got := p.Requests(); got != 1 {
				t.Errorf("proxy handled %d requests, want 1", got)
			}
		})
	}
}

func TestServerRejectsOriginForm(t *testing.T) {
	t.Parallel()
	p := proxytest.NewServer()
	defer p.Close()
	// A request sent to the proxy as if it were the origin is not forwarded.
	resp, err := http.Get(p.URL.String() + "/hook")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}

func TestServerBadGateway(t *testing.T) {
	t.Parallel()
	p := proxytest.NewServer()
	defer p.Close()
	dead := proxytest.DeadURL(t)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(p.URL)}}
	resp, err := c.Get("http://" + dead.Host + "/hook")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	_, err = c.Get("https://" + dead.Host + "/hook")
	if err == nil || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("CONNECT to a dead host: error %v, want Bad Gateway", err)
	}
}

func TestServerClose(t *testing.T) {
	t.Parallel()
	ts, _ := receiver(t, true)
	p := proxytest.NewServer()
	c := client(t, ts, p.URL)
	resp, err := c.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Close ends the open tunnel too, so it returns.
	p.Close()
	c.Transport.(*http.Transport).CloseIdleConnections()
	if _, err := c.Get(ts.URL); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("request through a closed proxy: %v, want connection refused", err)
	}
}

func TestDeadURL(t *testing.T) {
	t.Parallel()
	dead := proxytest.DeadURL(t)
	ts, hits := receiver(t, false)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(dead)}}
	_, err := c.Get(ts.URL)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("request through a dead proxy: %v, want connection refused", err)
	}
	if hits.Load() != 0 {
		t.Error("receiver reached through a dead proxy")
	}
}

// TestServerReadsNumericHosts checks that the proxy, like getaddrinfo, takes
// the numeric forms inet_aton accepts for the addresses they denote, by
// forwarding and by CONNECT.
func TestServerReadsNumericHosts(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"http", "https"} {
		useTLS := scheme == "https"
		for _, host := range []string{"127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1"} {
			t.Run(scheme+"/"+host, func(t *testing.T) {
				t.Parallel()
				ts, hits := receiver(t, useTLS)
				proxy := proxytest.NewServer()
				t.Cleanup(proxy.Close)
				u, err := url.Parse(ts.URL)
				if err != nil {
					t.Fatal(err)
				}
				u.Host = host + ":" + u.Port()
				c := client(t, ts, proxy.URL)
				if useTLS {
					// The test certificate names 127.0.0.1, not the form.
					c.Transport.(*http.Transport).TLSClientConfig.ServerName = "127.0.0.1"
				}
				resp, err := c.Post(u.String(), "application/json", strings.NewReader("{}"))
				if err != nil {
					t.Fatalf("post through the proxy to %s: %v", u, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || hits.Load() != 1 {
					t.Fatalf("status %d, receiver hit %d times, want 202 once", resp.StatusCode, hits.Load())
				}
			})
		}
	}
}
