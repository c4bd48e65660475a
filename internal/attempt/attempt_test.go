package attempt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
)

type env struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	attempts jetstream.Stream
	events   jetstream.Stream
	log      *attempt.Log
}

func start(t *testing.T) env {
	t.Helper()
	ctx, b, eb := catalogtest.Start(t)
	as, err := b.EnsureAttempts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	return env{nc: b.Conn(), js: b.JetStream(), attempts: as, events: eb.Events,
		log: attempt.NewLog(as, eb.Events, int(b.Conn().MaxPayload())-1024)}
}

func (e env) recorder(t *testing.T, cfg attempt.RecorderConfig) *attempt.Recorder {
	t.Helper()
	r, err := attempt.NewRecorder(e.nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

func flush(t *testing.T, r *attempt.Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// storeEvent stores an event on the event stream, as events.send does.
func (e env) storeEvent(t *testing.T, ev catalog.Event) {
	t.Helper()
	body, _ := json.Marshal(ev)
	if _, err := e.js.Publish(context.Background(), catalog.EventSubject(ev.Type, ev.ID), body); err != nil {
		t.Fatal(err)
	}
}

// scenario records the attempts of events of two types to three
// endpoints, ep_b failing (503) before it recovers, in two batches; mid is
// a time between them. It returns every attempt in the order recorded.
func scenario(t *testing.T, e env) (all []attempt.Attempt, mid time.Time) {
	t.Helper()
	r := e.recorder(t, attempt.RecorderConfig{})
	types := []string{"order.created", "order.paid"}
	channels := []string{"", "eu"}
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	record := func(a attempt.Attempt) {
		all = append(all, a)
		r.Record(a)
	}
	for i := range 12 {
		if i == 6 {
			flush(t, r)
			mid = time.Now()
		}
		ev := catalog.Event{ID: fmt.Sprintf("evt_%02d", i), Type: types[i%2], Channel: channels[i%3%2],
			Timestamp: t0.Add(time.Duration(i) * time.Minute), Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
		e.storeEvent(t, ev)
		for _, ep := range []string{"ep_a", "ep_b", "ep_c"} {
			a := attempt.Attempt{
				JobID: ev.ID + ":" + ep, EventID: ev.ID, EventType: ev.Type, Channel: ev.Channel, Endpoint: ep,
				URL: "https://" + ep + ".example.com/hook?token=s3cr3t", Number: 1, Start: ev.Timestamp,
				Duration: 40 * time.Millisecond,
				RequestHeaders: http.Header{
					"Webhook-Id": {ev.ID}, "Webhook-Signature": {"v1,abc"}, "Authorization": {"Bearer s3cr3t"},
					"X-Api-Key": {"s3cr3t"}, "X-Env": {"prod"}, "Content-Type": {"application/json"},
				},
				Status: 204, Outcome: attempt.Delivered,
			}
			if ep == "ep_c" {
				a.Tenant = "acme"
			}
			if ep == "ep_b" && i < 8 { // down until the ninth event
				a.Status, a.Response, a.Outcome = 503, []byte("busy"), attempt.Retry
				record(a)
				a.Number, a.Status, a.Response, a.Outcome = 2, 503, []byte(`{"error": "still busy"}`), attempt.Failed
				a.Error = "503 Service Unavailable"
			}
			record(a)
		}
	}
	flush(t, r)
	if got := r.Recorded(); got != uint64(len(all)) {
		t.Fatalf("recorded %d, want %d (lost %d)", got, len(all), r.Lost())
	}
	return all, mid
}

// listAll pages through q and returns every record and the page count.
func listAll(t *testing.T, l *attempt.Log, q attempt.Query) ([]attempt.Record, int) {
	t.Helper()
	var out []attempt.Record
	pages := 0
	for {
		p, err := l.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		out = append(out, p.Attempts...)
		if p.Done {
			if p.Iterator != "" {
				t.Errorf("done page with iterator %q", p.Iterator)
			}
			return out, pages
		}
		if p.Iterator == "" || pages > 100 {
			t.Fatalf("page %d not done and without iterator", pages)
		}
		q.Iterator = p.Iterator
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestList(t *testing.T) {
	e := start(t)
	all, mid := scenario(t, e)
	type pick func(i int, a attempt.Attempt) bool
	cases := []struct {
		name string
		q    attempt.Query
		want pick
	}{
		{"everything", attempt.Query{}, func(int, attempt.Attempt) bool { return true }},
		{"one endpoint", attempt.Query{Endpoint: "ep_b"}, func(_ int, a attempt.Attempt) bool { return a.Endpoint == "ep_b" }},
		{"one type", attempt.Query{EventType: "order.paid"}, func(_ int, a attempt.Attempt) bool { return a.EventType == "order.paid" }},
		{"endpoint and type", attempt.Query{Endpoint: "ep_c", EventType: "order.created"}, func(_ int, a attempt.Attempt) bool {
			return a.Endpoint == "ep_c" && a.EventType == "order.created"
		}},
		{"channel", attempt.Query{Channel: "eu"}, func(_ int, a attempt.Attempt) bool { return a.Channel == "eu" }},
		{"event", attempt.Query{EventID: "evt_03"}, func(_ int, a attempt.Attempt) bool { return a.EventID == "evt_03" }},
		{"tenant", attempt.Query{Tenant: "acme"}, func(_ int, a attempt.Attempt) bool { return a.Tenant == "acme" }},
		{"tenant and type", attempt.Query{Tenant: "acme", EventType: "order.paid"}, func(_ int, a attempt.Attempt) bool {
			return a.Tenant == "acme" && a.EventType == "order.paid"
		}},
		{"failed", attempt.Query{Outcome: attempt.Failed}, func(_ int, a attempt.Attempt) bool { return a.Outcome == attempt.Failed }},
		{"failed of ep_b, order.paid", attempt.Query{Endpoint: "ep_b", EventType: "order.paid", Outcome: attempt.Failed}, func(_ int, a attempt.Attempt) bool {
			return a.Endpoint == "ep_b" && a.EventType == "order.paid" && a.Outcome == attempt.Failed
		}},
		{"before", attempt.Query{Before: mid}, func(i int, a attempt.Attempt) bool { return a.EventID < "evt_06" }},
		{"after", attempt.Query{After: mid, Endpoint: "ep_b"}, func(i int, a attempt.Attempt) bool { return a.EventID >= "evt_06" && a.Endpoint == "ep_b" }},
		{"unknown endpoint", attempt.Query{Endpoint: "ep_x"}, func(int, attempt.Attempt) bool { return false }},
	}
	for _, c := range cases {
		for _, limit := range []int{0, 1, 4, 7} {
			t.Run(fmt.Sprintf("%s/limit %d", c.name, limit), func(t *testing.T) {
				q := c.q
				q.Limit = limit
				got, pages := listAll(t, e.log, q)
				var want []string
				for i := len(all) - 1; i >= 0; i-- {
					if c.want(i, all[i]) {
						want = append(want, fmt.Sprintf("%s#%d", all[i].JobID, all[i].Number))
					}
				}
				var have []string
				for _, r := range got {
					have = append(have, fmt.Sprintf("%s#%d", r.JobID, r.Attempt))
				}
				if !slices.Equal(have, want) {
					t.Fatalf("listed\n%v\nwant\n%v", have, want)
				}
				if limit > 0 && pages < (len(want)+limit-1)/limit {
					t.Errorf("%d records in %d pages of %d", len(want), pages, limit)
				}
			})
		}
	}
}

func TestListRecordContent(t *testing.T) {
	e := start(t)
	scenario(t, e)
	p, err := e.log.List(context.Background(), attempt.Query{EventID: "evt_04", Endpoint: "ep_b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Attempts) != 2 || !p.Done {
		t.Fatalf("got %d records (done %v), want 2", len(p.Attempts), p.Done)
	}
	failed, retry := p.Attempts[0], p.Attempts[1]
	if failed.Attempt != 2 || failed.Outcome != attempt.Failed || retry.Attempt != 1 || retry.Outcome != attempt.Retry {
		t.Fatalf("records %+v, %+v: want attempt 2 failed, then attempt 1 retry", failed, retry)
	}
	b, _ := json.Marshal(failed)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	for _, key := range []string{"job_id", "event_id", "event_type", "channel", "endpoint", "url", "attempt", "timestamp",
		"duration_ms", "request_headers", "status", "response", "error", "outcome", "payload"} {
		if _, ok := m[key]; !ok {
			t.Errorf("record has no %q: %s", key, b)
		}
	}
	if string(failed.Payload) != `{"n":4}` {
		t.Errorf("payload %s, want the event's", failed.Payload)
	}
	if string(failed.Response) != `{"error":"still busy"}` || string(retry.Response) != `"busy"` {
		t.Errorf("responses %s, %s", failed.Response, retry.Response)
	}
	if failed.Status == nil || *failed.Status != 503 || str(failed.Error) != "503 Service Unavailable" {
		t.Errorf("status %v error %v", failed.Status, failed.Error)
	}
	if string(m["channel"]) != `"eu"` || failed.DurationMS != 40 {
		t.Errorf("channel %s duration %d", m["channel"], failed.DurationMS)
	}
	if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "abc") {
		t.Errorf("a secret is in the record: %s", b)
	}
	h := failed.RequestHeaders
	if h["webhook-id"] != "evt_04" || h["x-env"] != "prod" || h["authorization"] != attempt.Redacted ||
		h["x-api-key"] != attempt.Redacted || h["webhook-signature"] != attempt.Redacted {
		t.Errorf("request headers %v", h)
	}
	if failed.URL != "https://ep_b.example.com/hook?token=REDACTED" {
		t.Errorf("url %s", failed.URL)
	}
}

// TestListTestEventHasNoPayload: a test event is not stored, so its
// attempt is listed without a payload, even when a stored event has its id
// and type (a producer's, with payload of its own).
func TestListTestEventHasNoPayload(t *testing.T) {
	e := start(t)
	r := e.recorder(t, attempt.RecorderConfig{})
	ev := catalog.Event{ID: "evt_same", Type: "order.created", Timestamp: time.Now().UTC(), Payload: json.RawMessage(`{"someone":"else"}`)}
	e.storeEvent(t, ev)
	for _, test := range []bool{true, false} {
		r.Record(attempt.Attempt{JobID: "evt_same:ep_t", EventID: ev.ID, EventType: ev.Type, Endpoint: "ep_t", Test: test,
			URL: "https://example.com/hook", Number: 1, Start: time.Now(), Status: 204, Outcome: attempt.Delivered})
	}
	flush(t, r)
	p, err := e.log.List(context.Background(), attempt.Query{EventID: ev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Attempts) != 2 {
		t.Fatalf("got %d records, want 2", len(p.Attempts))
	}
	for _, a := range p.Attempts {
		want := `{"someone":"else"}` // the positive control: the stored event's
		if a.Test {
			want = "null"
		}
		if string(a.Payload) != want {
			t.Errorf("attempt (test %v) lists payload %s, want %s", a.Test, a.Payload, want)
		}
	}
}

func TestListRefusesBadQueries(t *testing.T) {
	e := start(t)
	now := time.Now()
	for _, q := range []attempt.Query{
		{Endpoint: "a.b"}, {EventType: "order"}, {Channel: "a b"}, {EventID: "x.y"}, {Tenant: "a.b"}, {Outcome: "lost"},
		{Limit: 1001}, {Limit: -1}, {Iterator: "x"}, {Iterator: "0"}, {Before: now, After: now},
	} {
		_, err := e.log.List(context.Background(), q)
		var ie *attempt.InvalidError
		if err == nil || !asInvalid(err, &ie) {
			t.Errorf("List(%+v) = %v, want an invalid error", q, err)
		}
	}
}

func asInvalid(err error, target **attempt.InvalidError) bool {
	ie, ok := err.(*attempt.InvalidError)
	*target = ie
	return ok
}

func TestModes(t *testing.T) {
	plain := attempt.Attempt{JobID: "job-1", URL: "https://example.com/", Number: 1, Start: time.Now(), Status: 204, Outcome: attempt.Delivered}
	event := plain
	event.JobID, event.EventID, event.EventType, event.Endpoint = "evt_1:ep_1", "evt_1", "order.created", "ep_1"
	for _, c := range []struct {
		mode attempt.Mode
		want []string
	}{
		{attempt.Events, []string{"evt_1:ep_1"}},
		{attempt.All, []string{"evt_1:ep_1", "job-1"}},
		{attempt.Off, nil},
	} {
		t.Run(string(c.mode), func(t *testing.T) {
			e := start(t)
			r := e.recorder(t, attempt.RecorderConfig{Mode: c.mode})
			r.Record(plain)
			r.Record(event)
			flush(t, r)
			got, _ := listAll(t, e.log, attempt.Query{})
			var ids []string
			for _, g := range got {
				ids = append(ids, g.JobID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("recorded %v, want %v", ids, c.want)
			}
		})
	}
	if _, err := attempt.ParseMode("some"); err == nil {
		t.Error("ParseMode(some) accepted")
	}
}

// TestStreamDeleted deletes the log's stream mid-run: every record after
// that is counted as lost, and Record never waits for it.
func TestStreamDeleted(t *testing.T) {
	e := start(t)
	reg := prometheus.NewRegistry()
	r := e.recorder(t, attempt.RecorderConfig{Registerer: reg})
	a := attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", EventType: "order.created", Endpoint: "ep_1",
		URL: "https://example.com/", Number: 1, Start: time.Now(), Status: 204, Outcome: attempt.Delivered}
	for range 10 {
		r.Record(a)
	}
	flush(t, r)
	if err := e.js.DeleteStream(context.Background(), bus.AttemptStream); err != nil {
		t.Fatal(err)
	}
	// More than a group: groups ended by their size and by the wait.
	const after = 2*attempt.GroupSize + 25
	for range after {
		r.Record(a)
	}
	flush(t, r)
	if r.Recorded() != 10 || r.Lost() != after {
		t.Fatalf("recorded %d, lost %d; want 10 and %d", r.Recorded(), r.Lost(), after)
	}
	if n := metric(t, reg, "hookworker_attempts_lost_total"); n != after {
		t.Errorf("hookworker_attempts_lost_total = %v, want %d", n, after)
	}
	if n := metric(t, reg, "hookworker_attempts_recorded_total"); n != 10 {
		t.Errorf("hookworker_attempts_recorded_total = %v, want 10", n)
	}
}

// TestRecordsConfirmedInGroups records a burst: every record is stored and
// counted, and only the last record of each group asks the server for an
// acknowledgement.
func TestRecordsConfirmedInGroups(t *testing.T) {
	e := start(t)
	// Another connection sees what the recorder publishes.
	watch, err := nats.Connect(e.nc.ConnectedUrl())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	sub, err := watch.SubscribeSync("hooks.attempt.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Flush(); err != nil {
		t.Fatal(err)
	}
	r := e.recorder(t, attempt.RecorderConfig{})
	a := attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", EventType: "order.created", Endpoint: "ep_1",
		URL: "https://example.com/", Number: 1, Start: time.Now(), Status: 204, Outcome: attempt.Delivered}
	const n = 10*attempt.GroupSize + 7
	for range n {
		r.Record(a)
	}
	flush(t, r)
	if r.Recorded() != n || r.Lost() != 0 {
		t.Fatalf("recorded %d, lost %d; want %d and 0", r.Recorded(), r.Lost(), n)
	}
	info, err := e.attempts.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != n {
		t.Fatalf("stream holds %d records, want %d", info.State.Msgs, n)
	}
	asking := 0
	for range n {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Reply != "" {
			asking++
		}
	}
	// At least one per group of GroupSize; more only as groups end on
	// GroupWait, which a burst this short rarely reaches.
	if asking < n/attempt.GroupSize || asking > n/4 {
		t.Errorf("%d of %d records asked for an acknowledgement, want about %d", asking, n, n/attempt.GroupSize+1)
	}
}

// TestRecordNeverWaits stores records on a subject whose only listener
// never acknowledges: past MaxPending, Record drops at once instead of
// waiting.
func TestRecordNeverWaits(t *testing.T) {
	e := start(t)
	if err := e.js.DeleteStream(context.Background(), bus.AttemptStream); err != nil {
		t.Fatal(err)
	}
	sub, err := e.nc.SubscribeSync("hooks.attempt.>") // takes records, acks none
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	r := e.recorder(t, attempt.RecorderConfig{MaxPending: 8, AckTimeout: time.Minute})
	a := attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", Endpoint: "ep_1", Number: 1, Outcome: attempt.Retry}
	for range 50 {
		r.Record(a)
	}
	// Counted before Record returned: nothing here waits.
	if r.Lost() != 42 || r.Recorded() != 0 {
		t.Fatalf("lost %d recorded %d right after 50 records with 8 slots; want 42 and 0", r.Lost(), r.Recorded())
	}
}

// metric returns the value of the counter name in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestListWindows lists a log larger than one read chunk, with a sparse
// filter and with replies too small for a whole page: every record comes
// once, in order.
func TestListWindows(t *testing.T) {
	e := start(t)
	r := e.recorder(t, attempt.RecorderConfig{})
	var all []string
	for i := range 600 {
		ep := "ep_a"
		if i%97 == 0 {
			ep = "ep_rare"
		}
		id := fmt.Sprintf("evt_%03d", i)
		all = append(all, id+"@"+ep)
		r.Record(attempt.Attempt{JobID: id + ":" + ep, EventID: id, EventType: "order.created", Endpoint: ep,
			Number: 1, Start: time.Now(), Status: 204, Response: []byte(strings.Repeat("r", 200)), Outcome: attempt.Delivered})
	}
	flush(t, r)
	slices.Reverse(all)
	small := attempt.NewLog(e.attempts, e.events, 20000)
	for _, c := range []struct {
		name  string
		log   *attempt.Log
		q     attempt.Query
		keep  func(string) bool
		pages int // at least
	}{
		{"sparse", e.log, attempt.Query{Endpoint: "ep_rare", Limit: 2}, func(s string) bool { return strings.HasSuffix(s, "@ep_rare") }, 4},
		{"everything in large pages", e.log, attempt.Query{Limit: 1000}, func(string) bool { return true }, 1},
		{"everything in pages of 300", e.log, attempt.Query{Limit: 300}, func(string) bool { return true }, 2},
		{"replies cut by size", small, attempt.Query{Limit: 100}, func(string) bool { return true }, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, pages := listAll(t, c.log, c.q)
			var have, want []string
			for _, g := range got {
				have = append(have, str(g.EventID)+"@"+str(g.Endpoint))
			}
			for _, a := range all {
				if c.keep(a) {
					want = append(want, a)
				}
			}
			if !slices.Equal(have, want) {
				t.Fatalf("listed %d records, want %d; first %.5v, want %.5v", len(have), len(want), have, want)
			}
			if pages < c.pages {
				t.Errorf("%d pages, want at least %d", pages, c.pages)
			}
		})
	}
}

// BenchmarkRecord is what recording costs a delivery: one Record call,
// with the store's acknowledgements coming back in the background.
func BenchmarkRecord(b *testing.B) {
	srv := bustest.Server(b)
	bb, err := bus.Connect(bus.Config{URL: srv.ClientURL()})
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Close()
	if _, err := bb.EnsureAttempts(context.Background(), 0); err != nil {
		b.Fatal(err)
	}
	r, err := attempt.NewRecorder(bb.Conn(), attempt.RecorderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	a := attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", EventType: "order.created", Endpoint: "ep_1",
		URL: "https://example.com/hook", Number: 1, Start: time.Now(), Duration: 40 * time.Millisecond, Status: 204,
		RequestHeaders: http.Header{"Webhook-Id": {"evt_1"}, "Webhook-Signature": {"v1,x"}, "Content-Type": {"application/json"}},
		Response:       []byte(`{"ok":true}`), Outcome: attempt.Delivered}
	b.ReportAllocs()
	for b.Loop() {
		r.Record(a)
	}
	b.StopTimer()
	if err := r.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.Lost())/float64(b.N), "lost/op")
}
