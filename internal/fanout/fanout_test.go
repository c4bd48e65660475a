package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/job"
)

// proc is one worker process's fan-out: its connection, catalog and
// consumer.
type proc struct {
	b   *bus.Bus
	cat *catalog.Catalog
	fan *Fanout
}

var topo = bus.Topology{Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
	ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS", AckWait: 30 * time.Second}

// startProc connects to srv as a worker would and binds the fan-out.
func startProc(t *testing.T, srv *server.Server, ackWait time.Duration) proc {
	t.Helper()
	b := catalogtest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := b.Ensure(ctx, topo); err != nil {
		t.Fatal(err)
	}
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants})
	if err != nil {
		t.Fatal(err)
	}
	fan, err := New(ctx, b.JetStream(), bus.EventStream, Config{Durable: "hookworker" + Suffix, JobSubject: "hooks.send",
		ResultSubject: "hooks.result", AckWait: ackWait, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	return proc{b: b, cat: cat, fan: fan}
}

// run runs p's fan-out until the test ends.
func (p proc) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.fan.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fanout run: %v", err)
		}
	})
}

// sendEvent stores an event as events.send does.
func sendEvent(t *testing.T, js jetstream.JetStream, ev catalog.Event) {
	t.Helper()
	body, _ := json.Marshal(ev)
	if _, err := js.Publish(context.Background(), catalog.EventSubject(ev.Type, ev.ID), body, jetstream.WithMsgID(ev.ID)); err != nil {
		t.Fatal(err)
	}
}

// jobs returns the jobs stored on the job stream, once all want of them
// are there; it fails the test if more come.
func jobs(t *testing.T, js jetstream.JetStream, want int) []Job {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, "HOOKS")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int(info.State.Msgs) > want {
			t.Fatalf("%d jobs stored, want %d", info.State.Msgs, want)
		}
		if int(info.State.Msgs) == want {
			var out []Job
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
				m, err := s.GetMsg(ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				var j Job
				if err := json.Unmarshal(m.Data, &j); err != nil {
					t.Fatal(err)
				}
				if m.Header.Get(nats.MsgIdHdr) != j.ID {
					t.Fatalf("job %s published with Nats-Msg-Id %q", j.ID, m.Header.Get(nats.MsgIdHdr))
				}
				out = append(out, j)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs stored after 10s, want %d", info.State.Msgs, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled waits until the fan-out consumer has no event pending or
// unacknowledged.
func settled(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := js.Consumer(context.Background(), bus.EventStream, "hookworker"+Suffix)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fan-out not settled: %d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ids(js []Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.ID)
	}
	slices.Sort(out)
	return out
}

func setupCatalog(t *testing.T, cat *catalog.Catalog, endpoints ...catalog.Endpoint) {
	t.Helper()
	ctx := context.Background()
	for _, name := range []string{"order.created", "order.paid"} {
		if _, err := cat.PutEventType(ctx, catalog.EventType{Name: name, Schema: json.RawMessage(`{"type":"object","required":["order"]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ep := range endpoints {
		if _, err := cat.PutEndpoint(ctx, ep, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOneEventReachesTheMatchingEndpoints(t *testing.T) {
	srv := bustest.Server(t)
	p := startProc(t, srv, 0)
	setupCatalog(t, p.cat,
		catalog.Endpoint{ID: "ep_a", URL: "https://a.example.com/hook", EventTypes: []string{"order.created"}, Headers: map[string]string{"X-Env": "prod"}},
		catalog.Endpoint{ID: "ep_b", URL: "https://b.example.com/hook", Channels: []string{"acme"}},
		catalog.Endpoint{ID: "ep_c", URL: "https://c.example.com/hook", EventTypes: []string{"order.paid"}},
		catalog.Endpoint{ID: "ep_d", URL: "https://d.example.com/hook", Channels: []string{"other"}},
		catalog.Endpoint{ID: "ep_e", URL: "https://e.example.com/hook", Disabled: true},
	)
	p.run(t)
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	sendEvent(t, p.b.JetStream(), catalog.Event{ID: "evt_1", Type: "order.created", Channel: "acme", Timestamp: at, Payload: json.RawMessage(`{"order":1}`)})
	got := jobs(t, p.b.JetStream(), 2)
	settled(t, p.b.JetStream())
	jobs(t, p.b.JetStream(), 2)
	if !slices.Equal(ids(got), []string{"evt_1:ep_a", "evt_1:ep_b"}) {
		t.Fatalf("jobs %v", ids(got))
	}
	for _, j := range got {
		if j.Type != "webhook" || j.Event != (job.Event{ID: "evt_1", Type: "order.created", Channel: "acme"}) ||
			j.Payload.Type != "order.created" || !j.Payload.Timestamp.Equal(at) || string(j.Payload.Data) != `{"order":1}` {
			t.Fatalf("job %+v", j)
		}
	}
	a := got[slices.IndexFunc(got, func(j Job) bool { return j.Endpoint == "ep_a" })]
	if a.URL != "https://a.example.com/hook" || a.Headers["X-Env"] != "prod" {
		t.Fatalf("job of ep_a: %+v", a)
	}
}

func TestFanOutStoppedHalfWayIsDoneOnce(t *testing.T) {
	srv := bustest.Server(t)
	first := startProc(t, srv, time.Second)
	setupCatalog(t, first.cat,
		catalog.Endpoint{ID: "ep_a", URL: "https://a.example.com/hook"},
		catalog.Endpoint{ID: "ep_b", URL: "https://b.example.com/hook"},
		catalog.Endpoint{ID: "ep_c", URL: "https://c.example.com/hook"},
	)
	// The first process dies hard (its connection closes) after publishing
	// one job of the event.
	var published atomic.Int32
	first.fan.beforePublish = func(string) error {
		if published.Add(1) > 1 {
			first.b.Conn().Close()
			return errors.New("killed")
		}
		return nil
	}
	first.run(t)
	nc, js := bustest.Connect(t, srv.ClientURL())
	sub, err := nc.SubscribeSync("hooks.send")
	if err != nil {
		t.Fatal(err)
	}
	sendEvent(t, js, catalog.Event{ID: "evt_1", Type: "order.created", Timestamp: time.Now(), Payload: json.RawMessage(`{"order":1}`)})
	if got := jobs(t, js, 1); got[0].ID != "evt_1:ep_a" {
		t.Fatalf("before the crash: %v", ids(got))
	}
	// A second process takes the event over once its AckWait has passed.
	second := startProc(t, srv, time.Second)
	second.run(t)
	settled(t, js)
	got := jobs(t, js, 3)
	if !slices.Equal(ids(got), []string{"evt_1:ep_a", "evt_1:ep_b", "evt_1:ep_c"}) {
		t.Fatalf("jobs %v", ids(got))
	}
	// On the subject, the first job was published twice (once by each
	// process); the job stream stored it once.
	var seen []string
	for {
		m, err := sub.NextMsg(100 * time.Millisecond)
		if err != nil {
			break
		}
		seen = append(seen, m.Header.Get(nats.MsgIdHdr))
	}
	slices.Sort(seen)
	if !slices.Equal(slices.Compact(slices.Clone(seen)), []string{"evt_1:ep_a", "evt_1:ep_b", "evt_1:ep_c"}) {
		t.Fatalf("published on hooks.send: %v", seen)
	}
}

func TestInvalidEventsAreRejected(t *testing.T) {
	srv := bustest.Server(t)
	p := startProc(t, srv, 0)
	setupCatalog(t, p.cat, catalog.Endpoint{ID: "ep_a", URL: "https://a.example.com/hook"})
	nc, js := bustest.Connect(t, srv.ClientURL())
	results, err := nc.SubscribeSync("hooks.result")
	if err != nil {
		t.Fatal(err)
	}
	p.run(t)
	tests := []struct{ name, subject, body, error string }{
		{"unknown type", "hooks.event.order.deleted.evt_1", `{"payload":{"order":1}}`, "not found"},
		{"breaks the schema", "hooks.event.order.created.evt_2", `{"payload":{"x":1}}`, "missing property 'order'"},
		{"not JSON", "hooks.event.order.created.evt_3", `{"payload":`, "event"},
		{"type differs", "hooks.event.order.created.evt_4", `{"type":"order.paid","payload":{"order":1}}`, "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := js.Publish(context.Background(), tt.subject, []byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			m, err := results.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				ID, Outcome, Error string
				Attempts           int
				Event              job.Event
				Endpoint           *string
			}
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatal(err)
			}
			id := tt.subject[len(tt.subject)-5:]
			if r.ID != id || r.Outcome != "rejected" || r.Attempts != 0 || r.Event.ID != id || r.Endpoint != nil ||
				m.Header.Get("Hook-Job-Id") != id || m.Header.Get("Hook-Outcome") != "rejected" {
				t.Fatalf("result %s", m.Data)
			}
			if !strings.Contains(r.Error, tt.error) {
				t.Fatalf("error %q does not say %q", r.Error, tt.error)
			}
		})
	}
	// The positive control: a valid event on the same path makes its job.
	if _, err := js.Publish(context.Background(), "hooks.event.order.created.evt_5", []byte(`{"payload":{"order":1}}`)); err != nil {
		t.Fatal(err)
	}
	got := jobs(t, js, 1)
	if got[0].ID != "evt_5:ep_a" || got[0].Payload.Timestamp.IsZero() {
		t.Fatalf("job %+v", got[0])
	}
}

func TestJobTooLargeIsRejected(t *testing.T) {
	opts := bustest.Options("127.0.0.1", -1, t.TempDir())
	opts.MaxPayload = 4096
	srv := bustest.Start(t, opts)
	p := startProc(t, srv, 0)
	setupCatalog(t, p.cat, catalog.Endpoint{ID: "ep_a", URL: "https://a.example.com/hook", Headers: map[string]string{"X-Pad": strings.Repeat("p", 300)}})
	nc, js := bustest.Connect(t, srv.ClientURL())
	results, err := nc.SubscribeSync("hooks.result")
	if err != nil {
		t.Fatal(err)
	}
	p.run(t)
	big := `{"order":1,"pad":"` + strings.Repeat("x", 3800) + `"}`
	if _, err := js.Publish(context.Background(), "hooks.event.order.created.evt_big", []byte(`{"payload":`+big+`}`)); err != nil {
		t.Fatal(err)
	}
	m, err := results.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r struct{ ID, Outcome, Error, Endpoint string }
	if err := json.Unmarshal(m.Data, &r); err != nil || r.ID != "evt_big:ep_a" || r.Outcome != "rejected" || r.Endpoint != "ep_a" ||
		!strings.Contains(r.Error, "too large") || len(m.Data) > 4096 {
		t.Fatalf("result %s (%v)", m.Data, err)
	}
	// The positive control: a small event on the same server makes its job.
	if _, err := js.Publish(context.Background(), "hooks.event.order.created.evt_small", []byte(`{"payload":{"order":2}}`)); err != nil {
		t.Fatal(err)
	}
	if got := jobs(t, js, 1); got[0].ID != "evt_small:ep_a" {
		t.Fatalf("jobs %v", ids(got))
	}
	settled(t, js)
}

// An endpoint added through one process reaches the events another process
// fans out right after.
func TestEndpointsAddedElsewhereAreSeenAtOnce(t *testing.T) {
	srv := bustest.Server(t)
	fan := startProc(t, srv, 0)
	setupCatalog(t, fan.cat)
	fan.run(t)
	other := startProc(t, srv, 0)
	js := fan.b.JetStream()
	for i, id := range []string{"ep_1", "ep_2", "ep_3"} {
		if _, err := other.cat.PutEndpoint(context.Background(), catalog.Endpoint{ID: id, URL: "https://example.com/" + id}, ""); err != nil {
			t.Fatal(err)
		}
		evt := "evt_" + id
		sendEvent(t, js, catalog.Event{ID: evt, Type: "order.created", Timestamp: time.Now(), Payload: json.RawMessage(`{"order":1}`)})
		// Event i reaches the i+1 endpoints added so far: 1, then 2, then 3.
		want := (i + 1) * (i + 2) / 2
		got := jobs(t, js, want)
		n := 0
		for _, j := range got {
			if j.Event.ID == evt {
				n++
			}
		}
		if n != i+1 {
			t.Fatalf("event %s made %d jobs, want %d", evt, n, i+1)
		}
	}
	settled(t, js)
}
