package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/receiver"
)

// result is the part of a published result the tests read.
type result struct {
	ID       string `json:"id"`
	Outcome  string `json:"outcome"`
	Status   int    `json:"status"`
	Attempts int    `json:"attempts"`
}

// liveWorker is hookworker run in-process, as its command runs it, on an
// in-process JetStream server, with a producer connection that collects
// results.
type liveWorker struct {
	t       *testing.T
	nc      *nats.Conn
	js      jetstream.JetStream
	mu      sync.Mutex
	results map[string]result
	arrived chan struct{}
}

// startLiveWorker starts a worker that signs with secret and retries
// quickly, and waits until it has created its streams.
func startLiveWorker(t *testing.T, secret string) *liveWorker {
	t.Helper()
	srv := bustest.Server(t)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HOOKWORKER_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range map[string]string{
		"HOOKWORKER_NATS_URL":         srv.ClientURL(),
		"HOOKWORKER_ALLOWED_NETWORKS": "127.0.0.1/32",
		"HOOKWORKER_SIGNING_SECRET":   secret,
		"HOOKWORKER_BACKOFF_MIN":      "10ms",
		"HOOKWORKER_BACKOFF_MAX":      "50ms",
		"HOOKWORKER_ACK_WAIT":         "5s",
		"HOOKWORKER_SHUTDOWN_TIMEOUT": "5s",
		"HOOKWORKER_CONCURRENCY":      "8",
	} {
		t.Setenv(k, v)
	}
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- cli.Main(ctx, nil, strings.NewReader(""), io.Discard, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != cli.ExitOK {
				t.Errorf("worker exited %d", code)
			}
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
			return
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", stderr.String())
		}
	})

	nc, js := bustest.Connect(t, srv.ClientURL())
	w := &liveWorker{t: t, nc: nc, js: js, results: make(map[string]result), arrived: make(chan struct{}, 100)}
	if _, err := nc.Subscribe("hooks.result", func(m *nats.Msg) {
		var r result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Errorf("result %s: %v", m.Data, err)
			return
		}
		w.mu.Lock()
		w.results[r.ID] = r
		w.mu.Unlock()
		w.arrived <- struct{}{}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := js.Stream(t.Context(), "HOOKS")
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) || time.Now().After(deadline) {
			t.Fatalf("job stream: %v", err)
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("worker exited %d before creating its streams:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return w
}

// send publishes a plain job whose payload is the webhook payload
// structure, with its own message id.
func (w *liveWorker) send(id, url, eventType string, msgID string) {
	w.t.Helper()
	job, err := json.Marshal(map[string]any{"id": id, "url": url, "payload": map[string]any{
		"type": eventType, "timestamp": time.Now().UTC().Format(time.RFC3339), "data": map[string]string{"order": id},
	}})
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.js.Publish(w.t.Context(), "hooks.send", job, jetstream.WithMsgID(msgID)); err != nil {
		w.t.Fatalf("publish job %s: %v", id, err)
	}
}

// result waits for the result of job id.
func (w *liveWorker) result(id string) result {
	w.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		r, ok := w.results[id]
		w.mu.Unlock()
		if ok {
			return r
		}
		select {
		case <-w.arrived:
		case <-timeout:
			w.t.Fatalf("no result for %s", id)
		}
	}
}

// statusCounter wraps a handler and counts the statuses it answers.
type statusCounter struct {
	h  http.Handler
	mu sync.Mutex
	n  map[int]int
}

func (s *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, r)
	s.mu.Lock()
	s.n[rec.Code]++
	s.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *statusCounter) count(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[code]
}

// TestFromWorker delivers plain jobs whose payload is the webhook payload
// structure through a real worker, signed with its signing secret, to
// Receivers on an httptest server, and checks what reaches the handlers
// and the outcome the worker reports.
func TestFromWorker(t *testing.T) {
	workerSecret, oldSecret, stranger := newSecret(t), newSecret(t), newSecret(t)
	w := startLiveWorker(t, workerSecret)

	// calls counts the handler runs per job id.
	var mu sync.Mutex
	calls := map[string]int{}
	handle := func(_ context.Context, ev receiver.Event) error {
		var data struct{ Order string }
		if err := json.Unmarshal(ev.Data, &data); err != nil || data.Order != ev.ID {
			t.Errorf("event %s: data %s (%v)", ev.ID, ev.Data, err)
		}
		mu.Lock()
		calls[ev.ID]++
		n := calls[ev.ID]
		mu.Unlock()
		switch {
		case ev.ID == "flaky" && n == 1:
			return errors.New("database down")
		case ev.ID == "refused":
			return receiver.Permanent(errors.New("no such order"))
		}
		return nil
	}
	runs := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[id]
	}
	mux := http.NewServeMux()
	counters := map[string]*statusCounter{}
	for path, secrets := range map[string][]string{
		"/hook":     {workerSecret},
		"/rotating": {stranger, workerSecret}, // the worker still signs with the old secret
		"/stranger": {stranger, oldSecret},
	} {
		rc := newReceiver(t, receiver.Config{Secrets: secrets})
		rc.On("order.created", handle)
		counters[path] = &statusCounter{h: rc, n: map[int]int{}}
		mux.Handle("POST "+path, counters[path])
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	cases := []struct {
		name, id, path, eventType string
		outcome                   string
		status, attempts, runs    int
	}{
		{"valid", "valid", "/hook", "order.created", "delivered", 204, 1, 1},
		{"handler error retried", "flaky", "/hook", "order.created", "delivered", 204, 2, 2},
		{"permanent error", "refused", "/hook", "order.created", "failed", 422, 1, 1},
		{"unknown type", "unknown", "/hook", "order.deleted", "delivered", 204, 1, 0},
		{"rotation", "rotated", "/rotating", "order.created", "delivered", 204, 1, 1},
		{"wrong secret", "forged", "/stranger", "order.created", "failed", 403, 1, 0},
	}
	for _, c := range cases {
		w.send(c.id, srv.URL+c.path, c.eventType, c.id)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := w.result(c.id)
			if r.Outcome != c.outcome || r.Status != c.status || r.Attempts != c.attempts {
				t.Errorf("result %+v, want %s %d after %d attempts", r, c.outcome, c.status, c.attempts)
			}
			if n := runs(c.id); n != c.runs {
				t.Errorf("handler ran %d times, want %d", n, c.runs)
			}
		})
	}
	if n := counters["/stranger"].count(http.StatusForbidden); n != 1 {
		t.Errorf("/stranger answered 403 %d times, want 1", n)
	}

	t.Run("same webhook-id twice", func(t *testing.T) {
		// The job is published again under another message id, as a
		// producer that lost the first acknowledgement would: the worker
		// delivers it again with the same webhook-id.
		before := counters["/hook"].count(http.StatusNoContent)
		w.send("valid", srv.URL+"/hook", "order.created", "valid-again")
		deadline := time.Now().Add(30 * time.Second)
		for counters["/hook"].count(http.StatusNoContent) == before {
			if time.Now().After(deadline) {
				t.Fatal("the second delivery never arrived")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := runs("valid"); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
	})
}

// TestEventFromWorker sends an event through the API; the real worker fans
// it out to the endpoint Register made and delivers it signed with that
// endpoint's secret, which the Receiver verifies, with the event id as the
// event's ID. The worker's own secret signs plain jobs only: a Receiver
// holding it refuses the event.
func TestEventFromWorker(t *testing.T) {
	workerSecret := newSecret(t)
	w := startLiveWorker(t, workerSecret)
	api := client.New(w.nc)
	ctx := t.Context()
	// The worker serves the API once its streams and buckets are set up.
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, err := api.EventTypes(ctx, false)
		if err == nil {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			t.Fatalf("event api: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := api.PutEventType(ctx, client.EventType{Name: "order.created", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	got := make(chan receiver.Event, 10)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	secret, ep, err := receiver.Register(ctx, api, client.Endpoint{ID: "ep_orders", URL: srv.URL + "/orders"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := receiver.Register(ctx, api, client.Endpoint{ID: "ep_wrong", URL: srv.URL + "/wrong"}); err != nil {
		t.Fatal(err)
	}
	for path, s := range map[string]string{"/orders": secret, "/wrong": workerSecret} {
		rc := newReceiver(t, receiver.Config{Secrets: []string{s}})
		rc.On("order.created", func(_ context.Context, ev receiver.Event) error {
			got <- ev
			return nil
		})
		mux.Handle("POST "+path, rc)
	}

	sent, err := api.SendEvent(ctx, client.Event{ID: "evt_orders_1", Type: "order.created", Payload: json.RawMessage(`{"order":"o-1"}`)})
	if err != nil || sent.Endpoints != 2 {
		t.Fatalf("send event: %+v, %v; want it to go to both endpoints", sent, err)
	}
	if r := w.result("evt_orders_1:" + ep.ID); r.Outcome != "delivered" || r.Status != http.StatusNoContent {
		t.Errorf("result %+v, want delivered 204", r)
	}
	if r := w.result("evt_orders_1:ep_wrong"); r.Outcome != "failed" || r.Status != http.StatusForbidden {
		t.Errorf("result with the worker's secret at the receiver: %+v, want failed 403", r)
	}
	select {
	case ev := <-got:
		if ev.ID != "evt_orders_1" || ev.Type != "order.created" || string(ev.Data) != `{"order":"o-1"}` {
			t.Errorf("handler got %+v (data %s)", ev, ev.Data)
		}
	default:
		t.Fatal("the handler never ran")
	}
	if len(got) != 0 {
		t.Errorf("the handler ran %d more times; the receiver with the worker's secret must refuse", len(got))
	}
}
