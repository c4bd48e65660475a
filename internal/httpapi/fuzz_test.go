package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fuzzRoutes are the routes the fuzz test sends bodies and queries to.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/endpoints"},
	{"PATCH", "/endpoints/ep_fuzz"},
	{"POST", "/endpoints/ep_fuzz/rotate"},
	{"POST", "/endpoints/ep_fuzz/recover"},
	{"POST", "/endpoints/ep_fuzz/test"},
	{"GET", "/endpoints/ep_fuzz/stats"},
	{"PUT", "/event-types/order.created"},
	{"POST", "/events"},
	{"POST", "/events/evt_fuzz/resend"},
	{"PUT", "/tenants/acme"},
	{"POST", "/tenants/acme/token"},
	{"GET", "/endpoints"},
	{"GET", "/attempts"},
	{"GET", "/tenants"},
	{"GET", "/event-types"},
}

// The handlers never panic and always answer JSON, with the error's code
// as the status, whatever the body and the query.
func FuzzRequest(f *testing.F) {
	w := start(f, options{})
	w.must(f, "PUT", "/event-types/order.created", operatorKey, map[string]any{"schema": json.RawMessage(orderSchema)}, nil)
	w.must(f, "PUT", "/tenants/acme", operatorKey, map[string]any{}, nil)
	w.must(f, "POST", "/endpoints", operatorKey, map[string]any{"id": "ep_fuzz", "url": "http://127.0.0.1:1/hook"}, nil)
	for i := range fuzzRoutes {
		for _, seed := range []struct{ body, query string }{
			{"", ""},
			{"{}", ""},
			{"null", "limit=1"},
			{`{"url":"http://example.com/","event_types":["order.created"],"metadata":{"a":1}}`, ""},
			{`{"type":"order.created","payload":{"id":"x"},"tenant":"acme"}`, ""},
			{`{"id":"ep_other","description":"\u0000"}`, "iterator=zz"},
			{`{"since":"2026-01-01T00:00:00Z","until":"yesterday"}`, "since=2026-01-01T00:00:00Z"},
			{`{"ttl":"25h"}`, "tenant=acme&outcome=retry"},
			{`{"event_type":"order.created"}{"x":1}`, "event_type=a.b&limit=-1"},
			{`[{"a":`, "include_archived=1"},
			{"\xff\xfe", "%zz"},
		} {
			f.Add(uint8(i), []byte(seed.body), seed.query)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, query string) {
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' }) {
			return // not a request line: the server refuses it before any handler
		}
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		url := w.url + rt.path
		if query != "" {
			url += "?" + query
		}
		req, err := http.NewRequest(rt.method, url, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Authorization", "Bearer "+operatorKey)
		resp, err := w.raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !json.Valid(data) {
			t.Fatalf("%s %s %q: %d, not JSON: %q", rt.method, rt.path, body, resp.StatusCode, data)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, resp.StatusCode, data)
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(data, &e) != nil || e.Error.Code != resp.StatusCode || e.Error.Message == "" {
				t.Fatalf("%s %s %q: %d, error %s", rt.method, rt.path, body, resp.StatusCode, data)
			}
		}
	})
}
