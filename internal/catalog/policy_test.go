package catalog_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/tlstest"
	"github.com/hookworker/hookworker/job"
)

func TestPutEndpointRefusesBadPolicy(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	ca := tlstest.NewCA(t, "test clients")
	cert, key := ca.Client(t, "hookworker")
	_, otherKey := ca.Client(t, "someone else")
	url := "https://example.com/"
	oauth := func(f func(*catalog.Auth)) *catalog.Auth {
		a := &catalog.Auth{Type: "oauth2", TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "s3cret-client"}
		f(a)
		return a
	}
	tests := []struct {
		name  string
		ep    catalog.Endpoint
		field string
	}{
		{"negative rate", catalog.Endpoint{URL: url, RateLimit: -1}, "rate_limit"},
		{"negative wait", catalog.Endpoint{URL: url, RetrySchedule: catalog.Schedule{job.Duration(time.Second), -1}}, "retry_schedule"},
		{"long schedule", catalog.Endpoint{URL: url, RetrySchedule: make(catalog.Schedule, job.MaxScheduleLen+1)}, "retry_schedule"},
		{"negative timeout", catalog.Endpoint{URL: url, Timeout: -1}, "timeout"},
		{"no auth type", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Cert: cert, Key: key}}, "auth.type"},
		{"unknown auth type", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "basic"}}, "auth.type"},
		{"mtls over http", catalog.Endpoint{URL: "http://example.com/", Auth: &catalog.Auth{Type: "mtls", Cert: cert, Key: key}}, "auth.type"},
		{"mtls without cert", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "mtls", Key: key}}, "auth.cert"},
		{"mtls cert not PEM", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "mtls", Cert: "hello", Key: key}}, "auth.cert"},
		{"mtls key for cert", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "mtls", Cert: key, Key: key}}, "auth.cert"},
		{"mtls without key", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "mtls", Cert: cert}}, "auth.key"},
		{"mtls key not PEM", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "mtls", Cert: cert, Key: "nope"}}, "auth.key"},
		{"mtls another key", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "mtls", Cert: cert, Key: otherKey}}, "auth.key"},
		{"mtls with client id", catalog.Endpoint{URL: url, Auth: &catalog.Auth{Type: "mtls", Cert: cert, Key: key, ClientID: "x"}}, "auth.client_id"},
		{"oauth2 without token url", catalog.Endpoint{URL: url, Auth: oauth(func(a *catalog.Auth) { a.TokenURL = "" })}, "auth.token_url"},
		{"oauth2 relative token url", catalog.Endpoint{URL: url, Auth: oauth(func(a *catalog.Auth) { a.TokenURL = "/token" })}, "auth.token_url"},
		{"oauth2 private token url", catalog.Endpoint{URL: url, Auth: oauth(func(a *catalog.Auth) { a.TokenURL = "http://127.0.0.1/token" })}, "auth.token_url"},
		{"oauth2 without client id", catalog.Endpoint{URL: url, Auth: oauth(func(a *catalog.Auth) { a.ClientID = "" })}, "auth.client_id"},
		{"oauth2 without secret", catalog.Endpoint{URL: url, Auth: oauth(func(a *catalog.Auth) { a.ClientSecret = "" })}, "auth.client_secret"},
		{"oauth2 bad scope", catalog.Endpoint{URL: url, Auth: oauth(func(a *catalog.Auth) { a.Scopes = []string{"a b"} })}, "auth.scopes"},
		{"oauth2 with cert", catalog.Endpoint{URL: url, Auth: oauth(func(a *catalog.Auth) { a.Cert = cert })}, "auth.cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutEndpoint(ctx, tt.ep, "")
			if got := field(err); got != tt.field {
				t.Fatalf("err = %v: field %q, want %q", err, got, tt.field)
			}
			if strings.Contains(err.Error(), keyBody(key)) || strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "s3cret-client") {
				t.Fatalf("error repeats key material: %v", err)
			}
		})
	}
}

func TestEndpointPolicyFromJSON(t *testing.T) {
	tests := []struct {
		name, in, field string
	}{
		{"schedule entry", `{"retry_schedule":["1s","soon"]}`, "retry_schedule"},
		{"schedule not a list", `{"retry_schedule":"1s"}`, "retry_schedule"},
		{"schedule negative", `{"retry_schedule":["-1s"]}`, "retry_schedule"},
		{"timeout", `{"timeout":"soon"}`, "timeout"},
		{"fine", `{"retry_schedule":["1s",30,"2m"],"timeout":"10s","rate_limit":5,"ordered":true}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e catalog.Endpoint
			err := json.Unmarshal([]byte(tt.in), &e)
			if got := field(err); got != tt.field {
				t.Fatalf("err = %v: field %q, want %q", err, got, tt.field)
			}
			if tt.field == "" {
				want := catalog.Schedule{job.Duration(time.Second), job.Duration(30 * time.Second), job.Duration(2 * time.Minute)}
				if len(e.RetrySchedule) != 3 || e.RetrySchedule[1] != want[1] || e.Timeout.Duration() != 10*time.Second || e.RateLimit != 5 || !e.Ordered {
					t.Fatalf("decoded %+v", e)
				}
				out, _ := json.Marshal(e)
				if !strings.Contains(string(out), `"retry_schedule":["1s","30s","2m0s"],"timeout":"10s"`) {
					t.Fatalf("encoded %s", out)
				}
			}
		})
	}
}

func TestEndpointAuthIsKeptButNeverReadBack(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	ca := tlstest.NewCA(t, "test clients")
	cert, key := ca.Client(t, "hookworker")

	ep, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/", RateLimit: 3, Ordered: true,
		Timeout: catalog.Timeout(5 * time.Second), Auth: &catalog.Auth{Type: "mtls", Cert: cert, Key: key}}, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Endpoint(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []catalog.Endpoint{ep, got} {
		if e.Auth == nil || e.Auth.Key != "" || e.Auth.Cert != cert || e.RateLimit != 3 || !e.Ordered || e.Timeout.Duration() != 5*time.Second {
			t.Fatalf("endpoint %+v, want the policy back without the key", e)
		}
		if b, _ := json.Marshal(e); strings.Contains(string(b), keyBody(key)) {
			t.Fatalf("reply holds the key: %s", b)
		}
	}
	// Even an Auth holding a key writes none.
	if b, _ := json.Marshal(catalog.Auth{Type: "mtls", Cert: cert, Key: key}); strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), `"key"`) {
		t.Fatalf("Auth writes its key: %s", b)
	}
	cr, ok, err := c.Credentials(ctx, ep.ID)
	if err != nil || !ok || cr.Key != key || cr.Cert != cert || cr.Version == "" {
		t.Fatalf("credentials %v %v, want the key back for delivery", ok, err)
	}

	// An update that gives the same type without the key keeps it.
	got.Description = "changed"
	if _, err := c.PutEndpoint(ctx, got, ""); err != nil {
		t.Fatal(err)
	}
	if cr2, _, _ := c.Credentials(ctx, ep.ID); cr2.Key != key || cr2.Version != cr.Version {
		t.Fatal("an update without the key lost it, or changed the version")
	}
	// A new certificate without its key is refused, and changes nothing.
	cert2, key2 := ca.Client(t, "hookworker 2")
	got.Auth = &catalog.Auth{Type: "mtls", Cert: cert2}
	if _, err := c.PutEndpoint(ctx, got, ""); field(err) != "auth.key" {
		t.Fatalf("new cert without its key: %v, want auth.key", err)
	}
	got.Auth.Key = key2
	if _, err := c.PutEndpoint(ctx, got, ""); err != nil {
		t.Fatal(err)
	}
	cr3, _, _ := c.Credentials(ctx, ep.ID)
	if cr3.Key != key2 || cr3.Version == cr.Version {
		t.Fatal("a new key pair did not replace the old one with a new version")
	}

	// OAuth2: the client secret likewise; another type needs its own secret.
	got.Auth = &catalog.Auth{Type: "oauth2", TokenURL: "https://auth.example.com/token", ClientID: "hw"}
	if _, err := c.PutEndpoint(ctx, got, ""); field(err) != "auth.client_secret" {
		t.Fatalf("oauth2 without a secret after mtls: %v, want auth.client_secret", err)
	}
	got.Auth.ClientSecret, got.Auth.Scopes = "s3cret-client", []string{"hooks.write"}
	ep2, err := c.PutEndpoint(ctx, got, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(ep2); strings.Contains(string(b), "s3cret-client") || strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatalf("reply holds a secret: %s", b)
	}
	// The mirror has them once it has the write.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cr, ok := c.MirroredCredentials(ep.ID)
		if ok && cr.Type == "oauth2" {
			if cr.ClientSecret != "s3cret-client" || cr.Key != "" {
				t.Fatal("mirrored credentials are not the oauth2 ones")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the mirror never had the oauth2 credentials")
		}
		time.Sleep(time.Millisecond)
	}
	// Removing the auth removes its secret.
	got.Auth = nil
	if _, err := c.PutEndpoint(ctx, got, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Credentials(ctx, ep.ID); ok {
		t.Fatal("credentials kept after the auth was removed")
	}
}

// keyBody returns the first line of a PEM key's base64 body.
func keyBody(key string) string { return strings.Split(key, "\n")[1] }
