package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/internal/freeport"
	"github.com/hookworker/hookworker/internal/metrics/metricstest"
	"github.com/hookworker/hookworker/internal/syncbuf"
)

// TestWorkerMetricsAndReadiness starts the worker with a NATS URL on which no
// server listens yet: /readyz answers 503 until a JetStream server starts
// there, then 200. A signed job that meets one 503 before its 204 is then
// delivered to a receiver that verifies signatures with the Standard Webhooks
// library, and /metrics, parsed with Prometheus's own parser, shows every
// step.
func TestWorkerMetricsAndReadiness(t *testing.T) {
	natsAddr := freeAddr(t)
	httpAddr := freeAddr(t)
	secret := newSecret(t)
	recv := newReceiver(t, secret, 1)

	setEnv(t, map[string]string{
		"HOOKWORKER_NATS_URL":         "nats://" + natsAddr,
		"HOOKWORKER_HTTP_ADDR":        httpAddr,
		"HOOKWORKER_ALLOWED_NETWORKS": "127.0.0.1/32",
		"HOOKWORKER_BACKOFF_MIN":      "10ms",
		"HOOKWORKER_BACKOFF_MAX":      "50ms",
		"HOOKWORKER_ACK_WAIT":         "5s",
		"HOOKWORKER_CONCURRENCY":      "4",
		"HOOKWORKER_SHUTDOWN_TIMEOUT": "5s",
		"HOOKWORKER_LOG_FORMAT":       "json",
		"HOOKWORKER_LOG_LEVEL":        "debug",
		"HOOKWORKER_SIGNING_SECRET":   secret,
	})
	w := startWorker(t)
	base := "http://" + httpAddr

	// No server yet: the worker is alive but not ready.
	if code := w.waitStatus(t, base+"/healthz", anyStatus); code != http.StatusOK {
		t.Fatalf("/healthz before NATS: %d, want 200", code)
	}
	if code := w.waitStatus(t, base+"/readyz", anyStatus); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before NATS: %d, want 503", code)
	}

	startNATS(t, natsAddr)
	w.waitStatus(t, base+"/readyz", status(http.StatusOK))

	before := metricstest.Scrape(t, base+"/metrics")
	for _, s := range []series{
		{"hookworker_jobs_received_total", nil},
		{"hookworker_results_total", []string{"outcome", "delivered"}},
		{"hookworker_http_attempts_total", []string{"status_class", "2xx"}},
		{"hookworker_http_attempts_total", []string{"status_class", "5xx"}},
		{"hookworker_retries_total", nil},
		{"hookworker_delivery_duration_seconds", []string{"outcome", "delivered"}},
	} {
		if v, ok := s.value(before); !ok || v != 0 {
			t.Errorf("%s before any job: %v (present %v), want 0", s, v, ok)
		}
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := before[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}

	res := deliver(t, natsAddr, "e2e-metrics-1", recv.URL+"/hook")
	if res.Outcome != "delivered" || res.Status != http.StatusNoContent || res.Attempts != 2 {
		t.Fatalf("result: outcome %q status %d attempts %d, want delivered 204 after 2 attempts", res.Outcome, res.Status, res.Attempts)
	}

	want := []struct {
		s    series
		want float64
	}{
		{series{"hookworker_jobs_received_total", nil}, 1},
		{series{"hookworker_results_total", []string{"outcome", "delivered"}}, 1},
		{series{"hookworker_results_total", []string{"outcome", "failed"}}, 0},
		{series{"hookworker_http_attempts_total", []string{"status_class", "5xx"}}, 1},
		{series{"hookworker_http_attempts_total", []string{"status_class", "2xx"}}, 1},
		{series{"hookworker_retries_total", nil}, 1},
		{series{"hookworker_delivery_duration_seconds", []string{"outcome", "delivered"}}, 1},
		{series{"hookworker_jobs_in_flight", nil}, 0},
	}
	// The result is published before the job's metrics are all recorded:
	// scrape until they settle.
	var after map[string]*dto.MetricFamily
	w.eventually(t, "metrics to show the delivery", func() bool {
		after = metricstest.Scrape(t, base+"/metrics")
		for _, c := range want {
			if v, _ := c.s.value(after); v != c.want {
				return false
			}
		}
		return true
	})
	for _, c := range want {
		if v, ok := c.s.value(after); !ok || v != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.s, v, ok, c.want)
		}
	}
	if n, bad := recv.count(); n != 2 || bad != 0 {
		t.Errorf("receiver saw %d requests, %d without a valid signature; want 2, 0", n, bad)
	}

	if code := w.stop(t); code != cli.ExitOK {
		t.Errorf("worker exited %d, want %d", code, cli.ExitOK)
	}
}

// worker is hookworker run in-process through cli.Main.
type worker struct {
	cancel context.CancelFunc
	done   chan int
	stderr *syncbuf.Buffer
}

func startWorker(t *testing.T) *worker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{cancel: cancel, done: make(chan int, 1), stderr: &syncbuf.Buffer{}}
	go func() { w.done <- cli.Main(ctx, nil, strings.NewReader(""), io.Discard, w.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
			t.Error("worker did not stop")
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", w.stderr.String())
		}
	})
	return w
}

// stop cancels the worker's context and returns its exit status.
func (w *worker) stop(t *testing.T) int {
	t.Helper()
	w.cancel()
	select {
	case code := <-w.done:
		w.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
		return -1
	}
}

// eventually polls cond until it holds, failing the test if the worker
// exits first or it never does.
func (w *worker) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case code := <-w.done:
			w.done <- code
			t.Fatalf("worker exited (%d) while waiting for %s", code, what)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func anyStatus(int) bool { return true }

func status(want int) func(int) bool { return func(got int) bool { return got == want } }

// waitStatus polls GET url until it answers with a status ok accepts, and
// returns that status.
func (w *worker) waitStatus(t *testing.T, url string, ok func(int) bool) int {
	t.Helper()
	var code int
	w.eventually(t, "GET "+url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		code = resp.StatusCode
		return ok(code)
	})
	return code
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// startNATS starts a JetStream server on addr.
func startNATS(t *testing.T, addr string) {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	bustest.Start(t, bustest.Options(host, port, t.TempDir()))
}

// setEnv sets exactly the given HOOKWORKER_ variables for the test.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HOOKWORKER_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// newSecret returns a fresh Standard Webhooks secret.
func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// receiver is a webhook receiver that verifies every request's signature as
// docs/jobs.md shows (401 when it does not verify), then answers 503 to the
// first failures requests and 204 after.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	n        int
	bad      int
	failures int
}

func newReceiver(t *testing.T, secret string, failures int) *receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{failures: failures}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
		r.mu.Lock()
		defer r.mu.Unlock()
		r.n++
		if err != nil || wh.Verify(body, req.Header) != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.n <= r.failures {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// count returns the requests seen and how many of them failed verification.
func (r *receiver) count() (n, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.bad
}

// result is the part of a published result the test reads.
type result struct {
	ID       string `json:"id"`
	Outcome  string `json:"outcome"`
	Status   int    `json:"status"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
}

// resultClient connects a producer to the server at natsAddr, subscribed
// to hooks.result before it publishes anything.
func resultClient(t *testing.T, natsAddr string) (jetstream.JetStream, *nats.Subscription) {
	t.Helper()
	nc, js := bustest.Connect(t, "nats://"+natsAddr)
	sub, err := nc.SubscribeSync("hooks.result")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return js, sub
}

// deliver publishes a webhook job as any producer would and returns its
// result from hooks.result.
func deliver(t *testing.T, natsAddr, id, url string) result {
	t.Helper()
	js, sub := resultClient(t, natsAddr)
	job, err := json.Marshal(map[string]any{"id": id, "url": url, "payload": map[string]string{"hello": "world"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "hooks.send", job, jetstream.WithMsgID(id)); err != nil {
		t.Fatalf("publish job: %v", err)
	}
	for {
		msg, err := sub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("result of %s: %v", id, err)
		}
		var r result
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			t.Fatalf("result %s: %v", msg.Data, err)
		}
		if r.ID == id {
			return r
		}
	}
}

// series names one metric series: a family and some of its labels.
type series struct {
	name   string
	labels []string // name, value pairs
}

func (s series) String() string { return fmt.Sprintf("%s%v", s.name, s.labels) }

// value returns the series' value (a histogram's sample count) and whether
// it was found.
func (s series) value(families map[string]*dto.MetricFamily) (float64, bool) {
	return metricstest.Value(families, s.name, s.labels...)
}
