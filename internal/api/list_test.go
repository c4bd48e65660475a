package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus/bustest"
)

// smallMaxPayload is the max payload of the server the listing tests run
// on: a few of their endpoints or types fill it.
const smallMaxPayload = 64 << 10

// startSmall runs the API on a fresh JetStream server whose max payload is
// smallMaxPayload and returns a client of it.
func startSmall(t *testing.T) env {
	t.Helper()
	opts := bustest.Options("127.0.0.1", -1, t.TempDir())
	opts.MaxPayload = smallMaxPayload
	e := startOn(t, bustest.Start(t, opts).ClientURL())
	if got := e.nc.MaxPayload(); got != smallMaxPayload {
		t.Fatalf("server max payload %d, want %d", got, smallMaxPayload)
	}
	e.client = client.New(e.nc, client.WithTimeout(5*time.Second))
	return e
}

// listPage is a page of either listing as it came on the wire.
type listPage struct {
	Endpoints  []struct{ ID string }   `json:"endpoints"`
	EventTypes []struct{ Name string } `json:"event_types"`
	Iterator   string                  `json:"iterator"`
	Done       *bool                   `json:"done"`
}

// pageThrough requests subject with req and the iterators it answers
// until a page is done, checks that each reply fits the server's max
// payload and returns what the pages named, in order, and how many pages
// there were.
func pageThrough(t *testing.T, nc *nats.Conn, subject string, req map[string]any) ([]string, int) {
	t.Helper()
	var names []string
	for pages := 1; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s: more than 100 pages", subject)
		}
		body, _ := json.Marshal(req)
		msg, err := nc.Request(subject, body, 5*time.Second)
		if err != nil {
			t.Fatalf("%s page %d: %v", subject, pages, err)
		}
		if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
			t.Fatalf("%s page %d: error %s %s", subject, pages, code, msg.Header.Get(micro.ErrorHeader))
		}
		if size := int64(len(msg.Data) + headerSize(msg.Header)); size > nc.MaxPayload() {
			t.Fatalf("%s page %d takes %d bytes, more than the max payload %d", subject, pages, size, nc.MaxPayload())
		}
		var p listPage
		if err := json.Unmarshal(msg.Data, &p); err != nil {
			t.Fatalf("%s page %d: %v", subject, pages, err)
		}
		if p.Done == nil {
			t.Fatalf("%s page %d has no done: %.200s", subject, pages, msg.Data)
		}
		n := len(names)
		for _, e := range p.Endpoints {
			names = append(names, e.ID)
		}
		for _, e := range p.EventTypes {
			names = append(names, e.Name)
		}
		if len(names) == n {
			t.Fatalf("%s page %d is empty", subject, pages)
		}
		if *p.Done {
			if p.Iterator != "" {
				t.Fatalf("%s: the last page has an iterator", subject)
			}
			return names, pages
		}
		req["iterator"] = p.Iterator
	}
}

// headerSize is how many bytes h takes on the wire.
func headerSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// TestListsFitMaxPayload fills a catalog with endpoints carrying large
// metadata and headers and with types of large schemas, many times the
// server's max payload, and lists them: every reply fits, and the pages
// give every endpoint and type once, in order, through the API and
// through the client.
func TestListsFitMaxPayload(t *testing.T) {
	e := startSmall(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ids, names []string
	for i := range 24 {
		id := fmt.Sprintf("ep_%02d", i)
		meta := fmt.Sprintf(`{"note":%q}`, strings.Repeat("m", 4000+1000*(i%9)))
		headers := map[string]string{"X-Tenant": strings.Repeat("h", 1000+100*i)}
		if _, err := e.client.PutEndpoint(ctx, client.Endpoint{ID: id, URL: "https://example.com/" + id,
			Metadata: json.RawMessage(meta), Headers: headers}, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		name := fmt.Sprintf("order.t%02d", i)
		schema := fmt.Sprintf(`{"type":"object","description":%q}`, strings.Repeat("s", 5000+1000*(i%7)))
		if _, err := e.client.PutEventType(ctx, client.EventType{Name: name, Schema: json.RawMessage(schema)}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := e.client.DeleteEventType(ctx, "order.t07"); err != nil {
		t.Fatal(err)
	}
	listed := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "order.t07" })
	newest := slices.Clone(ids)
	slices.Reverse(newest)

	tests := []struct {
		name    string
		subject string
		req     map[string]any
		want    []string
	}{
		{"endpoints, newest first", "hooks.api.endpoints.list", map[string]any{}, newest},
		{"endpoints, oldest first, limit 1000", "hooks.api.endpoints.list", map[string]any{"order": "asc", "limit": 1000}, ids},
		{"endpoints by 5", "hooks.api.endpoints.list", map[string]any{"order": "asc", "limit": 5}, ids},
		{"event types", "hooks.api.event_types.list", map[string]any{}, listed},
		{"event types with the archived", "hooks.api.event_types.list", map[string]any{"include_archived": true}, names},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages := pageThrough(t, e.nc, tt.subject, tt.req)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("pages gave %v, want %v", got, tt.want)
			}
			if pages < 3 {
				t.Fatalf("%d pages; the listing should take more than a reply holds", pages)
			}
		})
	}
	t.Run("client", func(t *testing.T) {
		var got []string
		for ep, err := range e.client.AllEndpoints(ctx, client.EndpointQuery{Order: "asc"}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ep.ID)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("AllEndpoints gave %v, want %v", got, ids)
		}
		types, err := e.client.EventTypes(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, et := range types {
			got = append(got, et.Name)
		}
		if !slices.Equal(got, listed) {
			t.Fatalf("EventTypes gave %v, want %v", got, listed)
		}
	})
}

// TestListItemsNearTheMaxPayload lists an endpoint and an event type each
// too large for a page that leaves room for headers, but not for the max
// payload: they are listed, on replies that fit.
func TestListItemsNearTheMaxPayload(t *testing.T) {
	e := startSmall(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	huge := strings.Repeat("x", smallMaxPayload-3000)
	for _, id := range []string{"ep_a", "ep_huge", "ep_z"} {
		ep := client.Endpoint{ID: id, URL: "https://example.com/" + id}
		if id == "ep_huge" {
			ep.Metadata = json.RawMessage(fmt.Sprintf(`{"note":%q}`, huge))
		}
		if _, err := e.client.PutEndpoint(ctx, ep, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"order.a", "order.huge", "order.z"} {
		et := client.EventType{Name: name}
		if name == "order.huge" {
			et.Schema = json.RawMessage(fmt.Sprintf(`{"description":%q}`, huge))
		}
		if _, err := e.client.PutEventType(ctx, et); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		subject string
		req     map[string]any
		want    []string
	}{
		{"hooks.api.endpoints.list", map[string]any{"order": "asc"}, []string{"ep_a", "ep_huge", "ep_z"}},
		{"hooks.api.event_types.list", map[string]any{}, []string{"order.a", "order.huge", "order.z"}},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			if got, _ := pageThrough(t, e.nc, tt.subject, tt.req); !slices.Equal(got, tt.want) {
				t.Fatalf("pages gave %v, want %v", got, tt.want)
			}
		})
	}
}

// TestListItemLargerThanAReply lists an event type as large as the server
// stores, with a long name and a type after it, so that no reply can hold
// it with the iterator past it: the types before it are listed, then the
// reply is an error naming it, which fits; the type can be read by itself.
func TestListItemLargerThanAReply(t *testing.T) {
	e := startSmall(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	long := "order." + strings.Repeat("h", 100)
	for _, name := range []string{"order.a", "order.z"} {
		if _, err := e.client.PutEventType(ctx, client.EventType{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	// The largest schema the server stores: a stored type is its reply's
	// JSON, so a page holding it has no room for the iterator.
	schema := func(n int) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"description":%q}`, strings.Repeat("x", n)))
	}
	lo, hi := 0, smallMaxPayload // lo is stored, hi is not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, err := e.client.PutEventType(ctx, client.EventType{Name: long, Schema: schema(mid)}); err != nil {
			hi = mid
		} else {
			lo = mid
		}
	}
	if lo < smallMaxPayload/2 {
		t.Fatalf("the server stores a schema of %d bytes only", lo)
	}
	// The stored type's two timestamps take 0 to 9 digits of fractional
	// seconds each: leave them room, still far too little for the page's
	// iterator.
	lo -= 2 * len(".000000000")
	if _, err := e.client.PutEventType(ctx, client.EventType{Name: long, Schema: schema(lo)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	var err error
	for et, e := range e.client.AllEventTypes(ctx, false) {
		if err = e; err != nil {
			break
		}
		got = append(got, et.Name)
	}
	if !slices.Equal(got, []string{"order.a"}) {
		t.Fatalf("listed %v before the error, want order.a", got)
	}
	ce := apiError(t, err)
	if want := fmt.Sprintf("event type %q", long); ce.Code != 500 || !strings.Contains(ce.Description, want) || !strings.Contains(ce.Description, "more than a page") {
		t.Fatalf("error %d %q, want 500 naming %s", ce.Code, ce.Description, want)
	}
	if et, err := e.client.EventType(ctx, long); err != nil || len(et.Schema) < lo {
		t.Fatalf("get it by itself: %d bytes of schema (%v)", len(et.Schema), err)
	}
}
