package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api/apitest"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/httpapi"
	"github.com/hookworker/hookworker/internal/syncbuf"
)

// The operator key and the token secret of every world.
const (
	operatorKey = "hwk_test-operator-key-0123456789abcdefghij"
	tokenSecret = "test-token-secret-0123456789abcdefghijkl"
)

// world is one worker on an in-process JetStream server: the catalog, the
// fan-out, a consumer delivering event jobs, the delivery log, the NATS API
// (with a client of it) and the HTTP API on a real listener, which every
// request of the tests reaches through a client that checks each request
// and reply against the OpenAPI document.
type world struct {
	url    string       // the HTTP API's base, ending in /api/v1
	http   *http.Client // validates against the document
	raw    *http.Client // does not
	nats   *client.Client
	nc     *nats.Conn // of the NATS client
	tokens *auth.Tokens
	log    *syncbuf.Buffer // the HTTP API's log
}

// options tune a world.
type options struct {
	cors []string
}

func start(t testing.TB, o options) *world {
	t.Helper()
	wk := apitest.Start(t, 8, tokenSecret)
	svc, tokens, nc := wk.Service, wk.Tokens, wk.Conn
	keys, err := auth.NewKeys([]string{operatorKey})
	if err != nil {
		t.Fatal(err)
	}
	log := &syncbuf.Buffer{}
	h, err := httpapi.New(httpapi.Config{API: svc, Auth: auth.Settings{Keys: keys, Tokens: tokens, CORSOrigins: o.cors},
		Logger: slog.New(slog.NewTextHandler(log, nil)), Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(h)
	hs.Config = httpapi.NewServer(h)
	hs.Start()
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	ncc, _ := bustest.Connect(t, nc.ConnectedUrl())
	return &world{
		url:    hs.URL + httpapi.Prefix,
		http:   &http.Client{Transport: &validating{t: t, v: docValidator(t), base: hs.Client().Transport}, Timeout: 30 * time.Second},
		raw:    hs.Client(),
		nats:   client.New(ncc),
		nc:     ncc,
		tokens: tokens,
		log:    log,
	}
}

// docValidator returns a validator of the served document.
func docValidator(t testing.TB) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("the OpenAPI document: %v", errs)
	}
	return v
}

// badRequest marks a request the test knows breaks the document, so that
// only its reply is checked.
type badRequest struct{}

// noRoute marks a request to a route that does not exist, on purpose.
type noRoute struct{}

// validating is an http.RoundTripper that checks every request (but one
// marked badRequest) and every reply against the OpenAPI document.
type validating struct {
	t    testing.TB
	base http.RoundTripper
	mu   sync.Mutex
	v    validator.Validator
}

func (vt *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := vt.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, nil // a stream does not end; its status and headers are checked by its test
	}
	if req.Method == http.MethodOptions || req.Context().Value(noRoute{}) != nil {
		// CORS's preflight, answered before any route, and requests to
		// no route, which the document cannot say anything of.
		return resp, nil
	}
	reply, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(reply))
	copyOf := func() *http.Request {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		return r
	}
	vt.mu.Lock()
	defer vt.mu.Unlock()
	if req.Context().Value(badRequest{}) == nil {
		if ok, errs := vt.v.ValidateHttpRequest(copyOf()); !ok {
			for _, e := range errs {
				vt.t.Errorf("%s %s: the request breaks the OpenAPI document: %s (%s)", req.Method, req.URL.Path, e.Message, e.Reason)
			}
		}
	}
	check := *resp
	check.Body = io.NopCloser(bytes.NewReader(reply))
	if ok, errs := vt.v.ValidateHttpResponse(copyOf(), &check); !ok {
		for _, e := range errs {
			vt.t.Errorf("%s %s: the %d reply breaks the OpenAPI document: %s (%s)\n%s", req.Method, req.URL.Path, resp.StatusCode, e.Message, e.Reason, reply)
		}
	}
	return resp, nil
}

// reply is one HTTP reply.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// decode decodes the reply's JSON into v.
func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("reply %d %s: %v", r.status, r.body, err)
	}
}

// errorReply returns the reply's error, failing unless it is one with the
// status as code.
func (r reply) errorReply(t testing.TB) httpapi.ErrorDetail {
	t.Helper()
	var e httpapi.ErrorReply
	r.decode(t, &e)
	if e.Error.Code != r.status || e.Error.Message == "" {
		t.Fatalf("error reply %d %s", r.status, r.body)
	}
	return e.Error
}

// call sends a request as token ("" for none) with body (nil for none; a
// string or []byte as is, anything else as JSON) and returns the reply.
func (w *world) call(t testing.TB, method, path, token string, body any) reply {
	t.Helper()
	return w.do(t, context.Background(), method, path, token, body, nil)
}

// callBad is call for a request that breaks the document on purpose.
func (w *world) callBad(t testing.TB, method, path, token string, body any) reply {
	t.Helper()
	return w.do(t, context.WithValue(context.Background(), badRequest{}, true), method, path, token, body, nil)
}

func (w *world) do(t testing.TB, ctx context.Context, method, path, token string, body any, header http.Header) reply {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := w.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

// must is call, failing unless the reply is a 200; it decodes the reply
// into out when out is not nil.
func (w *world) must(t testing.TB, method, path, token string, body, out any) {
	t.Helper()
	r := w.call(t, method, path, token, body)
	if r.status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
	}
	if out != nil {
		r.decode(t, out)
	}
}

// tenant creates tenant id and returns a token of it.
func (w *world) tenant(t testing.TB, id string) string {
	t.Helper()
	w.must(t, "PUT", "/tenants/"+id, operatorKey, map[string]any{"name": "Tenant " + id}, nil)
	var tok struct {
		Token string `json:"token"`
	}
	w.must(t, "POST", "/tenants/"+id+"/token", operatorKey, map[string]any{"ttl": "1h"}, &tok)
	return tok.Token
}
