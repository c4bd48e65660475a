package consumer_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// env is one in-process NATS server with JetStream and a producer connection
// that also watches the result subject.
type env struct {
	t *testing.T
	// url is where workers connect: one server, or a cluster's servers
	// comma-separated.
	url     string
	srv     *server.Server
	js      jetstream.JetStream
	results chan job.Result
	topo    bus.Topology
}

func newEnv(t *testing.T, ackWait time.Duration) *env {
	t.Helper()
	srv := bustest.Server(t)
	e := connectEnv(t, srv.ClientURL(), ackWait)
	e.srv = srv
	return e
}

// connectEnv sets the topology up at url (what exists is used as it is)
// and connects the producer.
func connectEnv(t *testing.T, url string, ackWait time.Duration) *env {
	t.Helper()
	e := &env{t: t, url: url, results: make(chan job.Result, 1000), topo: bus.Topology{
		Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
		ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS",
		ResultMaxAge: time.Hour, AckWait: ackWait,
	}}
	// Create the topology once, so that the producer can publish at once.
	b, err := bus.Connect(bus.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ensure(t.Context(), e.topo); err != nil {
		t.Fatal(err)
	}
	b.Close()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe(e.topo.ResultSubject, func(m *nats.Msg) {
		var r job.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Errorf("result is not JSON: %v: %s", err, m.Data)
			return
		}
		if m.Header.Get(nats.MsgIdHdr) != r.ID || m.Header.Get(job.HeaderJobID) != r.ID || m.Header.Get(job.HeaderOutcome) != string(r.Outcome) {
			t.Errorf("result headers %v do not match result %s/%s", m.Header, r.ID, r.Outcome)
		}
		e.results <- r
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	e.js, _ = jetstream.New(nc)
	return e
}

type workerOpts struct {
	concurrency, hostConcurrency int
	working                      int
	maxRedeliveries              int
	deferAfter                   time.Duration
	shutdown                     time.Duration
	// maxRetries, backoffMin and backoffMax replace the sender's 3, 10ms
	// and 50ms.
	maxRetries             int
	backoffMin, backoffMax time.Duration
	// observer, when set, is told of the sender's attempts.
	observer sender.Observer
	// send, when set, replaces the real sender for webhook jobs.
	send endpoint.Send
	// afterResult, when set, is called with the job id of every result the
	// worker has stored, before it acknowledges the job.
	afterResult func(id string)
	// maxParked is Options.MaxParked.
	maxParked int
	// metrics is Options.Metrics; nil: none.
	metrics consumer.Metrics
	// blindToOutages leaves Options.Outage unset: the worker takes its
	// connection never to have been down.
	blindToOutages bool
	// connOptions are more options of the worker's connection.
	connOptions []nats.Option
}

// worker is one running Worker with its own connection.
type worker struct {
	bus    *bus.Bus
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// stop cancels the worker and waits for Run to return.
func (w *worker) stop(t *testing.T) {
	t.Helper()
	w.once.Do(func() {
		w.cancel()
		<-w.done
		w.bus.Close()
	})
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func (e *env) startWorker(o workerOpts) *worker {
	t := e.t
	t.Helper()
	if o.concurrency == 0 {
		o.concurrency = 8
	}
	if o.maxRedeliveries == 0 {
		o.maxRedeliveries = 5
	}
	if o.shutdown == 0 {
		o.shutdown = 5 * time.Second
	}
	log := testLogger(t)
	if o.maxRetries == 0 {
		o.maxRetries = 3
	}
	if o.backoffMin == 0 {
		o.backoffMin, o.backoffMax = 10*time.Millisecond, 50*time.Millisecond
	}
	b, err := bus.Connect(bus.Config{URL: e.url, Logger: log, Options: o.connOptions})
	if err != nil {
		t.Fatal(err)
	}
	bound, err := b.Ensure(t.Context(), e.topo)
	if err != nil {
		t.Fatal(err)
	}
	scfg := sender.Config{
		Timeout: 10 * time.Second, MaxRetries: o.maxRetries, MaxProxyRetries: 3,
		BackoffMin: o.backoffMin, BackoffMax: o.backoffMax,
		DeferAfter: o.deferAfter, MaxRetryWait: time.Minute,
		AllowPrivateNetworks: true, Observer: o.observer, Logger: log,
	}
	snd, err := sender.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	dc := discord.New(snd, discord.Config{Username: "hookworker", Logger: log})
	webhooks := endpoint.Plain{Send: snd.Send}
	if o.send != nil {
		webhooks.Send = o.send
	}
	js := b.JetStream()
	if o.afterResult != nil {
		js = resultHook{JetStream: js, after: o.afterResult}
	}
	opts := consumer.Options{
		JetStream: js, Consumer: bound.Consumer, State: bound.State,
		Deliverers: map[job.Type]consumer.Deliverer{
			job.Webhook: webhooks.Prepare,
			job.Discord: dc.Prepare,
		},
		Concurrency: o.concurrency, HostConcurrency: o.hostConcurrency, Working: o.working, MaxParked: o.maxParked,
		Metrics: o.metrics, AckWait: e.topo.AckWait, ShutdownTimeout: o.shutdown, MaxRedeliveries: o.maxRedeliveries,
		ResultSubject: e.topo.ResultSubject, FetchWait: 500 * time.Millisecond, Logger: log,
		Limits: consumer.Limits{Timeout: scfg.Timeout, MaxRetries: scfg.MaxRetries, MaxProxyRetries: scfg.MaxProxyRetries},
		Rebind: func(ctx context.Context) (jetstream.Consumer, error) {
			bound, err := b.Ensure(ctx, e.topo)
			return bound.Consumer, err
		},
		Link: b.Link,
	}
	if !o.blindToOutages {
		opts.Outage = b.Outage
	}
	w, err := consumer.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wk := &worker{bus: b, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(wk.done)
		w.Run(ctx)
	}()
	t.Cleanup(func() { wk.stop(t) })
	return wk
}

// publish publishes data on the job subject with the given message id
// (none when empty).
func (e *env) publish(data []byte, msgID string) {
	e.t.Helper()
	msg := nats.NewMsg(e.topo.Subject)
	msg.Data = data
	if msgID != "" {
		msg.Header.Set(nats.MsgIdHdr, msgID)
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 5*time.Second)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, msg); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) publishJob(v any) {
	e.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	e.publish(data, "")
}

// waitResults returns the next n results.
func (e *env) waitResults(n int) []job.Result {
	e.t.Helper()
	out := make([]job.Result, 0, n)
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for len(out) < n {
		select {
		case r := <-e.results:
			out = append(out, r)
		case <-timeout.C:
			e.t.Fatalf("got %d results, want %d", len(out), n)
		}
	}
	return out
}

// storedResults returns every result in the result stream, once it holds at
// least want (a plain subscriber may see a result before the stream has
// stored it).
func (e *env) storedResults(want int) []job.Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, e.topo.ResultStream)
	if err != nil {
		e.t.Fatal(err)
	}
	var info *jetstream.StreamInfo
	for {
		if info, err = s.Info(ctx); err != nil {
			e.t.Fatal(err)
		}
		if info.State.Msgs >= uint64(want) {
			break
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("result stream holds %d results, want %d", info.State.Msgs, want)
		case <-time.After(10 * time.Millisecond):
		}
	}
	var out []job.Result
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatal(err)
		}
		var r job.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// expectStoredOnce checks that every id has exactly one stored result and
// that nothing else is stored.
func (e *env) expectStoredOnce(ids ...string) map[string]job.Result {
	e.t.Helper()
	stored := e.storedResults(len(ids))
	byID := make(map[string]job.Result)
	for _, r := range stored {
		if _, dup := byID[r.ID]; dup {
			e.t.Errorf("job %s has more than one stored result", r.ID)
		}
		byID[r.ID] = r
	}
	for _, id := range ids {
		if _, ok := byID[id]; !ok {
			e.t.Errorf("job %s has no stored result", id)
		}
	}
	if len(stored) != len(ids) {
		e.t.Errorf("%d stored results, want %d", len(stored), len(ids))
	}
	return byID
}

// receiver is a webhook destination counting requests per webhook-id.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int
	bodies   map[string][]byte
	total    atomic.Int64
}

func newReceiver(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{requests: make(map[string]int), bodies: make(map[string][]byte)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		rc.requests[id]++
		n := rc.requests[id]
		rc.bodies[id] = body
		rc.mu.Unlock()
		rc.total.Add(1)
		if h != nil {
			h(w, r, n)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests[id]
}

func TestWebhookAndDiscordDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"received":true}`)
	})
	var discordBody atomic.Value
	fakeDiscord := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		discordBody.Store(body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer fakeDiscord.Close()
	e.startWorker(workerOpts{})

	e.publishJob(map[string]any{
		"id": "order-1:shipped", "url": rc.URL + "/hook?token=secret", "payload": map[string]any{"n": 1},
		"meta": map[string]any{"trace": "abc"},
	})
	discordURL := fakeDiscord.URL + "/api/webhooks/123/secret-token"
	e.publishJob(map[string]any{
		"id": "deploy-7", "type": "discord", "url": discordURL, "discord": map[string]any{"content": "deployed"},
	})
	got := map[string]job.Result{}
	for _, r := range e.waitResults(2) {
		got[r.ID] = r
	}
	wh := got["order-1:shipped"]
	if !wh.OK || wh.Outcome != job.Delivered || wh.Status != 200 || wh.Attempts != 1 || wh.Type != job.Webhook ||
		wh.Error != "" || wh.Proxy != "" || string(wh.Response) != `{"received":true}` || string(wh.Meta) != `{"trace":"abc"}` {
		t.Errorf("webhook result = %+v", wh)
	}
	if wh.URL != rc.URL+"/hook?token=REDACTED" {
		t.Errorf("webhook result url = %q, want the query value redacted", wh.URL)
	}
	if wh.StartedAt.IsZero() || wh.FinishedAt.Before(wh.StartedAt) || wh.DurationMS != wh.FinishedAt.Sub(wh.StartedAt).Milliseconds() {
		t.Errorf("webhook result times = %s .. %s (%d ms)", wh.StartedAt, wh.FinishedAt, wh.DurationMS)
	}
	if body := rc.bodies["order-1:shipped"]; string(body) != `{"n":1}` {
		t.Errorf("receiver got body %s", body)
	}
	dr := got["deploy-7"]
	if !dr.OK || dr.Outcome != job.Delivered || dr.Status != 204 || dr.Attempts != 1 || dr.Type != job.Discord || dr.Response != nil {
		t.Errorf("discord result = %+v", dr)
	}
	if dr.URL == "" || dr.URL == discordURL || contains(dr.URL, "secret-token") {
		t.Errorf("discord result url = %q, want the token redacted", dr.URL)
	}
	var m map[string]any
	body, _ := discordBody.Load().([]byte)
	if err := json.Unmarshal(body, &m); err != nil || m["content"] != "deployed" {
		t.Errorf("fake Discord got %s", body)
	}
	e.expectStoredOnce("order-1:shipped", "deploy-7")
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestInvalidJobsRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	rc := newReceiver(t, nil)
	e.startWorker(workerOpts{concurrency: 1})

	e.publish([]byte("not json"), "poison-1")
	e.publish([]byte(`{"id":"bad-type","type":"fax","url":"`+rc.URL+`","payload":{}}`), "")
	e.publish([]byte(`{"id":"both","url":"`+rc.URL+`","urls":["`+rc.URL+`"],"payload":{}}`), "")
	e.publish([]byte(`{"id":"bad discord","type":"discord","url":"`+rc.URL+`","discord":{}}`), "")
	e.publish([]byte(`{"id":"empty-discord","type":"discord","url":"`+rc.URL+`","discord":{}}`), "")
	e.publish([]byte(`{"url":"`+rc.URL+`","payload":{}}`), "") // no id: falls back to the stream sequence
	e.publish([]byte(`{"id":"good","url":"`+rc.URL+`","payload":{"ok":true}}`), "")

	got := map[string]job.Result{}
	for _, r := range e.waitResults(7) {
		got[r.ID] = r
	}
	tests := []struct {
		id      string
		outcome job.Outcome
	}{
		{"poison-1", job.Rejected},
		{"bad-type", job.Rejected},
		{"both", job.Rejected},
		{"HOOKS-4", job.Rejected}, // invalid id: the fallback id is used
		{"empty-discord", job.Rejected},
		{"HOOKS-6", job.Delivered},
		{"good", job.Delivered},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r, ok := got[tt.id]
			if !ok {
				t.Fatalf("no result for %s in %v", tt.id, got)
			}
			if r.Outcome != tt.outcome || r.OK != (tt.outcome == job.Delivered) {
				t.Errorf("result = %+v, want outcome %s", r, tt.outcome)
			}
			if tt.outcome == job.Rejected && (r.Attempts != 0 || r.Error == "" || r.Status != 0) {
				t.Errorf("rejected result = %+v, want 0 attempts, an error and no status", r)
			}
		})
	}
	if n := rc.total.Load(); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
}
