package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/tlstest"
	"github.com/hookworker/hookworker/job"
)

// TestEndpointPolicyThroughTheAPI puts an endpoint's delivery policy
// through endpoints.put and reads it back with endpoints.get and
// endpoints.list: the fields come back, the key and the client secret
// never do, and a bad field is a 400 naming it.
func TestEndpointPolicyThroughTheAPI(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	ca := tlstest.NewCA(t, "clients")
	cert, key := ca.Client(t, "hookworker")
	keyLine := strings.Split(key, "\n")[1]

	ep, err := e.client.PutEndpoint(ctx, client.Endpoint{ID: "ep_a", URL: "https://example.com/a", RateLimit: 10, Ordered: true,
		RetrySchedule: []job.Duration{job.Duration(time.Second), job.Duration(time.Minute)}, Timeout: job.Duration(4 * time.Second),
		Auth: &client.EndpointAuth{Type: client.AuthMTLS, Cert: cert, Key: key}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"hooks.api.endpoints.get", "hooks.api.endpoints.list", "hooks.api.endpoints.put"} {
		body := `{"id":"ep_a"}`
		switch raw {
		case "hooks.api.endpoints.list":
			body = `{}`
		case "hooks.api.endpoints.put":
			body = `{"id":"ep_a","url":"https://example.com/a","auth":{"type":"oauth2","token_url":"https://auth.example.com/t","client_id":"hw","client_secret":"s3cret-client","scopes":["a"]}}`
		}
		m, err := e.nc.Request(raw, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(m.Data); strings.Contains(s, keyLine) || strings.Contains(s, "s3cret-client") || !strings.Contains(s, `"auth":{"type":`) {
			t.Fatalf("%s replied %s", raw, s)
		}
	}
	if ep.RateLimit != 10 || !ep.Ordered || len(ep.RetrySchedule) != 2 || ep.Timeout != job.Duration(4*time.Second) || ep.Auth.Key != "" || ep.Auth.Cert != cert {
		t.Fatalf("put replied %+v", ep)
	}
	// A patch that does not name the auth keeps it, its secret included.
	m, err := e.nc.Request("hooks.api.endpoints.patch", []byte(`{"id":"ep_a","rate_limit":2}`), 5*time.Second)
	if err != nil || !strings.Contains(string(m.Data), `"client_id":"hw"`) || !strings.Contains(string(m.Data), `"rate_limit":2`) {
		t.Fatalf("patch replied %s (%v)", m.Data, err)
	}

	for _, tt := range []struct{ body, field string }{
		{`{"url":"https://example.com/b","retry_schedule":["1s","soon"]}`, "retry_schedule"},
		{`{"url":"https://example.com/b","timeout":"soon"}`, "timeout"},
		{`{"url":"https://example.com/b","rate_limit":-3}`, "rate_limit"},
		{`{"url":"https://example.com/b","auth":{"type":"mtls","cert":"x"}}`, "auth.cert"},
		{`{"url":"https://example.com/b","auth":{"type":"oauth2","token_url":"https://a.example/t","client_id":"x"}}`, "auth.client_secret"},
	} {
		m, err := e.nc.Request("hooks.api.endpoints.put", []byte(tt.body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("Nats-Service-Error-Code") != "400" || !strings.Contains(string(m.Data), `"field":"`+tt.field+`"`) {
			t.Errorf("put %s: %s %s, want a 400 for %s", tt.body, m.Header.Get("Nats-Service-Error-Code"), m.Data, tt.field)
		}
	}
}
