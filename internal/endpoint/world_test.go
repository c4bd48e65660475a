package endpoint_test

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/replay"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// world is one worker process on an in-process server: the catalog, the
// fan-out and a worker delivering webhook jobs through endpoint.Webhooks,
// and what it published on the result and operational subjects; with
// options.api, the NATS API too, the delivery log it reads, and a client.
type world struct {
	js  jetstream.JetStream
	nc  *nats.Conn
	cat *catalog.Catalog
	api *client.Client // nil without options.api

	mu       sync.Mutex
	changed  chan struct{}
	results  map[string]job.Result
	disabled []catalog.Disabled
}

var topo = bus.Topology{Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
	ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS", AckWait: 30 * time.Second}

// options tune a world.
type options struct {
	schedule     []time.Duration // the worker's retry schedule; nil: none
	deferAfter   time.Duration   // the sender's; 0: 10s
	disableAfter time.Duration
	alertAfter   time.Duration
	now          func() time.Time
	// strictSender: the worker's sender refuses non-public destinations,
	// which the catalog still accepts.
	strictSender bool
	// api serves the NATS API, with the delivery log and replays, to the
	// world's client, and records every attempt.
	api bool
	// maxTimeout is the worker's per-attempt timeout, the most an
	// endpoint's may be; 0: 5s.
	maxTimeout time.Duration
	// rootCAs are the sender's certificate authorities; nil: the system's.
	rootCAs *x509.CertPool
	// logger receives the worker's log lines, the sender's debug lines
	// included; nil discards them.
	logger *slog.Logger
}

func start(t *testing.T, o options) *world {
	t.Helper()
	srv := bustest.Server(t)
	b := catalogtest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithCancel(context.Background())
	bound, err := b.Ensure(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{js: b.JetStream(), nc: b.Conn(), changed: make(chan struct{}), results: map[string]job.Result{}}
	if _, err := w.nc.Subscribe(topo.ResultSubject, func(m *nats.Msg) {
		var r job.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Errorf("result %s: %v", m.Data, err)
			return
		}
		w.note(func() { w.results[r.ID] = r })
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.nc.Subscribe(catalog.DisabledSubject, func(m *nats.Msg) {
		var d catalog.Disabled
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Errorf("disabled event %s: %v", m.Data, err)
			return
		}
		w.note(func() { w.disabled = append(w.disabled, d) })
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	w.cat, err = catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants, Conn: b.Conn(), AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	var onAttempt func(*job.Job, sender.Attempt)
	if o.api {
		onAttempt = w.serveAPI(t, ctx, b, eb)
	}
	fan, err := fanout.New(ctx, w.js, bus.EventStream, fanout.Config{Durable: "hookworker" + fanout.Suffix,
		JobSubject: bus.EndpointSubject(topo.Subject), ResultSubject: topo.ResultSubject, Catalog: w.cat})
	if err != nil {
		t.Fatal(err)
	}
	deferAfter := o.deferAfter
	if deferAfter == 0 {
		deferAfter = 10 * time.Second
	}
	snd, err := sender.New(sender.Config{Timeout: 5 * time.Second, MaxRetries: 3, BackoffMin: 10 * time.Millisecond,
		BackoffMax: 100 * time.Millisecond, DeferAfter: deferAfter, AllowPrivateNetworks: !o.strictSender,
		RootCAs: o.rootCAs, Logger: o.logger})
	if err != nil {
		t.Fatal(err)
	}
	schedule := o.schedule
	if schedule == nil {
		schedule = []time.Duration{}
	}
	d, err := endpoint.New(endpoint.Config{Catalog: w.cat, Send: snd.Send, Schedule: schedule,
		DisableAfter: o.disableAfter, AlertAfter: o.alertAfter, Now: o.now, MaxTimeout: cmp.Or(o.maxTimeout, 5*time.Second), MaxSchedule: time.Hour,
		TokenClient: snd.Client(), Logger: o.logger})
	if err != nil {
		t.Fatal(err)
	}
	wk, err := consumer.New(consumer.Options{
		JetStream: w.js, Consumer: bound.Consumer, State: bound.State,
		Deliverers:  map[job.Type]consumer.Deliverer{job.Webhook: d.Prepare},
		Concurrency: 16, AckWait: topo.AckWait, ShutdownTimeout: time.Second, MaxRedeliveries: 5,
		ResultSubject: topo.ResultSubject, EndpointSubject: bus.EndpointSubject(topo.Subject), FetchWait: 200 * time.Millisecond,
		Limits:    consumer.Limits{Timeout: 5 * time.Second, MaxRetries: 3, MaxSchedule: time.Hour},
		OnAttempt: onAttempt, Logger: o.logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = fan.Run(ctx) })
	wg.Go(func() { wk.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return w
}

// serveAPI serves the NATS API over the world's catalog, with the delivery
// log and replays, and connects the world's client to it; it returns the
// worker's attempt seam, which records every attempt in the log.
func (w *world) serveAPI(t *testing.T, ctx context.Context, b *bus.Bus, eb bus.EventsBound) func(*job.Job, sender.Attempt) {
	t.Helper()
	attempts, err := b.EnsureAttempts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	results, err := w.js.Stream(ctx, topo.ResultStream)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := replay.New(replay.Config{JetStream: w.js, Catalog: w.cat, Events: eb.Events, Results: results,
		ResultSubject: topo.ResultSubject, JobSubject: bus.EndpointSubject(topo.Subject)})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := api.Start(w.nc, api.Config{Catalog: w.cat, JetStream: w.js, Events: eb.Events, Replayer: rp,
		Attempts: attempt.NewLog(attempts, eb.Events, int(w.nc.MaxPayload())-api.ReplyRoom)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	rec, err := attempt.NewRecorder(w.nc, attempt.RecorderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := bustest.Connect(t, w.nc.ConnectedUrl())
	w.api = client.New(nc)
	return rec.Observe
}

// note applies change under the lock and wakes the waiters.
func (w *world) note(change func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	change()
	close(w.changed)
	w.changed = make(chan struct{})
}

// waitFor waits until cond holds, failing the test after 15s.
func (w *world) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok, ch := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// result waits for the result of job id.
func (w *world) result(t *testing.T, id string) job.Result {
	t.Helper()
	var r job.Result
	w.waitFor(t, "the result of "+id, func() bool {
		var ok bool
		r, ok = w.results[id]
		return ok
	})
	return r
}

func (w *world) putType(t *testing.T, name string) {
	t.Helper()
	if _, err := w.cat.PutEventType(context.Background(), catalog.EventType{Name: name, Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) putEndpoint(t *testing.T, e catalog.Endpoint, secret string) catalog.Endpoint {
	t.Helper()
	ep, err := w.cat.PutEndpoint(context.Background(), e, secret)
	if err != nil {
		t.Fatalf("put endpoint: %v", err)
	}
	return ep
}

func (w *world) secret(t *testing.T, id string) string {
	t.Helper()
	s, err := w.cat.Secret(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// send stores an event as events.send does.
func (w *world) send(t *testing.T, ev catalog.Event) {
	t.Helper()
	if ev.Timestamp.IsZero() {
		ev.Timestamp = time.Now().UTC()
	}
	body, _ := json.Marshal(ev)
	if _, err := w.js.Publish(context.Background(), catalog.EventSubject(ev.Type, ev.ID), body, jetstream.WithMsgID(ev.ID)); err != nil {
		t.Fatal(err)
	}
}

// publishJob publishes a job in its wire form on the subject of the jobs
// the fan-out makes when it names an endpoint, as only the fan-out may;
// publishJobOn publishes it on subject.
func (w *world) publishJob(t *testing.T, j map[string]any) {
	t.Helper()
	subject := topo.Subject
	if _, ok := j["endpoint"]; ok {
		subject = bus.EndpointSubject(topo.Subject)
	}
	w.publishJobOn(t, subject, j)
}

func (w *world) publishJobOn(t *testing.T, subject string, j map[string]any) {
	t.Helper()
	body, _ := json.Marshal(j)
	if _, err := w.js.Publish(context.Background(), subject, body); err != nil {
		t.Fatal(err)
	}
}

// request is one request a receiver got.
type request struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is an httptest server that records every request and answers
// with status(n) for the n-th (from 0).
type receiver struct {
	*httptest.Server
	w *world
	// reqs is guarded by w.mu, so that waitFor sees it.
	reqs []request
}

func (w *world) receiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	rc := &receiver{w: w}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n int
		w.note(func() {
			n = len(rc.reqs)
			rc.reqs = append(rc.reqs, request{at: time.Now(), header: r.Header.Clone(), body: body})
		})
		code := http.StatusNoContent
		if status != nil {
			code = status(n)
		}
		rw.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.w.mu.Lock()
	defer rc.w.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// verifies reports whether req verifies with secret through the Standard
// Webhooks library.
func verifies(t *testing.T, secret string, req request) bool {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(req.body, req.header) == nil
}
