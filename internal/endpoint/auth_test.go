package endpoint_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/syncbuf"
	"github.com/hookworker/hookworker/internal/tlstest"
	"github.com/hookworker/hookworker/job"
)

func debugLogger(b *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// outputs is everything a world let out about its deliveries: the
// results, the attempt records, the endpoints as the API replies them,
// and the log lines.
func (w *world) outputs(t *testing.T, logs *syncbuf.Buffer, endpoints ...string) string {
	t.Helper()
	var out strings.Builder
	w.mu.Lock()
	for _, r := range w.results {
		b, _ := json.Marshal(r)
		out.Write(b)
	}
	w.mu.Unlock()
	ctx := context.Background()
	for a, err := range w.api.AllAttempts(ctx, client.AttemptQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(a)
		out.Write(b)
	}
	for _, id := range endpoints {
		ep, err := w.api.Endpoint(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ep)
		out.Write(b)
	}
	out.WriteString(logs.String())
	return out.String()
}

// TestMutualTLS delivers to a receiver that requires a client certificate
// from its CA: the endpoint with the certificate gets its event, the one
// without is refused in the handshake; a new certificate is used as soon
// as it is stored; the key is in no result, attempt record, reply or log
// line.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	servers, clients := tlstest.NewCA(t, "servers"), tlstest.NewCA(t, "clients")
	var mu sync.Mutex
	var seen []string
	srv := servers.MutualServer(t, clients, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	logs := &syncbuf.Buffer{}
	w := start(t, options{api: true, rootCAs: servers.Pool, logger: debugLogger(logs)})
	w.putType(t, "a.b")
	cert, key := clients.Client(t, "hookworker")
	withCert := w.putEndpoint(t, catalog.Endpoint{URL: srv.URL + "/a", Auth: &catalog.Auth{Type: "mtls", Cert: cert, Key: key}}, "")
	without := w.putEndpoint(t, catalog.Endpoint{URL: srv.URL + "/b"}, "")

	w.send(t, catalog.Event{ID: "evt_1", Type: "a.b", Payload: json.RawMessage(`{}`)})
	if r := w.result(t, fanout.JobID("evt_1", withCert.ID)); r.Outcome != job.Delivered {
		t.Fatalf("with the certificate: %s %q, want delivered", r.Outcome, r.Error)
	}
	if r := w.result(t, fanout.JobID("evt_1", without.ID)); r.Outcome != job.Failed || r.Status != 0 {
		t.Fatalf("without a certificate: %s status %d %q, want failed in the handshake", r.Outcome, r.Status, r.Error)
	}

	// A new certificate and key: the next delivery presents it.
	cert2, key2 := clients.Client(t, "hookworker 2")
	withCert.Auth = &catalog.Auth{Type: "mtls", Cert: cert2, Key: key2}
	w.putEndpoint(t, withCert, "")
	w.send(t, catalog.Event{ID: "evt_2", Type: "a.b", Payload: json.RawMessage(`{}`)})
	if r := w.result(t, fanout.JobID("evt_2", withCert.ID)); r.Outcome != job.Delivered {
		t.Fatalf("with the new certificate: %s %q", r.Outcome, r.Error)
	}
	w.result(t, fanout.JobID("evt_2", without.ID))
	mu.Lock()
	got := strings.Join(seen, ",")
	mu.Unlock()
	if got != "/a hookworker,/a hookworker 2" {
		t.Fatalf("the receiver took %q, want /a with each certificate in turn and never /b", got)
	}

	out := w.outputs(t, logs, withCert.ID, without.ID)
	for _, k := range []string{key, key2} {
		if line := strings.Split(k, "\n")[1]; strings.Contains(out, line) {
			t.Fatal("a private key is in a result, an attempt record, a reply or a log line")
		}
	}
	if !strings.Contains(out, "evt_2") || !strings.Contains(logs.String(), "delivery attempt") {
		t.Fatal("the outputs searched are missing what they should hold")
	}
}

// tokenServer is an OAuth2 token endpoint that hands out tok-1, tok-2, ...
// to one client, each valid for an hour.
type tokenServer struct {
	*httptest.Server
	issued atomic.Int64
}

func newTokenServer(t *testing.T, clientID, secret, scope string) *tokenServer {
	t.Helper()
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil || !ok || id != clientID || sec != secret ||
			r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != scope {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusUnauthorized)
			_, _ = rw.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		n := ts.issued.Add(1)
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write([]byte(`{"access_token":"tok-` + string(rune('0'+n)) + `","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestOAuth2 delivers to a receiver that takes a bearer token from an
// in-process token endpoint: the token is got once and used for every
// delivery until a 401, then got again once and the attempt made again at
// once; the client secret and the tokens are in no result, attempt
// record, reply or log line.
func TestOAuth2(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-client-Zq81"
	ts := newTokenServer(t, "hookworker", secret, "hooks.write hooks.read")
	var accepted atomic.Value
	accepted.Store("Bearer tok-1")
	var mu sync.Mutex
	var auths []string
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != accepted.Load().(string) {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	logs := &syncbuf.Buffer{}
	w := start(t, options{api: true, logger: debugLogger(logs)})
	w.putType(t, "a.b")
	ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL, Auth: &catalog.Auth{Type: "oauth2", TokenURL: ts.URL + "/token",
		ClientID: "hookworker", ClientSecret: secret, Scopes: []string{"hooks.write", "hooks.read"}}}, "")

	for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
		w.send(t, catalog.Event{ID: id, Type: "a.b", Payload: json.RawMessage(`{}`)})
		if r := w.result(t, fanout.JobID(id, ep.ID)); r.Outcome != job.Delivered || r.Attempts != 1 {
			t.Fatalf("%s: %s after %d attempts %q, want delivered at once", id, r.Outcome, r.Attempts, r.Error)
		}
	}
	if n := ts.issued.Load(); n != 1 {
		t.Fatalf("%d tokens got for three deliveries, want one, cached", n)
	}

	// The receiver stops taking the token: one 401, a new token, the same
	// delivery made again at once.
	accepted.Store("Bearer tok-2")
	w.send(t, catalog.Event{ID: "evt_4", Type: "a.b", Payload: json.RawMessage(`{}`)})
	if r := w.result(t, fanout.JobID("evt_4", ep.ID)); r.Outcome != job.Delivered || r.Attempts != 2 {
		t.Fatalf("after a 401: %s after %d attempts %q, want delivered on the second", r.Outcome, r.Attempts, r.Error)
	}
	if n := ts.issued.Load(); n != 2 {
		t.Fatalf("%d tokens got, want 2: one more after the 401", n)
	}
	mu.Lock()
	got := strings.Join(auths, ",")
	mu.Unlock()
	if got != "Bearer tok-1,Bearer tok-1,Bearer tok-1,Bearer tok-1,Bearer tok-2" {
		t.Fatalf("the receiver got %s", got)
	}

	// A token endpoint that refuses the client: nothing sent, the cause
	// named without what the token endpoint said.
	bad := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL + "/bad", Auth: &catalog.Auth{Type: "oauth2", TokenURL: ts.URL + "/token",
		ClientID: "someone", ClientSecret: "wrong-" + secret}}, "")
	w.send(t, catalog.Event{ID: "evt_5", Type: "a.b", Payload: json.RawMessage(`{}`)})
	if r := w.result(t, fanout.JobID("evt_5", bad.ID)); r.Outcome != job.Failed || r.Attempts != 0 ||
		!strings.Contains(r.Error, "token request to http://127.0.0.1") || !strings.Contains(r.Error, "status 401 (invalid_client)") {
		t.Fatalf("refused by the token endpoint: %s after %d attempts %q", r.Outcome, r.Attempts, r.Error)
	}
	if _, failing, err := w.cat.FailingSince(context.Background(), bad.ID); err != nil || !failing {
		t.Fatalf("an endpoint whose token cannot be got: failing %v, %v; want its failing streak begun", failing, err)
	}

	out := w.outputs(t, logs, ep.ID, bad.ID)
	for _, s := range []string{secret, "tok-1", "tok-2"} {
		if strings.Contains(out, s) {
			t.Fatalf("%q is in a result, an attempt record, a reply or a log line", s)
		}
	}
	if !strings.Contains(out, "evt_4") || !strings.Contains(logs.String(), "delivery attempt") {
		t.Fatal("the outputs searched are missing what they should hold")
	}
}
