package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestLongRetryAfterDoesNotDelayOthers runs a worker with a single slot and
// has one destination answer 429 with Retry-After: 3. The job is deferred
// for the 3 seconds asked (longer than HOOKWORKER_DEFER_AFTER and than
// HOOKWORKER_ACK_WAIT), which the slot does not wait out: the jobs to
// another destination published after it are all delivered while it is
// pending, and it is delivered after its wait, never sent again before. A
// slot that waited would deliver it first. It takes the 3 seconds for real:
// the wait is kept by the NATS server (a delayed negative acknowledgement),
// which has no clock to inject; they are long enough for the other jobs'
// ten deliveries on a busy machine.
func TestLongRetryAfterDoesNotDelayOthers(t *testing.T) {
	natsAddr := freeAddr(t)
	setEnv(t, map[string]string{
		"HOOKWORKER_NATS_URL":         "nats://" + natsAddr,
		"HOOKWORKER_ALLOWED_NETWORKS": "127.0.0.1/32",
		"HOOKWORKER_CONCURRENCY":      "1",
		"HOOKWORKER_DEFER_AFTER":      "1s",
		"HOOKWORKER_ACK_WAIT":         "1s",
		"HOOKWORKER_SHUTDOWN_TIMEOUT": "5s",
		"HOOKWORKER_LOG_LEVEL":        "debug",
	})
	startNATS(t, natsAddr)

	const retryAfter = 3 * time.Second
	var mu sync.Mutex
	var seen []time.Time
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		seen = append(seen, time.Now())
		n := len(seen)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(limited.Close)
	others := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(others.Close)
	requests := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}

	js, sub := resultClient(t, natsAddr)
	publish := func(id, url string) {
		t.Helper()
		data, _ := json.Marshal(map[string]any{"id": id, "url": url, "payload": map[string]any{}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := js.Publish(ctx, "hooks.send", data, jetstream.WithMsgID(id)); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
	next := func(within time.Duration) result {
		t.Helper()
		msg, err := sub.NextMsg(within)
		if err != nil {
			t.Fatalf("next result: %v", err)
		}
		var r result
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			t.Fatalf("result %s: %v", msg.Data, err)
		}
		return r
	}

	w := startWorker(t)
	publish("rate-limited", limited.URL)
	w.eventually(t, "the 429", func() bool { return requests() == 1 })
	const n = 10
	for i := range n {
		publish(fmt.Sprintf("other-%d", i), others.URL)
	}
	for range n {
		if r := next(30 * time.Second); r.ID == "rate-limited" || r.Outcome != "delivered" {
			t.Errorf("result %+v, want the other jobs first, delivered", r)
		}
	}
	if c := requests(); c != 1 {
		t.Errorf("rate-limited destination got %d requests while the others were delivered, want 1", c)
	}

	r := next(60 * time.Second)
	if r.ID != "rate-limited" || r.Outcome != "delivered" || r.Attempts != 2 || r.Status != http.StatusNoContent {
		t.Errorf("deferred job result %+v, want delivered at the second attempt", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("rate-limited destination got %d requests, want 2", len(seen))
	}
	if gap := seen[1].Sub(seen[0]); gap < retryAfter {
		t.Errorf("second request %s after the first, want at least the %s asked for", gap, retryAfter)
	}
}
