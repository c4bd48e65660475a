package receiver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookworker/hookworker/internal/syncbuf"
	"github.com/hookworker/hookworker/receiver"
)

// newSecret returns a fresh Standard Webhooks secret.
func newSecret(t testing.TB) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// signed builds a webhook request as a Standard Webhooks sender does, signed
// with the library of the specification.
func signed(t testing.TB, secret, id string, at time.Time, body []byte) *http.Request {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("webhook-id", id)
	r.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	r.Header.Set("webhook-signature", sig)
	return r
}

// eventBody returns a payload structure of type typ.
func eventBody(typ string, data any) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "timestamp": "2026-01-02T03:04:05Z", "data": data})
	if err != nil {
		panic(err)
	}
	return b
}

// counter counts the calls of a handler and remembers the last event.
type counter struct {
	n    atomic.Int32
	mu   sync.Mutex
	last receiver.Event
}

func (c *counter) handle(err error) receiver.HandlerFunc {
	return func(_ context.Context, ev receiver.Event) error {
		c.n.Add(1)
		c.mu.Lock()
		c.last = ev
		c.mu.Unlock()
		return err
	}
}

func newReceiver(t *testing.T, cfg receiver.Config) *receiver.Receiver {
	t.Helper()
	rc, err := receiver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func serve(h http.Handler, r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// TestRefused sends requests that must not verify: each is answered 403,
// reaches no handler, and is logged without its signature, secret or body.
func TestRefused(t *testing.T) {
	t.Parallel()
	secret, other := newSecret(t), newSecret(t)
	body := eventBody("order.created", map[string]string{"marker": "body-must-not-be-logged"})
	now := time.Now()
	cases := []struct {
		name  string
		req   func() *http.Request
		cause string
	}{
		{"tampered body", func() *http.Request {
			r := signed(t, secret, "msg_1", now, body)
			r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(body, []byte("order"), []byte("Order"), 1)))
			return r
		}, "no matching signature"},
		{"wrong secret", func() *http.Request { return signed(t, other, "msg_1", now, body) }, "no matching signature"},
		{"tampered id", func() *http.Request {
			r := signed(t, secret, "msg_1", now, body)
			r.Header.Set("webhook-id", "msg_2")
			return r
		}, "no matching signature"},
		{"timestamp 10 minutes old", func() *http.Request { return signed(t, secret, "msg_1", now.Add(-10*time.Minute), body) }, "too old"},
		{"timestamp 10 minutes ahead", func() *http.Request { return signed(t, secret, "msg_1", now.Add(10*time.Minute), body) }, "in the future"},
		{"timestamp not a number", func() *http.Request {
			r := signed(t, secret, "msg_1", now, body)
			r.Header.Set("webhook-timestamp", "yesterday")
			return r
		}, "not unix seconds"},
		{"missing webhook-id", func() *http.Request {
			r := signed(t, secret, "msg_1", now, body)
			r.Header.Del("webhook-id")
			return r
		}, "missing header: webhook-id"},
		{"missing webhook-timestamp", func() *http.Request {
			r := signed(t, secret, "msg_1", now, body)
			r.Header.Del("webhook-timestamp")
			return r
		}, "missing header: webhook-timestamp"},
		{"missing webhook-signature", func() *http.Request {
			r := signed(t, secret, "msg_1", now, body)
			r.Header.Del("webhook-signature")
			return r
		}, "missing header: webhook-signature"},
		{"unknown signature version", func() *http.Request {
			r := signed(t, secret, "msg_1", now, body)
			r.Header.Set("webhook-signature", strings.Replace(r.Header.Get("webhook-signature"), "v1,", "v1a,", 1))
			return r
		}, "no matching signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs syncbuf.Buffer
			var calls counter
			rc := newReceiver(t, receiver.Config{Secrets: []string{secret}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			rc.On("order.created", calls.handle(nil))
			rc.Default(calls.handle(nil))
			req := c.req()
			sig := req.Header.Get("webhook-signature")
			resp := serve(rc, req)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
			if n := calls.n.Load(); n != 0 {
				t.Errorf("handler called %d times, want 0", n)
			}
			line := logs.String()
			if !strings.Contains(line, c.cause) {
				t.Errorf("log %q does not say %q", line, c.cause)
			}
			for _, secretText := range []string{"body-must-not-be-logged", strings.TrimPrefix(secret, "whsec_"), strings.TrimPrefix(other, "whsec_")} {
				if strings.Contains(line, secretText) {
					t.Errorf("log %q holds %q", line, secretText)
				}
			}
			if sig != "" && strings.Contains(line, strings.TrimPrefix(sig, "v1,")) {
				t.Errorf("log %q holds the signature", line)
			}
		})
	}
}

// TestDispatch sends verified requests and checks the handler each reaches
// and the status it is answered with.
func TestDispatch(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	cases := []struct {
		name       string
		body       []byte
		handlerErr error
		status     int
		on, other  int32 // calls of the order.created handler and of the default
		noDefault  bool
	}{
		{"handled", eventBody("order.created", map[string]int{"n": 1}), nil, http.StatusNoContent, 1, 0, false},
		{"error retried", eventBody("order.created", nil), errors.New("database down"), http.StatusInternalServerError, 1, 0, false},
		{"permanent error", eventBody("order.created", nil), receiver.Permanent(errors.New("unknown order")), http.StatusUnprocessableEntity, 1, 0, false},
		{"wrapped permanent error", eventBody("order.created", nil), errors.Join(errors.New("x"), receiver.Permanent(errors.New("unknown order"))), http.StatusUnprocessableEntity, 1, 0, false},
		{"other type to default", eventBody("order.shipped", nil), nil, http.StatusNoContent, 0, 1, false},
		{"unknown type ignored", eventBody("order.shipped", nil), nil, http.StatusNoContent, 0, 0, true},
		{"no type ignored", []byte(`{"hello":"world"}`), nil, http.StatusNoContent, 0, 0, true},
		{"not an object", []byte(`[1,2]`), nil, http.StatusBadRequest, 0, 0, false},
		{"type not a string", []byte(`{"type":1}`), nil, http.StatusBadRequest, 0, 0, false},
		{"bad timestamp", []byte(`{"type":"order.created","timestamp":"noon"}`), nil, http.StatusBadRequest, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var on, other counter
			rc := newReceiver(t, receiver.Config{Secrets: []string{secret}})
			rc.On("order.created", on.handle(c.handlerErr))
			if !c.noDefault {
				rc.Default(other.handle(nil))
			}
			resp := serve(rc, signed(t, secret, "msg_"+strings.ReplaceAll(c.name, " ", "_"), time.Now(), c.body))
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if on.n.Load() != c.on || other.n.Load() != c.other {
				t.Errorf("handler calls %d, default calls %d; want %d, %d", on.n.Load(), other.n.Load(), c.on, c.other)
			}
		})
	}
}

// TestEvent checks what a handler gets.
func TestEvent(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	var c counter
	rc := newReceiver(t, receiver.Config{Secrets: []string{secret}})
	rc.On("order.created", c.handle(nil))
	req := signed(t, secret, "evt_42", time.Now(), eventBody("order.created", map[string]string{"order": "A-1"}))
	req.Header.Set("X-Env", "prod")
	if resp := serve(rc, req); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	ev := c.last
	if ev.ID != "evt_42" || ev.Type != "order.created" || !ev.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || ev.Header.Get("X-Env") != "prod" {
		t.Errorf("event %+v", ev)
	}
	var data struct{ Order string }
	if err := json.Unmarshal(ev.Data, &data); err != nil || data.Order != "A-1" {
		t.Errorf("data %s: %v, %+v", ev.Data, err, data)
	}
}

// TestRotation: during a rotation the receiver lists both secrets, and a
// request signed with either verifies, as does one that carries both
// signatures; a third secret does not.
func TestRotation(t *testing.T) {
	t.Parallel()
	oldSecret, newSecretValue, stranger := newSecret(t), newSecret(t), newSecret(t)
	body := eventBody("order.created", nil)
	both := signed(t, newSecretValue, "msg_both", time.Now(), body)
	oldSig := signed(t, oldSecret, "msg_both", time.Now(), body).Header.Get("webhook-signature")
	both.Header.Set("webhook-signature", both.Header.Get("webhook-signature")+" "+oldSig)
	cases := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"old secret", signed(t, oldSecret, "msg_old", time.Now(), body), http.StatusNoContent},
		{"new secret", signed(t, newSecretValue, "msg_new", time.Now(), body), http.StatusNoContent},
		{"both signatures", both, http.StatusNoContent},
		{"another secret", signed(t, stranger, "msg_other", time.Now(), body), http.StatusForbidden},
	}
	var c counter
	rc := newReceiver(t, receiver.Config{Secrets: []string{newSecretValue, oldSecret}})
	rc.On("order.created", c.handle(nil))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := c.n.Load()
			resp := serve(rc, tc.req)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			want := before
			if tc.status == http.StatusNoContent {
				want++
			}
			if got := c.n.Load(); got != want {
				t.Errorf("handler calls %d, want %d", got, want)
			}
		})
	}
}

// TestSetSecrets swaps the secrets of a serving receiver: a request signed
// with the new secret is refused before and handled after; a bad secret
// leaves the ones in use.
func TestSetSecrets(t *testing.T) {
	t.Parallel()
	oldSecret, newSecretValue := newSecret(t), newSecret(t)
	body := eventBody("order.created", nil)
	var c counter
	rc := newReceiver(t, receiver.Config{Secrets: []string{oldSecret}})
	rc.On("order.created", c.handle(nil))
	if resp := serve(rc, signed(t, newSecretValue, "msg_1", time.Now(), body)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("signed with a secret not set yet: status %d, want 403", resp.StatusCode)
	}
	if err := rc.SetSecrets([]string{newSecretValue, oldSecret}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{newSecretValue, oldSecret} {
		if resp := serve(rc, signed(t, s, "msg_"+s[len(s)-8:], time.Now(), body)); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("after SetSecrets: status %d, want 204", resp.StatusCode)
		}
	}
	err := rc.SetSecrets([]string{"whsec_not base64 " + newSecretValue})
	if err == nil {
		t.Fatal("SetSecrets took a malformed secret")
	}
	if strings.Contains(err.Error(), newSecretValue) {
		t.Errorf("the error holds the secret: %v", err)
	}
	if resp := serve(rc, signed(t, newSecretValue, "msg_3", time.Now(), body)); resp.StatusCode != http.StatusNoContent {
		t.Errorf("after a refused SetSecrets: status %d, want 204 with the secrets kept", resp.StatusCode)
	}
	if c.n.Load() != 3 {
		t.Errorf("handler calls %d, want 3", c.n.Load())
	}
}

// TestBodyLimit: a body past the bound gets 413 whether or not its length
// is announced; one at the bound is handled.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	const limit = 1 << 10
	pad := limit - len(eventBody("order.created", ""))
	atLimit := eventBody("order.created", strings.Repeat("x", pad))
	if len(atLimit) != limit {
		t.Fatalf("body of %d bytes, want %d", len(atLimit), limit)
	}
	over := eventBody("order.created", strings.Repeat("x", pad+1))
	cases := []struct {
		name    string
		body    []byte
		chunked bool
		status  int
		calls   int32
	}{
		{"at the limit", atLimit, false, http.StatusNoContent, 1},
		{"over, length announced", over, false, http.StatusRequestEntityTooLarge, 0},
		{"over, length unknown", over, true, http.StatusRequestEntityTooLarge, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var calls counter
			rc := newReceiver(t, receiver.Config{Secrets: []string{secret}, MaxBodyBytes: limit})
			rc.On("order.created", calls.handle(nil))
			req := signed(t, secret, "msg_"+strings.ReplaceAll(c.name, " ", "_"), time.Now(), c.body)
			if c.chunked {
				req.ContentLength = -1
			}
			if resp := serve(rc, req); resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if n := calls.n.Load(); n != c.calls {
				t.Errorf("handler calls %d, want %d", n, c.calls)
			}
		})
	}
	t.Run("default is 1 MiB", func(t *testing.T) {
		t.Parallel()
		var calls counter
		rc := newReceiver(t, receiver.Config{Secrets: []string{secret}})
		rc.On("order.created", calls.handle(nil))
		big := eventBody("order.created", strings.Repeat("x", receiver.DefaultMaxBodyBytes))
		if resp := serve(rc, signed(t, secret, "msg_big", time.Now(), big)); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
		if n := calls.n.Load(); n != 0 {
			t.Errorf("handler calls %d, want 0", n)
		}
	})
}

// TestDuplicates: a webhook-id handled once is acknowledged without running
// the handler again; one whose handler failed runs again.
func TestDuplicates(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	body := eventBody("order.created", nil)

	t.Run("same id twice", func(t *testing.T) {
		t.Parallel()
		var c counter
		rc := newReceiver(t, receiver.Config{Secrets: []string{secret}})
		rc.On("order.created", c.handle(nil))
		for i := range 2 {
			// A retry is signed afresh: a new timestamp, the same id.
			resp := serve(rc, signed(t, secret, "msg_dup", time.Now().Add(time.Duration(i)*time.Second), body))
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("delivery %d: status %d, want 204", i+1, resp.StatusCode)
			}
		}
		if n := c.n.Load(); n != 1 {
			t.Errorf("handler calls %d, want 1", n)
		}
	})

	t.Run("error then retry", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		rc := newReceiver(t, receiver.Config{Secrets: []string{secret}})
		rc.On("order.created", func(context.Context, receiver.Event) error {
			if n.Add(1) == 1 {
				return errors.New("database down")
			}
			return nil
		})
		want := []int{http.StatusInternalServerError, http.StatusNoContent, http.StatusNoContent}
		for i, status := range want {
			if resp := serve(rc, signed(t, secret, "msg_retry", time.Now(), body)); resp.StatusCode != status {
				t.Errorf("delivery %d: status %d, want %d", i+1, resp.StatusCode, status)
			}
		}
		if got := n.Load(); got != 2 {
			t.Errorf("handler calls %d, want 2", got)
		}
	})

	t.Run("panic then retry", func(t *testing.T) {
		t.Parallel()
		var n atomic.Int32
		rc := newReceiver(t, receiver.Config{Secrets: []string{secret}})
		rc.On("order.created", func(context.Context, receiver.Event) error {
			if n.Add(1) == 1 {
				panic("nil map")
			}
			return nil
		})
		for i, status := range []int{http.StatusInternalServerError, http.StatusNoContent} {
			if resp := serve(rc, signed(t, secret, "msg_panic", time.Now(), body)); resp.StatusCode != status {
				t.Errorf("delivery %d: status %d, want %d", i+1, resp.StatusCode, status)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		const deliveries = 8
		var calls atomic.Int32
		entered, finish := make(chan struct{}), make(chan struct{})
		rc := newReceiver(t, receiver.Config{Secrets: []string{secret}})
		rc.On("order.created", func(context.Context, receiver.Event) error {
			calls.Add(1)
			close(entered)
			<-finish
			return nil
		})
		first := make(chan int)
		go func() { first <- serve(rc, signed(t, secret, "msg_conc", time.Now(), body)).StatusCode }()
		<-entered
		// While the first runs, every other delivery of the id is turned
		// away with a status the sender retries.
		var wg sync.WaitGroup
		statuses := make([]int, deliveries)
		for i := range deliveries {
			wg.Go(func() {
				resp := serve(rc, signed(t, secret, "msg_conc", time.Now(), body))
				statuses[i] = resp.StatusCode
				if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			})
		}
		wg.Wait()
		close(finish)
		if s := <-first; s != http.StatusNoContent {
			t.Errorf("first delivery: status %d, want 204", s)
		}
		for i, s := range statuses {
			if s != http.StatusServiceUnavailable {
				t.Errorf("concurrent delivery %d: status %d, want 503", i, s)
			}
		}
		// Their retries find it handled.
		if resp := serve(rc, signed(t, secret, "msg_conc", time.Now(), body)); resp.StatusCode != http.StatusNoContent {
			t.Errorf("retry: status %d, want 204", resp.StatusCode)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("handler calls %d, want 1", n)
		}
	})

	t.Run("racing deliveries", func(t *testing.T) {
		t.Parallel()
		// Deliveries of one id that all start at once, retried until
		// acknowledged: the handler runs once.
		var calls atomic.Int32
		rc := newReceiver(t, receiver.Config{Secrets: []string{secret}, Store: receiver.NewMemoryStore(receiver.MemoryConfig{})})
		rc.On("order.created", func(context.Context, receiver.Event) error {
			calls.Add(1)
			return nil
		})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for serve(rc, signed(t, secret, "msg_race", time.Now(), body)).StatusCode != http.StatusNoContent {
				}
			})
		}
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("handler calls %d, want 1", n)
		}
	})
}

// TestMethod: only POST is a webhook.
func TestMethod(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, receiver.Config{Secrets: []string{newSecret(t)}})
	resp := serve(rc, httptest.NewRequest(http.MethodGet, "/hook", nil))
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: status %d, Allow %q; want 405, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestNewRefusesBadConfig: New refuses what cannot verify, and its errors
// do not repeat a secret.
func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  receiver.Config
	}{
		{"no secret", receiver.Config{}},
		{"not base64", receiver.Config{Secrets: []string{"whsec_not*base64!"}}},
		{"empty key", receiver.Config{Secrets: []string{"whsec_"}}},
		{"negative tolerance", receiver.Config{Secrets: []string{"whsec_c2VjcmV0"}, Tolerance: -time.Second}},
		{"negative body bound", receiver.Config{Secrets: []string{"whsec_c2VjcmV0"}, MaxBodyBytes: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := receiver.New(c.cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, s := range c.cfg.Secrets {
				if k := strings.TrimPrefix(s, "whsec_"); k != "" && strings.Contains(err.Error(), k) {
					t.Errorf("error %q holds the secret", err)
				}
			}
		})
	}
}
