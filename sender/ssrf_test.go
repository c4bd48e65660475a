package sender

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookworker/hookworker/proxies/proxytest"
)

// TestSendProxySSRFForms sends to a loopback receiver through a real proxy,
// naming it in every numeric form a resolver accepts: each is refused before
// the proxy is asked, unless private networks are allowed, in which case the
// proxy does reach the receiver (the control that shows the form is live).
func TestSendProxySSRFForms(t *testing.T) {
	t.Parallel()
	forms := []string{
		"127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0X7F000001",
		"0177.0.0.1", "017700000001", "0", "0x7f.1", "0x7f.0.0.1", "127.1.",
	}
	for _, form := range forms {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 204, "") })
			proxy := proxytest.NewServer()
			t.Cleanup(proxy.Close)
			u, err := url.Parse(rc.URL)
			if err != nil {
				t.Fatal(err)
			}
			target := "http://" + form + ":" + u.Port() + "/hook"

			s := newSender(t, Config{Proxies: &listProvider{list: []*url.URL{proxy.URL}}, MaxProxyRetries: 1})
			res := send(t, s, Request{URLs: []string{target}})
			if res.Outcome != Rejected || res.Attempts != 0 || !strings.Contains(res.Error, "HOOKWORKER_ALLOW_PRIVATE_NETWORKS") ||
				!strings.Contains(res.Error, "worker") {
				t.Errorf("got %s attempts %d error %q, want rejected naming the worker's setting", res.Outcome, res.Attempts, res.Error)
			}
			if rc.Hits() != 0 || proxy.Requests() != 0 {
				t.Fatalf("receiver hit %d times, proxy asked %d times, want neither", rc.Hits(), proxy.Requests())
			}

			open := newSender(t, Config{Proxies: &listProvider{list: []*url.URL{proxy.URL}}, MaxProxyRetries: 1, AllowPrivateNetworks: true})
			if res := send(t, open, Request{URLs: []string{target}}); res.Outcome != Delivered || rc.Hits() != 1 {
				t.Fatalf("control with private networks allowed: %s (error %q), receiver hit %d times, want delivered once through the proxy", res.Outcome, res.Error, rc.Hits())
			}
		})
	}
}

// TestSendProxyResolvesNames checks that a name sent through a proxy is
// resolved by the worker first: refused when it resolves to an address that
// is not allowed, left to the proxy when it does not resolve here.
func TestSendProxyResolvesNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		addrs   []string
		err     error
		allowed []netip.Prefix
		refused bool
	}{
		{name: "private address", addrs: []string{"10.0.0.5"}, refused: true},
		{name: "one public, one metadata", addrs: []string{"93.184.215.14", "169.254.169.254"}, refused: true},
		{name: "mapped loopback", addrs: []string{"::ffff:127.0.0.1"}, refused: true},
		{name: "public", addrs: []string{"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"}},
		{name: "private but allowed", addrs: []string{"10.0.0.5"}, allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{name: "not resolvable here", err: errors.New("no such host")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &listProvider{list: []*url.URL{deadProxy(t)}}
			s := newSender(t, Config{Proxies: p, AllowedNetworks: tt.allowed})
			var asked []string
			s.guard.lookup = func(_ context.Context, _, host string) ([]netip.Addr, error) {
				asked = append(asked, host)
				var out []netip.Addr
				for _, a := range tt.addrs {
					out = append(out, netip.MustParseAddr(a))
				}
				return out, tt.err
			}
			res := send(t, s, Request{URLs: []string{"http://hooks.example.com/x"}})
			if len(asked) != 1 || asked[0] != "hooks.example.com" {
				t.Errorf("looked up %q, want hooks.example.com once", asked)
			}
			if tt.refused {
				if res.Outcome != Rejected || p.next != 0 || !strings.Contains(res.Error, "hooks.example.com") {
					t.Errorf("got %s error %q, proxy asked %d times, want rejected before the proxy", res.Outcome, res.Error, p.next)
				}
				return
			}
			if res.Outcome == Rejected || p.next == 0 {
				t.Errorf("got %s error %q, proxy asked %d times, want the proxy tried", res.Outcome, res.Error, p.next)
			}
		})
	}
}

// TestSendRejectsUndiallableHosts checks that a destination whose host or
// port cannot be dialled is rejected as invalid, not retried, whatever the
// network settings.
func TestSendRejectsUndiallableHosts(t *testing.T) {
	t.Parallel()
	for _, target := range []string{
		"http://example.com:99999/hook",
		"http://example.com:0/hook",
		"http://1.2.3.4.5/hook",
		"http://999.1.1.1/hook",
		"http://exa_mple..com/hook",
		"http://-example.com/hook",
	} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			for _, cfg := range []Config{{AllowPrivateNetworks: true}, {Proxies: &listProvider{list: []*url.URL{deadProxy(t)}}}} {
				s := newSender(t, cfg)
				res := send(t, s, Request{URLs: []string{target}})
				if res.Outcome != Rejected || res.Attempts != 0 || !strings.HasPrefix(res.Error, "invalid destination url: ") {
					t.Errorf("proxies %v: got %s attempts %d error %q, want rejected as invalid", cfg.Proxies != nil, res.Outcome, res.Attempts, res.Error)
				}
			}
		})
	}
}

// TestSendRefusesNonPublicHostsAsWritten sends directly to hosts that denote
// a non-public address as written: each is refused by the address policy
// before any dial (the test's dialer records every dial and makes none).
func TestSendRefusesNonPublicHostsAsWritten(t *testing.T) {
	t.Parallel()
	for _, host := range []string{
		"127.1", "0x7f000001", "2130706433", "0177.0.0.1", "0x7f.1", "0", "127.000.000.001",
		"localhost", "hooks.localhost", "100.64.0.1", "198.18.0.1", "169.254.169.254",
		"[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::127.0.0.1]", "[::ffff:127.0.0.1]", "[fd00::1]",
	} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			s := newSender(t, Config{MaxRetries: 2})
			var dials atomic.Int64
			s.direct.Transport.(*http.Transport).DialContext = func(context.Context, string, string) (net.Conn, error) {
				dials.Add(1)
				return nil, errors.New("the test dials nothing")
			}
			res := send(t, s, Request{URLs: []string{"http://" + host + ":8080/hooks/123/tok3n?k=v"}})
			if res.Outcome != Rejected || res.Attempts != 0 || dials.Load() != 0 {
				t.Fatalf("got %s attempts %d dials %d error %q, want rejected before any dial", res.Outcome, res.Attempts, dials.Load(), res.Error)
			}
			if !strings.Contains(res.Error, "not a public address") || !strings.Contains(res.Error, "HOOKWORKER_ALLOWED_NETWORKS") ||
				strings.Contains(res.Error, "tok3n") || strings.Contains(res.Error, "k=v") {
				t.Errorf("error %q: want the refusal and the settings, without the URL's path or query", res.Error)
			}
		})
	}
}
