package endpoint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/ordering"
	"github.com/hookworker/hookworker/internal/ratelimit"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// fleet is several worker processes on one in-process server, sharing the
// durable consumer: each with its own connection, catalog, fan-out,
// limiter, gate and sender (whose User-Agent names it), as hookworker run
// builds them.
type fleet struct {
	srv  *server.Server
	topo bus.Topology
	// cat is the first worker's catalog, for the test's own writes.
	cat     *catalog.Catalog
	js      jetstream.JetStream
	workers []*fleetWorker

	mu      sync.Mutex
	results map[string]job.Result
}

// fleetWorker is one worker process of a fleet.
type fleetWorker struct {
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

// startFleet starts n workers of concurrency slots each on a fresh server,
// whose jobs are redelivered after ackWait.
func startFleet(t *testing.T, n, concurrency int, ackWait time.Duration, schedule []time.Duration) *fleet {
	t.Helper()
	f := &fleet{srv: bustest.Server(t), results: map[string]job.Result{},
		topo: bus.Topology{Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
			ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS", AckWait: ackWait}}
	nc, js := bustest.Connect(t, f.srv.ClientURL())
	f.js = js
	if _, err := nc.Subscribe(f.topo.ResultSubject, func(m *nats.Msg) {
		var r job.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Errorf("result %s: %v", m.Data, err)
			return
		}
		f.mu.Lock()
		f.results[r.ID] = r
		f.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		f.workers = append(f.workers, f.startWorker(t, fmt.Sprintf("worker-%d", i), concurrency, schedule))
	}
	return f
}

func (f *fleet) startWorker(t *testing.T, name string, concurrency int, schedule []time.Duration) *fleetWorker {
	t.Helper()
	b, err := bus.Connect(bus.Config{URL: f.srv.ClientURL(), Name: name})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &fleetWorker{nc: b.Conn(), cancel: cancel, done: make(chan struct{})}
	bound, err := b.Ensure(ctx, f.topo)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	if err != nil {
		t.Fatal(err)
	}
	rates, err := b.EnsureRates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := b.JetStream().Stream(ctx, f.topo.Stream)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants,
		Conn: b.Conn(), AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.cat == nil {
		f.cat = cat
	}
	limiter, err := ratelimit.New(ratelimit.Config{Store: rates})
	if err != nil {
		t.Fatal(err)
	}
	endpoints := bus.EndpointSubject(f.topo.Subject)
	gate, err := ordering.New(ordering.Config{Stream: jobs, EndpointSubject: endpoints, Conn: b.Conn()})
	if err != nil {
		t.Fatal(err)
	}
	fan, err := fanout.New(ctx, b.JetStream(), bus.EventStream, fanout.Config{Durable: f.topo.Durable + fanout.Suffix,
		JobSubject: endpoints, ResultSubject: f.topo.ResultSubject, Catalog: cat, AckWait: f.topo.AckWait})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := sender.New(sender.Config{Timeout: 5 * time.Second, MaxRetries: 3, BackoffMin: 10 * time.Millisecond,
		BackoffMax: 100 * time.Millisecond, DeferAfter: time.Second, AllowPrivateNetworks: true, UserAgent: name})
	if err != nil {
		t.Fatal(err)
	}
	d, err := endpoint.New(endpoint.Config{Catalog: cat, Send: snd.Send, Schedule: schedule, Limiter: limiter, Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	wk, err := consumer.New(consumer.Options{
		JetStream: b.JetStream(), Consumer: bound.Consumer, State: bound.State,
		Deliverers:  map[job.Type]consumer.Deliverer{job.Webhook: d.Prepare},
		Concurrency: concurrency, AckWait: f.topo.AckWait, ShutdownTimeout: 100 * time.Millisecond, MaxRedeliveries: 5,
		ResultSubject: f.topo.ResultSubject, EndpointSubject: endpoints, FetchWait: 200 * time.Millisecond,
		Limits: consumer.Limits{Timeout: 5 * time.Second, MaxRetries: 3, MaxSchedule: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = fan.Run(ctx) })
	wg.Go(func() { wk.Run(ctx) })
	go func() {
		wg.Wait()
		gate.Close()
		close(w.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
		b.Close()
	})
	return w
}

// kill stops w as a crash would: its connection goes first, so that it
// acknowledges and hands back nothing.
func (w *fleetWorker) kill() {
	w.nc.Close()
	w.cancel()
	<-w.done
}

func (f *fleet) putEndpoint(t *testing.T, e catalog.Endpoint) {
	t.Helper()
	if _, err := f.cat.PutEndpoint(context.Background(), e, ""); err != nil {
		t.Fatalf("put endpoint: %v", err)
	}
}

// send stores n events of type a.b, ids evt_000 on, in order.
func (f *fleet) send(t *testing.T, n int) []string {
	t.Helper()
	if _, err := f.cat.PutEventType(context.Background(), catalog.EventType{Name: "a.b", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("evt_%03d", i)
		body, _ := json.Marshal(catalog.Event{ID: id, Type: "a.b", Timestamp: time.Now().UTC(), Payload: json.RawMessage(`{}`)})
		if _, err := f.js.Publish(context.Background(), catalog.EventSubject("a.b", id), body, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// waitResults waits until every job of ids to endpoint has its result,
// and returns them.
func (f *fleet) waitResults(t *testing.T, endpoint string, ids []string, within time.Duration) []job.Result {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f.mu.Lock()
		var out []job.Result
		for _, id := range ids {
			if r, ok := f.results[fanout.JobID(id, endpoint)]; ok {
				out = append(out, r)
			}
		}
		f.mu.Unlock()
		if len(out) == len(ids) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d results of %s within %s", len(out), len(ids), endpoint, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitResult waits for the result of job id.
func (f *fleet) waitResult(t *testing.T, id string) job.Result {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		f.mu.Lock()
		r, ok := f.results[id]
		f.mu.Unlock()
		if ok {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no result of %s within 10s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// arrival is one request a logReceiver got.
type arrival struct {
	at     time.Time
	event  string // webhook-id
	worker string // User-Agent
}

// logReceiver records every request and answers as answer says (204 when
// nil); answer may block.
type logReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []arrival
}

func newLogReceiver(t *testing.T, answer func(a arrival, n int) int) *logReceiver {
	t.Helper()
	rc := &logReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		a := arrival{at: time.Now(), event: r.Header.Get("webhook-id"), worker: r.Header.Get("User-Agent")}
		rc.mu.Lock()
		rc.got = append(rc.got, a)
		n := len(rc.got) - 1
		rc.mu.Unlock()
		code := http.StatusNoContent
		if answer != nil {
			code = answer(a, n)
		}
		rw.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *logReceiver) arrivals() []arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// checkOrder fails t unless the events arrived in the order of ids: each
// first arrives after every earlier one, and none arrives again once a
// later one has (a retry, or the redelivery of a job lost with a worker,
// comes before the next event).
func checkOrder(t *testing.T, got []arrival, ids []string) {
	t.Helper()
	next := 0
	for i, a := range got {
		switch {
		case next < len(ids) && a.event == ids[next]:
			next++
		case next > 0 && a.event == ids[next-1]:
			// the same event again: a retry
		default:
			t.Fatalf("request %d was %s; want %s or, again, the one before it (arrivals %v)", i, a.event, ids[min(next, len(ids)-1)], events(got))
		}
	}
	if next != len(ids) {
		t.Fatalf("%d of %d events arrived", next, len(ids))
	}
}

func events(got []arrival) []string {
	out := make([]string, len(got))
	for i, a := range got {
		out[i] = a.event
	}
	return out
}
