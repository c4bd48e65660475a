package sender

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/hookworker/hookworker/proxies/proxytest"
)

func TestSendHTTPSThroughProxyTunnel(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-id") != "job-1" {
			reply(w, 400, `{"error":"no webhook-id"}`)
			return
		}
		reply(w, 200, `{"tls":true}`)
	}))
	t.Cleanup(srv.Close)
	proxy := proxytest.NewServer()
	t.Cleanup(proxy.Close)
	s := newSender(t, Config{Proxies: &listProvider{list: []*url.URL{proxy.URL}}, AllowPrivateNetworks: true})
	// Trust the test server's certificate on the transport of this proxy,
	// which is otherwise the one Send builds.
	tr := s.clientFor(proxy.URL).Transport.(*http.Transport)
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig

	res := send(t, s, Request{URLs: []string{srv.URL + "/hook"}})

	if !res.OK || res.Attempts != 1 || string(res.Response) != `{"tls":true}` || res.Proxy != proxy.URL.Host {
		t.Errorf("got %s attempts %d response %s proxy %q error %q, want delivered through the tunnel", res.Outcome, res.Attempts, res.Response, res.Proxy, res.Error)
	}
	if proxy.Requests() != 1 {
		t.Errorf("proxy handled %d requests, want 1 (a CONNECT)", proxy.Requests())
	}
}
