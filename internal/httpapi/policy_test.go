package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/tlstest"
)

// An endpoint's delivery policy through the HTTP API: the requests and
// replies match the document, the key and the client secret are never in
// a reply, and a bad field is a 400 naming it.
func TestEndpointPolicy(t *testing.T) {
	w := start(t, options{})
	ca := tlstest.NewCA(t, "clients")
	cert, key := ca.Client(t, "hookworker")
	keyLine := strings.Split(key, "\n")[1]
	var ep map[string]any
	w.must(t, "POST", "/endpoints", operatorKey, map[string]any{"url": "https://example.com/a", "rate_limit": 5, "ordered": true,
		"retry_schedule": []any{"1s", 30}, "timeout": "10s", "auth": map[string]any{"type": "mtls", "cert": cert, "key": key}}, &ep)
	id, _ := ep["id"].(string)
	for _, r := range []reply{
		w.call(t, "GET", "/endpoints/"+id, operatorKey, nil),
		w.call(t, "GET", "/endpoints", operatorKey, nil),
		w.call(t, "PATCH", "/endpoints/"+id, operatorKey, map[string]any{"auth": map[string]any{"type": "oauth2",
			"token_url": "https://auth.example.com/token", "client_id": "hw", "client_secret": "s3cret-client", "scopes": []string{"a"}}}),
		w.call(t, "PATCH", "/endpoints/"+id, operatorKey, map[string]any{"rate_limit": 0}),
	} {
		if r.status != http.StatusOK || strings.Contains(string(r.body), keyLine) || strings.Contains(string(r.body), "s3cret-client") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	var got map[string]any
	w.must(t, "GET", "/endpoints/"+id, operatorKey, nil, &got)
	if auth, _ := got["auth"].(map[string]any); auth["client_id"] != "hw" || got["ordered"] != true || got["timeout"] != "10s" || got["rate_limit"] != nil {
		t.Fatalf("endpoint %v", got)
	}
	r := w.call(t, "POST", "/endpoints", operatorKey, map[string]any{"url": "https://example.com/b", "timeout": "soon"})
	if r.status != http.StatusBadRequest || r.errorReply(t).Field != "timeout" {
		t.Fatalf("a bad timeout: %d %s", r.status, r.body)
	}
}
