package portal_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/api/apitest"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/httpapi"
	"github.com/hookworker/hookworker/internal/portal"
)

// The operator key and the token secret of the world.
const (
	operatorKey = "hwk_portal-operator-key-0123456789abcdefghij"
	tokenSecret = "portal-token-secret-0123456789abcdefghijkl"
)

// world is one worker on an in-process JetStream server: the catalog, the
// fan-out, a consumer delivering event jobs, the delivery log, the API
// service, and one HTTP server on a real listener with the HTTP API under
// /api/v1 and the portal under /portal/, as the worker serves them.
type world struct {
	base string // the server's origin, http://127.0.0.1:port
}

func start(t testing.TB) *world {
	t.Helper()
	wk := apitest.Start(t, 4, tokenSecret)
	fatal := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	keys, err := auth.NewKeys([]string{operatorKey})
	fatal(err)
	h, err := httpapi.New(httpapi.Config{API: wk.Service, Auth: auth.Settings{Keys: keys, Tokens: wk.Tokens}, Heartbeat: time.Second})
	fatal(err)
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", h)
	mux.Handle(portal.Prefix, portal.Handler(portal.Config{}))
	hs := httptest.NewUnstartedServer(mux)
	hs.Config = httpapi.NewServer(mux)
	hs.Start()
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	return &world{base: hs.URL}
}

// call sends a request to the HTTP API as token and decodes its reply into
// out (when not nil), failing unless it is a 200.
func (w *world) call(t testing.TB, method, path, token string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, w.base+httpapi.Prefix+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// tenant creates tenant id and returns a token of it.
func (w *world) tenant(t testing.TB, id string) string {
	t.Helper()
	w.call(t, "PUT", "/tenants/"+id, operatorKey, map[string]any{"name": "Tenant " + id}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	w.call(t, "POST", "/tenants/"+id+"/token", operatorKey, map[string]any{"ttl": "1h"}, &tok)
	return tok.Token
}
