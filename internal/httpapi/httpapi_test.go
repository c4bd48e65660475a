package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pb33f/libopenapi"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api/apitest"
	"github.com/hookworker/hookworker/internal/httpapi"
)

const orderSchema = `{"type":"object","required":["id"],"properties":{"id":{"type":"string"}},"examples":[{"id":"example-order"}]}`

// The document is served as written, is an OpenAPI 3.1 document the
// validator accepts, and names every operation the API serves.
func TestOpenAPIDocument(t *testing.T) {
	w := start(t, options{})
	r := w.call(t, "GET", "/openapi.json", "", nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, httpapi.OpenAPI()) {
		t.Fatalf("GET /openapi.json: %d, %d bytes", r.status, len(r.body))
	}
	doc, err := libopenapi.NewDocument(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi %s, want 3.1", v)
	}
	if ok, errs := docValidator(t).ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("document: %s (%s)", e.Message, e.Reason)
		}
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if op.OperationId == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			ops = append(ops, op.OperationId)
		}
	}
	// Every operation of the NATS API has a route: the two are doors to
	// the same functions.
	info, err := w.nc.Request("$SRV.INFO."+"hookworker", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var si struct {
		Endpoints []struct {
			Subject string `json:"subject"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(info.Data, &si); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range si.Endpoints {
		names = append(names, strings.TrimPrefix(e.Subject, "hooks.api."))
	}
	if len(names) == 0 {
		t.Fatal("the NATS API serves no operation")
	}
	for _, name := range names {
		if !slices.Contains(ops, name) {
			t.Errorf("operation %s has no route in the document", name)
		}
	}
}

// An endpoint a tenant creates is its own whatever the body says; it sees
// its own endpoints, attempts and events only, another tenant's are
// missing (404, worded as for one that does not exist) for every verb,
// and operator-only routes are forbidden (403).
func TestTenantIsolation(t *testing.T) {
	w := start(t, options{})
	ctx := context.Background()
	tokA, tokB := w.tenant(t, "acme"), w.tenant(t, "globex")
	w.must(t, "PUT", "/event-types/order.created", operatorKey, map[string]any{"schema": json.RawMessage(orderSchema)}, nil)
	recA, recB, recOp := apitest.NewReceiver(t, ""), apitest.NewReceiver(t, ""), apitest.NewReceiver(t, "")

	var epA, epB, epOp client.Endpoint
	w.must(t, "POST", "/endpoints", tokA, map[string]any{"url": recA.URL, "tenant": "globex"}, &epA)
	if epA.Tenant != "acme" {
		t.Fatalf("an endpoint created with acme's token belongs to %q", epA.Tenant)
	}
	w.must(t, "POST", "/endpoints", tokB, map[string]any{"url": recB.URL}, &epB)
	w.must(t, "POST", "/endpoints", operatorKey, map[string]any{"url": recOp.URL}, &epOp)
	if epB.Tenant != "globex" || epOp.Tenant != "" {
		t.Fatalf("tenants %q and %q", epB.Tenant, epOp.Tenant)
	}

	// Over both doors: an event with a tenant reaches that tenant's
	// endpoints only, one without a tenant the operator's only.
	var sentA, sentB client.Sent
	w.must(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "acme", "payload": map[string]any{"id": "a1"}}, &sentA)
	sentNATS, err := w.nats.SendEvent(ctx, client.Event{Type: "order.created", Tenant: "globex", Payload: json.RawMessage(`{"id":"b1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	sentB.ID = sentNATS.ID
	w.must(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "payload": map[string]any{"id": "op1"}}, nil)
	if recA.Wait(t, 1).Header.Get("webhook-id") != sentA.ID || recB.Wait(t, 1).Header.Get("webhook-id") != sentB.ID {
		t.Fatal("an event reached another tenant's endpoint")
	}
	recOp.Wait(t, 1)

	// acme's view.
	var list struct {
		Endpoints []client.Endpoint `json:"endpoints"`
	}
	w.must(t, "GET", "/endpoints", tokA, nil, &list)
	if len(list.Endpoints) != 1 || list.Endpoints[0].ID != epA.ID {
		t.Fatalf("acme lists %+v", list.Endpoints)
	}
	w.must(t, "GET", "/endpoints?tenant=globex", tokA, nil, &list)
	if len(list.Endpoints) != 0 {
		t.Fatalf("acme lists globex's endpoints: %+v", list.Endpoints)
	}
	w.must(t, "GET", "/endpoints", operatorKey, nil, &list)
	if len(list.Endpoints) != 3 {
		t.Fatalf("the operator lists %d endpoints, want 3", len(list.Endpoints))
	}
	var attempts struct {
		Attempts []struct {
			Endpoint *string `json:"endpoint"`
			Tenant   *string `json:"tenant"`
		} `json:"attempts"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.must(t, "GET", "/attempts", operatorKey, nil, &attempts)
		if len(attempts.Attempts) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, path := range []string{"/attempts", "/attempts?endpoint=" + epB.ID, "/attempts?tenant=globex", "/attempts?event_id=" + sentB.ID} {
		w.must(t, "GET", path, tokA, nil, &attempts)
		for _, a := range attempts.Attempts {
			if a.Tenant == nil || *a.Tenant != "acme" {
				t.Fatalf("GET %s as acme lists an attempt of %v", path, a.Tenant)
			}
		}
	}
	w.must(t, "GET", "/attempts", tokA, nil, &attempts)
	if len(attempts.Attempts) != 1 {
		t.Fatalf("acme lists %d attempts, want 1", len(attempts.Attempts))
	}
	w.must(t, "GET", "/event-types", tokA, nil, nil)
	w.must(t, "GET", "/event-types/order.created", tokA, nil, nil)
	w.must(t, "GET", "/endpoints/"+epA.ID+"/secret", tokA, nil, nil)
	w.must(t, "POST", "/events/"+sentA.ID+"/resend", tokA, map[string]any{"endpoint": epA.ID}, nil)
	recA.Wait(t, 2)

	// globex's endpoint, and one that does not exist, are the same to acme.
	for _, id := range []string{epB.ID, epOp.ID, "ep_nobody"} {
		for _, c := range []struct{ method, path string }{
			{"GET", "/endpoints/" + id},
			{"PATCH", "/endpoints/" + id},
			{"DELETE", "/endpoints/" + id},
			{"GET", "/endpoints/" + id + "/secret"},
			{"POST", "/endpoints/" + id + "/rotate"},
			{"POST", "/endpoints/" + id + "/recover"},
			{"POST", "/endpoints/" + id + "/test"},
			{"GET", "/endpoints/" + id + "/stats"},
			{"POST", "/events/" + sentA.ID + "/resend"},
		} {
			var body any
			switch {
			case strings.HasSuffix(c.path, "/recover"):
				body = map[string]any{"since": time.Now().Add(-time.Hour).Format(time.RFC3339)}
			case strings.HasSuffix(c.path, "/test"):
				body = map[string]any{"event_type": "order.created"}
			case strings.HasSuffix(c.path, "/resend"):
				body = map[string]any{"endpoint": id}
			case c.method == "PATCH":
				body = map[string]any{"description": "taken"}
			case c.method == "POST":
				body = map[string]any{}
			}
			r := w.call(t, c.method, c.path, tokA, body)
			e := r.errorReply(t)
			if r.status != http.StatusNotFound || e.Message != `endpoint "`+id+`": not found` {
				t.Errorf("%s %s as acme: %d %s", c.method, c.path, r.status, r.body)
			}
		}
	}
	// Another tenant's event, to acme's own endpoint: missing too.
	r := w.call(t, "POST", "/events/"+sentB.ID+"/resend", tokA, map[string]any{"endpoint": epA.ID})
	if r.status != http.StatusNotFound || r.errorReply(t).Message != `event "`+sentB.ID+`": not found` {
		t.Errorf("resend of globex's event as acme: %d %s", r.status, r.body)
	}
	// acme cannot take globex's endpoint by naming its id in a put.
	r = w.call(t, "POST", "/endpoints", tokA, map[string]any{"id": epB.ID, "url": recA.URL})
	if r.status != http.StatusNotFound {
		t.Errorf("put of globex's endpoint id as acme: %d %s", r.status, r.body)
	}
	if ep, err := w.nats.Endpoint(ctx, epB.ID); err != nil || ep.URL != recB.URL || ep.Tenant != "globex" {
		t.Fatalf("globex's endpoint is now %+v, %v", ep, err)
	}

	// Operator-only routes.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/tenants", nil},
		{"PUT", "/tenants/acme", map[string]any{}},
		{"GET", "/tenants/acme", nil},
		{"DELETE", "/tenants/globex", nil},
		{"POST", "/tenants/acme/token", map[string]any{}},
		{"PUT", "/event-types/order.created", map[string]any{}},
		{"DELETE", "/event-types/order.created", nil},
		{"POST", "/events", map[string]any{"type": "order.created", "payload": map[string]any{"id": "x"}}},
	} {
		r := w.call(t, c.method, c.path, tokA, c.body)
		if r.status != http.StatusForbidden {
			t.Errorf("%s %s as acme: %d %s", c.method, c.path, r.status, r.body)
		}
		r.errorReply(t)
	}
	// Nothing acme tried changed globex's endpoint or the catalog.
	w.must(t, "GET", "/endpoints/"+epB.ID, tokB, nil, nil)
	w.must(t, "GET", "/tenants/globex", operatorKey, nil, nil)

	// acme changes and deletes its own.
	var changed client.Endpoint
	w.must(t, "PATCH", "/endpoints/"+epA.ID, tokA, map[string]any{"description": "mine", "tenant": "globex"}, &changed)
	if changed.Description != "mine" || changed.Tenant != "acme" || changed.URL != recA.URL {
		t.Fatalf("patched: %+v", changed)
	}
	w.must(t, "POST", "/endpoints/"+epA.ID+"/rotate", tokA, map[string]any{}, nil)
	w.must(t, "DELETE", "/endpoints/"+epA.ID, tokA, nil, nil)
}

// A token that is not a valid one is 401, whatever is wrong with it.
func TestRejectedCredentials(t *testing.T) {
	w := start(t, options{})
	good := w.tenant(t, "acme")
	now := time.Now()
	claims := func(mod func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
		c := jwt.RegisteredClaims{Subject: "acme", Audience: jwt.ClaimStrings{"hookworker"},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(good, ".")
	other, _ := json.Marshal(claims(func(c *jwt.RegisteredClaims) { c.Subject = "globex" }))
	changed := parts[0] + "." + strings.TrimRight(jwtB64(other), "=") + "." + parts[2]
	none := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))
	tests := []struct {
		name   string
		header string // the Authorization header; "-" for none
	}{
		{"no header", "-"},
		{"empty", ""},
		{"basic", "Basic b3BlcmF0b3I6cGFzcw=="},
		{"bearer without token", "Bearer "},
		{"garbage", "Bearer garbage"},
		{"a near operator key", "Bearer " + operatorKey[:len(operatorKey)-1] + "X"},
		{"alg none", "Bearer " + none},
		{"alg none without signature", "Bearer " + strings.TrimSuffix(none, ".") + "."},
		{"HS384", "Bearer " + sign(jwt.SigningMethodHS384, []byte(tokenSecret), claims(nil))},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, []byte(tokenSecret), claims(nil))},
		{"wrong key", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefghijkl"), claims(nil))},
		{"expired", "Bearer " + sign(jwt.SigningMethodHS256, []byte(tokenSecret), claims(func(c *jwt.RegisteredClaims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(now.Add(-2*time.Hour)), jwt.NewNumericDate(now.Add(-time.Hour))
		}))},
		{"wrong audience", "Bearer " + sign(jwt.SigningMethodHS256, []byte(tokenSecret), claims(func(c *jwt.RegisteredClaims) {
			c.Audience = jwt.ClaimStrings{"another"}
		}))},
		{"no expiry", "Bearer " + sign(jwt.SigningMethodHS256, []byte(tokenSecret), claims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil }))},
		{"a signature over a changed payload", "Bearer " + changed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "-" {
				h.Set("Authorization", tt.header)
			}
			ctx := context.WithValue(context.Background(), badRequest{}, true)
			r := w.do(t, ctx, "GET", "/endpoints", "", nil, h)
			if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%d %q %s", r.status, r.header.Get("WWW-Authenticate"), r.body)
			}
			cred := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(tt.header, "Basic "), "Bearer "))
			if e := r.errorReply(t); cred != "" && cred != "-" && strings.Contains(e.Message, cred) {
				t.Fatalf("the error repeats the credential: %s", e.Message)
			}
		})
	}
	// The positive controls.
	w.must(t, "GET", "/endpoints", good, nil, nil)
	w.must(t, "GET", "/endpoints", operatorKey, nil, nil)
	// No credential is ever in the log.
	for _, secret := range []string{good, operatorKey, tokenSecret, "garbage", parts[2]} {
		if strings.Contains(w.log.String(), secret) {
			t.Fatalf("the log holds a credential:\n%s", w.log)
		}
	}
	if !strings.Contains(w.log.String(), "status=401") || !strings.Contains(w.log.String(), "principal=tenant tenant=acme") {
		t.Fatalf("the access log:\n%s", w.log)
	}
}

func jwtB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// A body over 1 MiB is 413, told by its length or found while read.
func TestBodyLimit(t *testing.T) {
	w := start(t, options{})
	big := `{"url":"http://example.com/","description":"` + strings.Repeat("x", httpapi.MaxBody) + `"}`
	r := w.callBad(t, "POST", "/endpoints", operatorKey, big)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r.errorReply(t)
	// Without a length: chunked.
	req, _ := http.NewRequestWithContext(context.WithValue(context.Background(), badRequest{}, true), "POST", w.url+"/endpoints",
		struct{ *strings.Reader }{strings.NewReader(big)})
	req.Header.Set("Authorization", "Bearer "+operatorKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: %d", resp.StatusCode)
	}
	// Just under the limit is read, and refused for what it says.
	r = w.callBad(t, "POST", "/endpoints", operatorKey, `{"unknown":1,`+big[1:httpapi.MaxBody-100]+`"}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("under the limit: %d %.200s", r.status, r.body)
	}
	// A well-formed endpoint just under the limit is too large to store:
	// a 400 naming it, not the store's error.
	r = w.callBad(t, "POST", "/endpoints", operatorKey, big[:httpapi.MaxBody-100]+`"}`)
	if body := string(r.body); r.status != http.StatusBadRequest || !strings.Contains(body, "endpoint") || !strings.Contains(body, "bytes") {
		t.Fatalf("an endpoint of about 1 MiB: %d %.300s", r.status, r.body)
	}
	r.errorReply(t)
}

// Replies with a secret or a token are not to be stored; others may be.
func TestNoStore(t *testing.T) {
	w := start(t, options{})
	w.tenant(t, "acme")
	var ep client.Endpoint
	w.must(t, "POST", "/endpoints", operatorKey, map[string]any{"url": "http://example.com/hook"}, &ep)
	for _, c := range []struct {
		method, path string
		body         any
		noStore      bool
	}{
		{"GET", "/endpoints/" + ep.ID + "/secret", nil, true},
		{"POST", "/tenants/acme/token", map[string]any{"ttl": "5m"}, true},
		{"GET", "/endpoints/" + ep.ID, nil, false},
		{"GET", "/tenants/acme", nil, false},
	} {
		r := w.call(t, c.method, c.path, operatorKey, c.body)
		if r.status != http.StatusOK || (r.header.Get("Cache-Control") == "no-store") != c.noStore {
			t.Errorf("%s %s: %d, Cache-Control %q", c.method, c.path, r.status, r.header.Get("Cache-Control"))
		}
	}
}

// CORS is off unless origins are listed; then only they are answered.
func TestCORS(t *testing.T) {
	preflight := func(t *testing.T, w *world, origin string) reply {
		h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization"}}
		return w.do(t, context.WithValue(context.Background(), badRequest{}, true), "OPTIONS", "/endpoints", "", nil, h)
	}
	get := func(t *testing.T, w *world, origin string) reply {
		return w.do(t, context.Background(), "GET", "/endpoints", operatorKey, nil, http.Header{"Origin": {origin}})
	}
	t.Run("off", func(t *testing.T) {
		w := start(t, options{})
		if r := preflight(t, w, "https://app.example.com"); r.status == http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight: %d %v", r.status, r.header)
		}
		if r := get(t, w, "https://app.example.com"); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("GET: %v", r.header)
		}
	})
	t.Run("listed", func(t *testing.T) {
		w := start(t, options{cors: []string{"https://app.example.com"}})
		r := preflight(t, w, "https://app.example.com")
		if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("preflight: %d %v", r.status, r.header)
		}
		if r := get(t, w, "https://app.example.com"); r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("GET: %d %v", r.status, r.header)
		}
		if r := preflight(t, w, "https://evil.example.com"); r.status == http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("another origin's preflight: %d %v", r.status, r.header)
		}
		if r := get(t, w, "https://evil.example.com"); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("another origin's GET: %v", r.header)
		}
	})
}
