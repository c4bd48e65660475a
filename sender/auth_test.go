package sender

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/tlstest"
)

// A 503 that asks for a wait with Retry-After is waited for as a 429 is:
// the wait defers the delivery when it is longer than DeferAfter, and is
// waited in the process when shorter.
func TestServiceUnavailableRetryAfter(t *testing.T) {
	t.Parallel()
	t.Run("deferred by what it asks", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "2")
			reply(w, 503, "")
		})
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3, DeferAfter: time.Second})
		res := send(t, s, Request{URLs: []string{rc.URL}})
		if res.Outcome != Deferred || res.Defer != 2*time.Second || rc.Hits() != 1 {
			t.Fatalf("got %s defer %s after %d hits, want deferred by the 2s asked for", res.Outcome, res.Defer, rc.Hits())
		}
	})
	t.Run("waited", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var at []time.Time
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			if n == 1 {
				w.Header().Set("Retry-After", "0.3")
				reply(w, 503, "")
				return
			}
			reply(w, 204, "")
		})
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3})
		res := send(t, s, Request{URLs: []string{rc.URL}})
		if !res.OK || res.Attempts != 2 || res.Retries != 1 {
			t.Fatalf("got %s after %d attempts: %s", res.Outcome, res.Attempts, res.Error)
		}
		if gap := at[1].Sub(at[0]); gap < 300*time.Millisecond {
			t.Errorf("retried %s after the 503, want at least the 300ms it asked for", gap)
		}
	})
	t.Run("too long", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "3600")
			reply(w, 503, "")
		})
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3, MaxRetryWait: time.Minute})
		if res := send(t, s, Request{URLs: []string{rc.URL}}); res.Outcome != Failed || !strings.Contains(res.Error, "longer than the longest wait") {
			t.Fatalf("got %s %q, want failed: the wait is longer than MaxRetryWait", res.Outcome, res.Error)
		}
	})
}

// A request with a ClientCert presents it: a receiver that requires a
// client certificate from its CA takes the request with it and refuses
// the one without; each certificate ID has its own transport.
func TestClientCert(t *testing.T) {
	t.Parallel()
	servers, clients := tlstest.NewCA(t, "servers"), tlstest.NewCA(t, "clients")
	var mu sync.Mutex
	var seen []string
	srv := servers.MutualServer(t, clients, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		w.WriteHeader(204)
	}))
	s := newSender(t, Config{AllowPrivateNetworks: true, RootCAs: servers.Pool})
	pair := func(name string) *tls.Certificate {
		c, k := clients.Client(t, name)
		p, err := tls.X509KeyPair([]byte(c), []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	a, b := pair("endpoint a"), pair("endpoint b")

	for _, tc := range []struct {
		name string
		cert *ClientCert
	}{{"a", &ClientCert{ID: "a/1", Certificate: a}}, {"a again", &ClientCert{ID: "a/1", Certificate: a}}, {"b", &ClientCert{ID: "b/1", Certificate: b}}} {
		if res := send(t, s, Request{URLs: []string{srv.URL}, ClientCert: tc.cert}); !res.OK {
			t.Fatalf("%s: %s %s, want delivered with the certificate", tc.name, res.Outcome, res.Error)
		}
	}
	if res := send(t, s, Request{URLs: []string{srv.URL}}); res.OK || res.Status != 0 {
		t.Fatalf("without a certificate: %s status %d, want refused in the handshake", res.Outcome, res.Status)
	}
	if strings.Join(seen, ",") != "endpoint a,endpoint a,endpoint b" {
		t.Fatalf("receiver saw %v", seen)
	}
	if len(s.withCert) != 2 {
		t.Fatalf("%d clients for certificates, want one per certificate ID", len(s.withCert))
	}
}

// Authorize gives every attempt its Authorization header; a 401 asks it
// for a new one, once, and the attempt is made again at once.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Authorization") != "Bearer fresh" {
			reply(w, 401, "")
			return
		}
		reply(w, 204, "")
	})
	s := newSender(t, Config{AllowPrivateNetworks: true})
	var renewals []bool
	token := "Bearer stale"
	authorize := func(_ context.Context, renew bool) (string, error) {
		renewals = append(renewals, renew)
		if renew {
			token = "Bearer fresh"
		}
		return token, nil
	}
	var outcomes []AttemptOutcome
	res := send(t, s, Request{URLs: []string{rc.URL}, Authorize: authorize, OnAttempt: func(a Attempt) { outcomes = append(outcomes, a.Outcome) }})
	if !res.OK || res.Attempts != 2 || res.Retries != 0 || len(renewals) != 2 || renewals[0] || !renewals[1] {
		t.Fatalf("got %s after %d attempts, %d retries, renewals %v", res.Outcome, res.Attempts, res.Retries, renewals)
	}
	if len(outcomes) != 2 || outcomes[0] != AttemptRetry || outcomes[1] != AttemptDelivered {
		t.Fatalf("attempt outcomes %v", outcomes)
	}

	// A new credential refused too: the delivery fails, renewed once only.
	renewals, token = nil, "Bearer revoked"
	always := func(_ context.Context, renew bool) (string, error) {
		renewals = append(renewals, renew)
		return token, nil
	}
	res = send(t, s, Request{URLs: []string{rc.URL}, Authorize: always, MaxRetries: 3})
	if res.Outcome != Failed || res.Status != 401 || res.Attempts != 2 || len(renewals) != 2 {
		t.Fatalf("got %s status %d after %d attempts, renewals %v, want failed after one renewal", res.Outcome, res.Status, res.Attempts, renewals)
	}

	// An Authorizer that fails sends nothing and is retried as a
	// connection error is.
	hits := rc.Hits()
	failing := func(context.Context, bool) (string, error) { return "", errors.New("token endpoint unreachable") }
	res = send(t, s, Request{URLs: []string{rc.URL}, Authorize: failing, MaxRetries: 2})
	if res.Outcome != Failed || res.Attempts != 0 || res.Retries != 2 || rc.Hits() != hits || !strings.Contains(res.Error, "authorization: token endpoint unreachable") {
		t.Fatalf("got %s after %d attempts, %d retries: %q", res.Outcome, res.Attempts, res.Retries, res.Error)
	}
}
