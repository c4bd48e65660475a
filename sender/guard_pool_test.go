package sender

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRefusedAfterAnAttemptIsFailed: a pool whose second URL is a name that
// resolves to a refused address, refused when it is dialled. The first URL was sent to, so the job is
// not "rejected" (which promises nothing was sent) but failed, with the
// attempt and its status kept.
func TestRefusedAfterAnAttemptIsFailed(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		reply(w, http.StatusServiceUnavailable, `{"busy":true}`)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(l.Addr().String())

	s := newSender(t, Config{MaxRetries: 3, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	// loopback.example "resolves" to 127.0.0.1, which is not allowed: the
	// guarded dial is refused.
	tr := s.direct.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, p, _ := net.SplitHostPort(addr); host == "loopback.example" {
			addr = net.JoinHostPort("127.0.0.1", p)
		}
		return dial(ctx, network, addr)
	}
	res := send(t, s, Request{URLs: []string{srv.URL, "http://loopback.example:" + port + "/hook"}})

	if res.Outcome != Failed {
		t.Fatalf("outcome = %s (error %q), want failed: a request was sent", res.Outcome, res.Error)
	}
	if res.Attempts != 1 || hits.Load() != 1 || res.Status != http.StatusServiceUnavailable || string(res.Response) != `{"busy":true}` {
		t.Errorf("attempts %d, hits %d, status %d, response %s; want the one attempt made and its answer", res.Attempts, hits.Load(), res.Status, res.Response)
	}
	if !strings.Contains(res.Error, "HOOKWORKER_ALLOWED_NETWORKS") {
		t.Errorf("error %q does not say why the next URL was refused", res.Error)
	}
}
