package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/metrics/metricstest"
)

// Credentials an endpoint sends as extra headers; neither may be in the
// delivery log.
const (
	endpointAuth = "Bearer 4uth-s3cr3t"
	endpointKey  = "k3y-s3cr3t"
)

// eventReceiver is one endpoint's receiver: it keeps every request and
// answers 503 "busy" while failing is not zero (negative: for ever;
// positive: that many more requests), else 200 {"ok":true}.
type eventReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	failing int
	reqs    []eventRequest
}

// eventRequest is one request an eventReceiver took.
type eventRequest struct {
	id, signature string
}

func newEventReceiver(t *testing.T) *eventReceiver {
	t.Helper()
	r := &eventReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.reqs = append(r.reqs, eventRequest{id: req.Header.Get("webhook-id"), signature: req.Header.Get("webhook-signature")})
		if r.failing != 0 {
			if r.failing > 0 {
				r.failing--
			}
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "busy")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *eventReceiver) fail(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failing = n
}

// requests returns how many requests carried each webhook-id.
func (r *eventReceiver) requests() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, q := range r.reqs {
		out[q.id]++
	}
	return out
}

func (r *eventReceiver) signatures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		out = append(out, q.signature)
	}
	return out
}

// eventResult is the part of an event job's result the test reads.
type eventResult struct {
	ID       string  `json:"id"`
	Outcome  string  `json:"outcome"`
	Endpoint *string `json:"endpoint"`
	Event    *struct {
		ID string `json:"id"`
	} `json:"event"`
}

// want is one record the log must hold.
type want struct {
	job     string
	attempt int
	outcome string
	status  int
}

func (w want) String() string {
	return fmt.Sprintf("%s#%d %s %d", w.job, w.attempt, w.outcome, w.status)
}

func got(a client.Attempt) want {
	return want{job: a.JobID, attempt: a.Attempt, outcome: a.Outcome, status: a.Status}
}

// logWorld is a worker with the event API, three endpoints on their own
// receivers and a client.
type logWorld struct {
	*worker
	api     *client.Client
	nc      *nats.Conn
	results *nats.Subscription
	metrics string
	recv    map[string]*eventReceiver
}

// results waits for n results of event jobs and returns them.
func (w *logWorld) awaitResults(t *testing.T, n int) []eventResult {
	t.Helper()
	var out []eventResult
	for len(out) < n {
		msg, err := w.results.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %d more results: %v", n-len(out), err)
		}
		var r eventResult
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			t.Fatalf("result %s: %v", msg.Data, err)
		}
		if r.Event != nil {
			out = append(out, r)
		}
	}
	return out
}

// send sends one event and waits for its three results.
func (w *logWorld) send(t *testing.T, id, typ, channel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sent, err := w.api.SendEvent(ctx, client.Event{ID: id, Type: typ, Channel: channel, Payload: payloadOf(id)})
	if err != nil || sent.Endpoints != 3 {
		t.Fatalf("send %s: %+v, %v; want it sent to 3 endpoints", id, sent, err)
	}
	w.awaitResults(t, 3)
}

func payloadOf(id string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"event":%q}`, id))
}

// list pages through q with pages of limit and returns every attempt.
func (w *logWorld) list(t *testing.T, q client.AttemptQuery, limit int) []client.Attempt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q.Limit = limit
	var out []client.Attempt
	for pages := 1; ; pages++ {
		p, err := w.api.Attempts(ctx, q)
		if err != nil {
			t.Fatalf("attempts %+v: %v", q, err)
		}
		if len(p.Attempts) > limit {
			t.Fatalf("a page of %d attempts, limit %d", len(p.Attempts), limit)
		}
		out = append(out, p.Attempts...)
		if p.Done {
			return out
		}
		if p.Iterator == "" || pages > 1000 {
			t.Fatalf("page %d neither done nor with an iterator", pages)
		}
		q.Iterator = p.Iterator
	}
}

// awaitLogged waits until the log holds n records: records are stored
// asynchronously, so a result may come before its attempts' records.
func (w *logWorld) awaitLogged(t *testing.T, n int) {
	t.Helper()
	w.eventually(t, fmt.Sprintf("%d records in the delivery log", n), func() bool {
		return len(w.list(t, client.AttemptQuery{}, 1000)) >= n
	})
}

func (w *logWorld) metric(t *testing.T, name string) float64 {
	t.Helper()
	v, _ := metricstest.Value(metricstest.Scrape(t, w.metrics), name)
	return v
}

func startLogWorld(t *testing.T) *logWorld {
	t.Helper()
	natsAddr, httpAddr := freeAddr(t), freeAddr(t)
	setEnv(t, map[string]string{
		"HOOKWORKER_NATS_URL":         "nats://" + natsAddr,
		"HOOKWORKER_HTTP_ADDR":        httpAddr,
		"HOOKWORKER_ALLOWED_NETWORKS": "127.0.0.1/32",
		"HOOKWORKER_BACKOFF_MIN":      "10ms",
		"HOOKWORKER_BACKOFF_MAX":      "50ms",
		// Three attempts an event job: a receiver that is down ends it
		// failed within a few tens of milliseconds.
		"HOOKWORKER_RETRY_SCHEDULE":   "10ms,10ms",
		"HOOKWORKER_ACK_WAIT":         "5s",
		"HOOKWORKER_CONCURRENCY":      "8",
		"HOOKWORKER_SHUTDOWN_TIMEOUT": "5s",
		"HOOKWORKER_LOG_FORMAT":       "json",
	})
	startNATS(t, natsAddr)
	nc, _ := bustest.Connect(t, "nats://"+natsAddr)
	results, err := nc.SubscribeSync("hooks.result")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	w := &logWorld{worker: startWorker(t), api: client.New(nc), nc: nc, results: results,
		metrics: "http://" + httpAddr + "/metrics", recv: map[string]*eventReceiver{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.eventually(t, "the event api", func() bool {
		_, err := w.api.EventTypes(ctx, false)
		return err == nil
	})
	for _, typ := range []string{"order.created", "order.paid"} {
		if _, err := w.api.PutEventType(ctx, client.EventType{Name: typ, Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"ep_a", "ep_b", "ep_c"} {
		w.recv[id] = newEventReceiver(t)
		ep := client.Endpoint{ID: id, URL: w.recv[id].URL + "/hook/" + id,
			Headers: map[string]string{"Authorization": endpointAuth, "X-Api-Key": endpointKey, "X-Env": "prod"}}
		if _, err := w.api.PutEndpoint(ctx, ep, newSecret(t)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// TestDeliveryLog runs events of two types to three endpoints through a
// worker, ep_b down (each of its deliveries failing after the retry
// schedule), then failing once before it recovers, then up. The delivery
// log then lists exactly the attempts made, newest first, across pages and
// bounded by time; recover sends the failed events to ep_b once more and
// nothing else; and with the log's stream deleted every delivery is still
// made and every lost record counted.
func TestDeliveryLog(t *testing.T) {
	w := startLogWorld(t)
	begin := time.Now()
	types := []string{"order.created", "order.paid"}
	channels := []string{"", "eu"}
	perEndpoint := map[string][]want{}
	var mid time.Time
	for i := range 6 {
		id := fmt.Sprintf("evt_%d", i)
		switch i {
		case 0:
			w.recv["ep_b"].fail(-1) // down: every attempt fails
		case 3:
			w.recv["ep_b"].fail(1) // one failure, then up
			w.awaitLogged(t, 3*(1+3+1))
			mid = time.Now()
		}
		w.send(t, id, types[i%2], channels[i%2])
		for _, ep := range []string{"ep_a", "ep_b", "ep_c"} {
			j := id + ":" + ep
			switch {
			case ep == "ep_b" && i < 3:
				perEndpoint[ep] = append(perEndpoint[ep], want{j, 1, "retry", 503}, want{j, 2, "retry", 503}, want{j, 3, "failed", 503})
			case ep == "ep_b" && i == 3:
				perEndpoint[ep] = append(perEndpoint[ep], want{j, 1, "retry", 503}, want{j, 2, "delivered", 200})
			default:
				perEndpoint[ep] = append(perEndpoint[ep], want{j, 1, "delivered", 200})
			}
		}
	}
	total := 0
	for _, ws := range perEndpoint {
		total += len(ws)
	}
	w.awaitLogged(t, total)

	// Newest first: the expected records reversed, kept by keep.
	expect := func(ep string, keep func(want) bool) []want {
		var out []want
		for _, r := range slices.Backward(perEndpoint[ep]) {
			if keep == nil || keep(r) {
				out = append(out, r)
			}
		}
		return out
	}
	eventOf := func(r want) int {
		var n int
		fmt.Sscanf(r.job, "evt_%d", &n)
		return n
	}

	t.Run("listings", func(t *testing.T) {
		cases := []struct {
			name  string
			q     client.AttemptQuery
			ep    string
			keep  func(want) bool
			limit int
		}{
			{"ep_b, pages of 2", client.AttemptQuery{Endpoint: "ep_b"}, "ep_b", nil, 2},
			{"ep_b in one page", client.AttemptQuery{Endpoint: "ep_b"}, "ep_b", nil, 1000},
			{"ep_a", client.AttemptQuery{Endpoint: "ep_a"}, "ep_a", nil, 4},
			{"ep_b, order.paid", client.AttemptQuery{Endpoint: "ep_b", EventType: "order.paid"}, "ep_b",
				func(r want) bool { return eventOf(r)%2 == 1 }, 3},
			{"ep_c, channel eu", client.AttemptQuery{Endpoint: "ep_c", Channel: "eu"}, "ep_c",
				func(r want) bool { return eventOf(r)%2 == 1 }, 1},
			{"ep_b, failed", client.AttemptQuery{Endpoint: "ep_b", Outcome: "failed"}, "ep_b",
				func(r want) bool { return r.outcome == "failed" }, 2},
			{"ep_b, event evt_3", client.AttemptQuery{Endpoint: "ep_b", EventID: "evt_3"}, "ep_b",
				func(r want) bool { return eventOf(r) == 3 }, 1},
			{"ep_b, before the recovery", client.AttemptQuery{Endpoint: "ep_b", Before: mid}, "ep_b",
				func(r want) bool { return eventOf(r) < 3 }, 4},
			{"ep_b, after the recovery", client.AttemptQuery{Endpoint: "ep_b", After: mid}, "ep_b",
				func(r want) bool { return eventOf(r) >= 3 }, 2},
			{"ep_a, within the window", client.AttemptQuery{Endpoint: "ep_a", After: begin, Before: mid}, "ep_a",
				func(r want) bool { return eventOf(r) < 3 }, 2},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var gotRecs []want
				for _, a := range w.list(t, c.q, c.limit) {
					gotRecs = append(gotRecs, got(a))
				}
				if wantRecs := expect(c.ep, c.keep); !slices.Equal(gotRecs, wantRecs) {
					t.Errorf("listed\n%v\nwant\n%v", gotRecs, wantRecs)
				}
			})
		}
	})

	t.Run("every endpoint, across pages", func(t *testing.T) {
		all := w.list(t, client.AttemptQuery{}, 7)
		one := w.list(t, client.AttemptQuery{}, 1000)
		if len(all) != total || len(one) != total {
			t.Fatalf("listed %d in pages of 7 and %d in one page, want %d", len(all), len(one), total)
		}
		for i := range all {
			if got(all[i]) != got(one[i]) {
				t.Fatalf("record %d: %v in pages, %v in one page", i, got(all[i]), got(one[i]))
			}
		}
		for i := 1; i < len(all); i++ {
			if all[i].Timestamp.After(all[i-1].Timestamp.Add(time.Second)) {
				t.Errorf("record %d (%s) is newer than record %d (%s): not newest first", i, all[i].Timestamp, i-1, all[i-1].Timestamp)
			}
		}
		// Each endpoint's records, in the order listed, are its attempts
		// newest first.
		for ep := range perEndpoint {
			var sub []want
			for _, a := range all {
				if a.Endpoint == ep {
					sub = append(sub, got(a))
				}
			}
			if !slices.Equal(sub, expect(ep, nil)) {
				t.Errorf("%s: listed %v, want %v", ep, sub, expect(ep, nil))
			}
		}
		// By event type, across endpoints: every record of the type.
		paid := w.list(t, client.AttemptQuery{EventType: "order.paid"}, 5)
		n := 0
		for _, a := range all {
			if a.EventType == "order.paid" {
				n++
			}
		}
		if len(paid) != n || n == 0 {
			t.Errorf("order.paid: listed %d, want %d", len(paid), n)
		}
		for _, a := range paid {
			if a.EventType != "order.paid" {
				t.Errorf("order.paid listing holds %v of type %s", got(a), a.EventType)
			}
		}
	})

	t.Run("record content", func(t *testing.T) {
		recs := w.list(t, client.AttemptQuery{EventID: "evt_1", Endpoint: "ep_b"}, 10)
		if len(recs) != 3 {
			t.Fatalf("evt_1 to ep_b: %d records, want 3", len(recs))
		}
		first, last := recs[2], recs[0]
		if first.EventType != "order.paid" || first.Channel != "eu" || first.Endpoint != "ep_b" || first.EventID != "evt_1" {
			t.Errorf("record names %s %s %s %s", first.EventID, first.EventType, first.Channel, first.Endpoint)
		}
		if string(first.Payload) != string(payloadOf("evt_1")) {
			t.Errorf("payload %s, want %s", first.Payload, payloadOf("evt_1"))
		}
		if string(first.Response) != `"busy"` || last.Error == "" || !strings.Contains(first.URL, "/hook/ep_b") {
			t.Errorf("response %s, last error %q, url %q", first.Response, last.Error, first.URL)
		}
		h := first.RequestHeaders
		if h["webhook-id"] != "evt_1" || h["webhook-timestamp"] == "" || h["x-env"] != "prod" || h["content-type"] == "" {
			t.Errorf("request headers %v, want webhook-id, webhook-timestamp, x-env and content-type", h)
		}
		for _, name := range []string{"webhook-signature", "authorization", "x-api-key"} {
			if h[name] != "[redacted]" {
				t.Errorf("header %s = %q, want [redacted]", name, h[name])
			}
		}
		ok := w.list(t, client.AttemptQuery{EventID: "evt_0", Endpoint: "ep_a"}, 10)
		if len(ok) != 1 || string(ok[0].Response) != `{"ok":true}` || ok[0].Status != 200 {
			t.Errorf("evt_0 to ep_a: %+v, want one 200 with its JSON response", ok)
		}
		// No credential anywhere in the log.
		raw, err := json.Marshal(w.list(t, client.AttemptQuery{}, 1000))
		if err != nil {
			t.Fatal(err)
		}
		secrets := []string{endpointAuth, endpointKey, "4uth-s3cr3t"}
		for _, rc := range w.recv {
			secrets = append(secrets, rc.signatures()...)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(string(raw), s) {
				t.Errorf("the delivery log holds %q", s)
			}
		}
	})

	t.Run("recover", func(t *testing.T) {
		before := map[string]map[string]int{}
		for ep, rc := range w.recv {
			before[ep] = rc.requests()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		n, err := w.api.Recover(ctx, "ep_b", begin, time.Time{})
		if err != nil || n != 3 {
			t.Fatalf("recover ep_b: %d, %v; want the 3 failed events", n, err)
		}
		for _, r := range w.awaitResults(t, 3) {
			if r.Outcome != "delivered" || r.Endpoint == nil || *r.Endpoint != "ep_b" || r.Event.ID > "evt_2" {
				t.Errorf("recovered %s: %s to %v, want a failed event delivered to ep_b", r.ID, r.Outcome, r.Endpoint)
			}
		}
		for ep, rc := range w.recv {
			now := rc.requests()
			for i := range 6 {
				id := fmt.Sprintf("evt_%d", i)
				more := now[id] - before[ep][id]
				wantMore := 0
				if ep == "ep_b" && i < 3 {
					wantMore = 1
				}
				if more != wantMore {
					t.Errorf("%s got %s %d more times, want %d", ep, id, more, wantMore)
				}
			}
		}
		// The log holds the new deliveries, with the event's id.
		w.awaitLogged(t, total+3)
		recs := w.list(t, client.AttemptQuery{Endpoint: "ep_b", After: begin, Outcome: "delivered"}, 1000)
		replays := 0
		for _, a := range recs {
			if strings.Count(a.JobID, ":") == 2 {
				replays++
				if a.RequestHeaders["webhook-id"] != a.EventID || a.Attempt != 1 {
					t.Errorf("replay %s: webhook-id %q, attempt %d", a.JobID, a.RequestHeaders["webhook-id"], a.Attempt)
				}
			}
		}
		if replays != 3 {
			t.Errorf("%d replays in the log, want 3", replays)
		}
		total += 3
	})

	t.Run("stream deleted", func(t *testing.T) {
		recordedBefore := w.metric(t, "hookworker_attempts_recorded_total")
		lostBefore := w.metric(t, "hookworker_attempts_lost_total")
		if recordedBefore != float64(total) || lostBefore != 0 {
			t.Fatalf("before: %v recorded, %v lost; want %d, 0", recordedBefore, lostBefore, total)
		}
		_, js := bustest.Connect(t, w.nc.ConnectedUrl())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, "HOOKS_ATTEMPTS"); err != nil {
			t.Fatal(err)
		}
		const events = 10
		for i := range events {
			w.send(t, fmt.Sprintf("evt_gone_%d", i), types[i%2], "")
		}
		for ep, rc := range w.recv {
			reqs := rc.requests()
			for i := range events {
				if id := fmt.Sprintf("evt_gone_%d", i); reqs[id] != 1 {
					t.Errorf("%s got %s %d times, want once", ep, id, reqs[id])
				}
			}
		}
		w.eventually(t, "every record counted lost", func() bool {
			return w.metric(t, "hookworker_attempts_lost_total") == 3*events
		})
		if got := w.metric(t, "hookworker_attempts_recorded_total"); got != recordedBefore {
			t.Errorf("%v recorded after the stream was deleted, want %v still", got, recordedBefore)
		}
	})
}
