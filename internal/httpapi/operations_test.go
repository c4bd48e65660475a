package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api/apitest"
)

// The attempt stream sends a tenant the new records of its own events
// only, beats while idle, and ends when the client goes.
func TestAttemptStream(t *testing.T) {
	w := start(t, options{})
	tokA := w.tenant(t, "acme")
	w.tenant(t, "globex")
	w.must(t, "PUT", "/event-types/order.created", operatorKey, map[string]any{"schema": json.RawMessage(orderSchema)}, nil)
	recA, recB := apitest.NewReceiver(t, ""), apitest.NewReceiver(t, "")
	var epA, epB client.Endpoint
	w.must(t, "POST", "/endpoints", tokA, map[string]any{"url": recA.URL}, &epA)
	w.must(t, "POST", "/endpoints", operatorKey, map[string]any{"url": recB.URL, "tenant": "globex"}, &epB)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", w.url+"/attempts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tokA)
	resp, err := w.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// globex's event first: acme must not see its record.
	w.must(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "globex", "payload": map[string]any{"id": "b"}}, nil)
	recB.Wait(t, 1)
	var sent client.Sent
	w.must(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "acme", "payload": map[string]any{"id": "a"}}, &sent)
	beats := 0
	deadline := time.After(15 * time.Second)
	for event := ""; ; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			switch {
			case line == ": heartbeat":
				beats++
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				var rec struct {
					EventID  string `json:"event_id"`
					Endpoint string `json:"endpoint"`
					Tenant   string `json:"tenant"`
					Outcome  string `json:"outcome"`
				}
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &rec); err != nil || event != "attempt" {
					t.Fatalf("event %q, data %s: %v", event, line, err)
				}
				if rec.Tenant != "acme" || rec.Endpoint != epA.ID {
					t.Fatalf("acme's stream sent %+v", rec)
				}
				if rec.EventID != sent.ID || rec.Outcome != "delivered" {
					t.Fatalf("record %+v", rec)
				}
				// Idle now: it beats.
				for beats < 2 {
					select {
					case line := <-lines:
						if line == ": heartbeat" {
							beats++
						} else if strings.HasPrefix(line, "data: ") {
							t.Fatalf("another record: %s", line)
						}
					case <-deadline:
						t.Fatal("no heartbeat")
					}
				}
				cancel()
				return
			}
		case <-deadline:
			t.Fatal("no record of acme's event")
		}
	}
}

// A test event carries the type's example to one endpoint alone, and the
// endpoint's stats count its deliveries.
func TestEndpointTestAndStats(t *testing.T) {
	w := start(t, options{})
	tok := w.tenant(t, "acme")
	w.must(t, "PUT", "/event-types/order.created", operatorKey, map[string]any{"description": "an order", "schema": json.RawMessage(orderSchema)}, nil)
	w.must(t, "PUT", "/event-types/order.paid", operatorKey, map[string]any{}, nil)
	rec, other := apitest.NewReceiver(t, ""), apitest.NewReceiver(t, "")
	var ep client.Endpoint
	w.must(t, "POST", "/endpoints", tok, map[string]any{"url": rec.URL, "event_types": []string{"order.paid"}}, &ep)
	w.must(t, "POST", "/endpoints", tok, map[string]any{"url": other.URL}, nil)

	var tested struct {
		EventID string `json:"event_id"`
		JobID   string `json:"job_id"`
	}
	// The type's filter does not hold a test back.
	w.must(t, "POST", "/endpoints/"+ep.ID+"/test", tok, map[string]any{"event_type": "order.created"}, &tested)
	d := rec.Wait(t, 1)
	var body struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(d.Body, &body); err != nil {
		t.Fatal(err)
	}
	if d.Header.Get("webhook-id") != tested.EventID || body.Type != "order.created" || string(body.Data) != `{"id":"example-order"}` {
		t.Fatalf("delivered %s %s", d.Header.Get("webhook-id"), d.Body)
	}
	w.must(t, "POST", "/endpoints/"+ep.ID+"/test", tok, map[string]any{"event_type": "order.paid"}, nil)
	if d := rec.Wait(t, 2); !strings.Contains(string(d.Body), `"data":{}`) {
		t.Fatalf("a type without examples: %s", d.Body)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(other.Deliveries()); n != 0 {
		t.Fatalf("the other endpoint received %d test events", n)
	}
	for _, c := range []struct {
		body map[string]any
		code int
	}{
		{map[string]any{}, http.StatusBadRequest},
		{map[string]any{"event_type": "order.nothing"}, http.StatusNotFound},
		{map[string]any{"event_type": "order.created", "payload": 1}, http.StatusBadRequest},
	} {
		r := w.callBad(t, "POST", "/endpoints/"+ep.ID+"/test", tok, c.body)
		if r.status != c.code {
			t.Errorf("test %v: %d %s", c.body, r.status, r.body)
		}
		r.errorReply(t)
	}

	var stats struct {
		Total struct{ Delivered, Retry, Failed int } `json:"total"`
		Hours []struct {
			Hour      time.Time `json:"hour"`
			Delivered int       `json:"delivered"`
		} `json:"hours"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.must(t, "GET", "/endpoints/"+ep.ID+"/stats", tok, nil, &stats)
		if stats.Total.Delivered == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if stats.Total.Delivered != 2 || stats.Total.Failed != 0 || len(stats.Hours) < 24 || len(stats.Hours) > 25 ||
		stats.Hours[len(stats.Hours)-1].Delivered != 2 {
		t.Fatalf("stats %+v", stats)
	}
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	w.must(t, "GET", "/endpoints/"+ep.ID+"/stats?since="+since, tok, nil, &stats)
	if stats.Total.Delivered != 2 || len(stats.Hours) < 1 || len(stats.Hours) > 2 {
		t.Fatalf("stats since a minute ago %+v", stats)
	}
	for _, q := range []string{"since=yesterday", "since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "until=x"} {
		r := w.callBad(t, "GET", "/endpoints/"+ep.ID+"/stats?"+q, tok, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("stats?%s: %d %s", q, r.status, r.body)
		}
		r.errorReply(t)
	}
}

// Errors are JSON with their status, whatever fails: an unknown route or
// method, a query or body the route does not take, a path and a body that
// disagree, a payload that breaks its schema.
func TestErrors(t *testing.T) {
	w := start(t, options{})
	w.must(t, "PUT", "/event-types/order.created", operatorKey, map[string]any{"schema": json.RawMessage(orderSchema)}, nil)
	for _, c := range []struct {
		method, path string
		body         any
		code         int
		field        string
	}{
		{"GET", "/nothing", nil, http.StatusNotFound, ""},
		{"POST", "/endpoints/ep_1/secret", nil, http.StatusMethodNotAllowed, ""},
		{"GET", "/endpoints?colour=red", nil, http.StatusBadRequest, "colour"},
		{"GET", "/endpoints?limit=ten", nil, http.StatusBadRequest, "limit"},
		{"GET", "/endpoints?limit=1&limit=2", nil, http.StatusBadRequest, "limit"},
		{"GET", "/event-types?include_archived=maybe", nil, http.StatusBadRequest, "include_archived"},
		{"PUT", "/event-types/order.created", map[string]any{"name": "order.paid"}, http.StatusBadRequest, "name"},
		{"PUT", "/event-types/order.created", map[string]any{"colour": "red"}, http.StatusBadRequest, "request"},
		{"POST", "/endpoints", "[1,2]", http.StatusBadRequest, "request"},
		{"POST", "/endpoints", `{"url":"http://example.com/"} {}`, http.StatusBadRequest, "request"},
		{"POST", "/endpoints", `{"url":`, http.StatusBadRequest, "request"},
		{"POST", "/endpoints", map[string]any{"url": "ftp://example.com/"}, http.StatusBadRequest, "url"},
		{"POST", "/events", map[string]any{"type": "order.created", "payload": map[string]any{"id": 1}}, http.StatusBadRequest, "payload"},
		{"GET", "/endpoints/ep_nobody", nil, http.StatusNotFound, ""},
		{"GET", "/attempts?outcome=lost", nil, http.StatusBadRequest, "outcome"},
	} {
		ctx := context.WithValue(context.Background(), badRequest{}, true)
		if c.code == http.StatusMethodNotAllowed || c.path == "/nothing" {
			ctx = context.WithValue(ctx, noRoute{}, true)
		}
		r := w.do(t, ctx, c.method, c.path, operatorKey, c.body, nil)
		e := r.errorReply(t)
		if r.status != c.code || e.Field != c.field {
			t.Errorf("%s %s: %d %s, want %d field %q", c.method, c.path, r.status, r.body, c.code, c.field)
		}
		if c.field == "payload" && (len(e.Violations) != 1 || e.Violations[0].Pointer != "/id") {
			t.Errorf("violations %+v", e.Violations)
		}
		if c.code == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
			t.Errorf("405 without Allow")
		}
	}
}
