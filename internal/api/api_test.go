package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
)

type env struct {
	nc     *nats.Conn
	client *client.Client
	events bus.EventsBound
}

// start runs the API on a fresh JetStream server and returns a client of
// it.
func start(t *testing.T) env {
	t.Helper()
	return startOn(t, bustest.Server(t).ClientURL())
}

// startOn runs the API on the JetStream server at url and returns a client
// of it.
func startOn(t *testing.T, url string) env {
	t.Helper()
	ctx, b, eb := catalogtest.StartOn(t, url)
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Conn: b.Conn()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := api.Start(b.Conn(), api.Config{Catalog: cat, JetStream: b.JetStream(), Events: eb.Events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	nc, _ := bustest.Connect(t, b.Conn().ConnectedUrl())
	return env{nc: nc, client: client.New(nc), events: eb}
}

const orderSchema = `{"type":"object","required":["id","amount"],"properties":{"id":{"type":"string"},"amount":{"type":"number"}}}`

func (e env) storedEvents(t *testing.T) uint64 {
	t.Helper()
	info, err := e.events.Events.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func apiError(t *testing.T, err error) *client.Error {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *client.Error", err)
	}
	return ce
}

func TestSendEvent(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.client.PutEventType(ctx, client.EventType{Name: "order.created", Schema: json.RawMessage(orderSchema)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PutEventType(ctx, client.EventType{Name: "order.old"}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteEventType(ctx, "order.old"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		ev       client.Event
		code     int
		field    string
		pointers []string
	}{
		{"breaks the schema", client.Event{Type: "order.created", Payload: json.RawMessage(`{"id":"o1","amount":"ten"}`)}, 400, "payload", []string{"/amount"}},
		{"no payload", client.Event{Type: "order.created"}, 400, "payload", nil},
		{"unknown type", client.Event{Type: "order.deleted", Payload: json.RawMessage(`{}`)}, 404, "", nil},
		{"archived type", client.Event{Type: "order.old", Payload: json.RawMessage(`{}`)}, 404, "", nil},
		{"bad type name", client.Event{Type: "order", Payload: json.RawMessage(`{}`)}, 400, "type", nil},
		{"bad id", client.Event{ID: "evt 1", Type: "order.created", Payload: json.RawMessage(`{"id":"o1","amount":1}`)}, 400, "id", nil},
		{"long id", client.Event{ID: strings.Repeat("e", 65), Type: "order.created", Payload: json.RawMessage(`{"id":"o1","amount":1}`)}, 400, "id", nil},
		{"bad channel", client.Event{Type: "order.created", Channel: "a b", Payload: json.RawMessage(`{"id":"o1","amount":1}`)}, 400, "channel", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.SendEvent(ctx, tt.ev)
			ce := apiError(t, err)
			if ce.Code != tt.code || ce.Field != tt.field {
				t.Fatalf("error %+v, want code %d field %q", ce, tt.code, tt.field)
			}
			if tt.code == 404 && !errors.Is(err, client.ErrNotFound) || tt.code == 400 && !errors.Is(err, client.ErrBadRequest) {
				t.Fatalf("errors.Is does not match code %d", tt.code)
			}
			var got []string
			for _, v := range ce.Violations {
				got = append(got, v.Pointer)
				if !strings.Contains(ce.Description, v.Pointer) {
					t.Errorf("description %q does not name %q", ce.Description, v.Pointer)
				}
			}
			if !slices.Equal(got, tt.pointers) {
				t.Fatalf("pointers %q, want %q", got, tt.pointers)
			}
		})
	}
	if n := e.storedEvents(t); n != 0 {
		t.Fatalf("refused events stored %d messages", n)
	}

	// The positive control, and a repeat that stores nothing new.
	ev := client.Event{ID: "evt_1", Type: "order.created", Payload: json.RawMessage(`{"id":"o1","amount":10}`)}
	first, err := e.client.SendEvent(ctx, ev)
	if err != nil || first.ID != "evt_1" || first.Timestamp.IsZero() || first.Endpoints != 0 {
		t.Fatalf("send = %+v, %v", first, err)
	}
	again, err := e.client.SendEvent(ctx, ev)
	if want := (client.Sent{ID: first.ID, Timestamp: first.Timestamp, Endpoints: first.Endpoints, Duplicate: true}); err != nil || again != want || first.Duplicate {
		t.Fatalf("repeat = %+v, %v, want %+v", again, err, want)
	}
	if n := e.storedEvents(t); n != 1 {
		t.Fatalf("stream holds %d events, want 1", n)
	}
	raw, err := e.events.Events.GetLastMsgForSubject(ctx, "hooks.event.order.created.evt_1")
	if err != nil || raw.Header.Get(nats.MsgIdHdr) != "evt_1" {
		t.Fatalf("stored event: %v", err)
	}
	generated, err := e.client.SendEvent(ctx, client.Event{Type: "order.created", Payload: json.RawMessage(`{"id":"o2","amount":1}`)})
	if err != nil || !strings.HasPrefix(generated.ID, "evt_") {
		t.Fatalf("generated id: %+v, %v", generated, err)
	}
}

// A repeat after the duplicate window is still caught by its subject.
func TestSendEventRepeatOutsideTheDuplicateWindow(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.client.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.SendEvent(ctx, client.Event{ID: "evt_1", Type: "order.created", Payload: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	// An event stored on evt_2's subject without a Nats-Msg-Id is what a
	// repeat past the duplicate window finds: the subject holds a message
	// the window no longer knows.
	m := nats.NewMsg("hooks.event.order.created.evt_2")
	m.Data = []byte(`{"id":"evt_2","type":"order.created","timestamp":"2026-01-01T00:00:00Z","payload":2}`)
	if _, err := e.nc.Request(m.Subject, m.Data, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	second, err := e.client.SendEvent(ctx, client.Event{ID: "evt_2", Type: "order.created", Payload: json.RawMessage(`3`)})
	if err != nil || !second.Timestamp.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !second.Duplicate {
		t.Fatalf("second = %+v, %v, want the stored copy, a duplicate", second, err)
	}
	if n := e.storedEvents(t); n != 2 {
		t.Fatalf("stream holds %d events, want 2", n)
	}
}

func TestEventTypes(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	for _, bad := range []client.EventType{
		{Name: "order"},
		{Name: "order.created!"},
		{Name: "order.created", Schema: json.RawMessage(`{"type":"nope"}`)},
		{Name: "order.created", Schema: json.RawMessage(`{"minimum":"x"}`)},
	} {
		_, err := e.client.PutEventType(ctx, bad)
		if !errors.Is(err, client.ErrBadRequest) {
			t.Fatalf("put %+v: err = %v, want 400", bad, err)
		}
	}
	if _, err := e.client.EventType(ctx, "order.created"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("refused put stored a type: %v", err)
	}
	for _, name := range []string{"b.two", "a.one"} {
		if _, err := e.client.PutEventType(ctx, client.EventType{Name: name, Description: "d", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.client.EventType(ctx, "a.one")
	if err != nil || got.Description != "d" || string(got.Schema) != `{"type":"object"}` || got.CreatedAt.IsZero() {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if err := e.client.DeleteEventType(ctx, "b.two"); err != nil {
		t.Fatal(err)
	}
	if err := e.client.DeleteEventType(ctx, "c.three"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	names := func(archived bool) []string {
		list, err := e.client.EventTypes(ctx, archived)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, t := range list {
			out = append(out, t.Name)
		}
		return out
	}
	if got := names(false); !slices.Equal(got, []string{"a.one"}) {
		t.Fatalf("list = %v", got)
	}
	if got := names(true); !slices.Equal(got, []string{"a.one", "b.two"}) {
		t.Fatalf("list with archived = %v", got)
	}
}

// secretRE finds a secret in a reply.
var secretRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{20,}`)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestEndpointsNeverShowSecretsButInSecret(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.client.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	// Watch every reply on the API's subjects.
	var replies []*nats.Msg
	inbox := nats.NewInbox()
	sub, err := e.nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	request := func(verb, body string) *nats.Msg {
		t.Helper()
		if err := e.nc.PublishRequest("hooks.api."+verb, inbox, []byte(body)); err != nil {
			t.Fatal(err)
		}
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", verb, err)
		}
		replies = append(replies, m)
		return m
	}
	request("endpoints.put", `{"id":"ep_1","url":"https://example.com/a","event_types":["order.created"],"secret":"`+secret+`"}`)
	request("endpoints.put", `{"url":"https://example.com/b"}`)
	request("endpoints.get", `{"id":"ep_1"}`)
	request("endpoints.list", `{}`)
	request("endpoints.rotate", `{"id":"ep_1"}`)
	request("endpoints.rotate", `{"id":"ep_1","secret":"whsec_short"}`)
	request("endpoints.put", `{"id":"ep_1","url":"ftp://x","secret":"`+secret+`"}`)
	request("events.send", `{"type":"order.created","payload":{}}`)
	for _, m := range replies {
		if secretRE.Match(m.Data) || secretRE.MatchString(m.Header.Get(micro.ErrorHeader)) {
			t.Fatalf("reply holds a secret: %s", m.Data)
		}
	}
	bad := replies[5]
	if bad.Header.Get(micro.ErrorCodeHeader) != "400" {
		t.Fatalf("bad rotation: code %q", bad.Header.Get(micro.ErrorCodeHeader))
	}
	got := request("endpoints.secret", `{"id":"ep_1"}`)
	var s struct{ Secret string }
	if err := json.Unmarshal(got.Data, &s); err != nil || !strings.HasPrefix(s.Secret, "whsec_") || s.Secret == secret {
		t.Fatalf("secret after rotation: %v", err)
	}
	if _, err := e.client.Secret(ctx, "ep_404"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("secret of unknown endpoint: %v", err)
	}
	if err := e.client.DeleteEndpoint(ctx, "ep_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Endpoint(ctx, "ep_1"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("deleted endpoint: %v", err)
	}
}

func TestEndpointValidationAndListing(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.client.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name  string
		ep    client.Endpoint
		field string
	}{
		{"bad id", client.Endpoint{ID: "ep/1", URL: "https://example.com/"}, "id"},
		{"no url", client.Endpoint{ID: "ep_1"}, "url"},
		{"loopback", client.Endpoint{URL: "http://127.0.0.1/"}, "url"},
		{"unknown type", client.Endpoint{URL: "https://example.com/", EventTypes: []string{"order.gone"}}, "event_types"},
		{"reserved header", client.Endpoint{URL: "https://example.com/", Headers: map[string]string{"Content-Type": "x"}}, "headers"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.PutEndpoint(ctx, tt.ep, "")
			if ce := apiError(t, err); ce.Code != 400 || ce.Field != tt.field {
				t.Fatalf("error %+v, want 400 on %s", ce, tt.field)
			}
		})
	}
	for i, ch := range []string{"", "eu", "us", "eu"} {
		ep := client.Endpoint{ID: "ep_" + string(rune('a'+i)), URL: "https://example.com/" + string(rune('a'+i))}
		if ch != "" {
			ep.Channels = []string{ch}
		}
		if _, err := e.client.PutEndpoint(ctx, ep, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct creation times order the listing
	}
	var got []string
	for ep, err := range e.client.AllEndpoints(ctx, client.EndpointQuery{Channel: "eu", Order: "asc", Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ep.ID)
	}
	if !slices.Equal(got, []string{"ep_a", "ep_b", "ep_d"}) {
		t.Fatalf("listing eu one a page: %v", got)
	}
	page, err := e.client.Endpoints(ctx, client.EndpointQuery{})
	if err != nil || len(page.Endpoints) != 4 || page.Endpoints[0].ID != "ep_d" || !page.Done {
		t.Fatalf("default listing: %+v, %v", page, err)
	}
	if _, err := e.client.Endpoints(ctx, client.EndpointQuery{Limit: 5000}); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("limit 5000: %v", err)
	}
	if _, err := e.client.Endpoints(ctx, client.EndpointQuery{Iterator: "garbage"}); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("bad iterator: %v", err)
	}
	sent, err := e.client.SendEvent(ctx, client.Event{Type: "order.created", Channel: "eu", Payload: json.RawMessage(`{}`)})
	if err != nil || sent.Endpoints != 3 {
		t.Fatalf("send on eu: %+v, %v, want 3 endpoints", sent, err)
	}
}

func TestMicroServiceInfo(t *testing.T) {
	e := start(t)
	m, err := e.nc.Request("$SRV.INFO.hookworker", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, ep := range info.Endpoints {
		subjects = append(subjects, ep.Subject)
	}
	for _, want := range []string{"hooks.api.event_types.put", "hooks.api.endpoints.secret", "hooks.api.events.send"} {
		if !slices.Contains(subjects, want) {
			t.Errorf("service info lacks %s: %v", want, subjects)
		}
	}
}

func TestRequestsThatAreNotJSON(t *testing.T) {
	e := start(t)
	tests := []struct{ subject, body string }{
		{"hooks.api.events.send", `{"type":"order.created","payload":`},
		{"hooks.api.events.send", `{"type":"order.created","payload":{},"paylod":1}`},
		{"hooks.api.endpoints.put", `[1]`},
	}
	for _, tt := range tests {
		m, err := e.nc.Request(tt.subject, []byte(tt.body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code := m.Header.Get(micro.ErrorCodeHeader); code != "400" {
			t.Errorf("%s %s: code %q, want 400", tt.subject, tt.body, code)
		}
	}
}

func TestSendEventRefusesWhatCannotBeDelivered(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	if _, err := e.client.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, body string }{
		{"invalid UTF-8", "{\"type\":\"order.created\",\"payload\":\"\xff\xfe\"}"},
		{"too large for its jobs", `{"type":"order.created","payload":"` + strings.Repeat("x", int(e.nc.MaxPayload())-8<<10) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := e.nc.Request("hooks.api.events.send", []byte(tt.body), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if code := m.Header.Get(micro.ErrorCodeHeader); code != "400" || !strings.Contains(m.Header.Get(micro.ErrorHeader), "payload") {
				t.Fatalf("code %q, error %q", code, m.Header.Get(micro.ErrorHeader))
			}
		})
	}
	if n := e.storedEvents(t); n != 0 {
		t.Fatalf("%d events stored", n)
	}
	if _, err := e.client.SendEvent(ctx, client.Event{Type: "order.created", Payload: json.RawMessage(`"` + strings.Repeat("x", 1000) + `"`)}); err != nil {
		t.Fatalf("a payload that fits: %v", err)
	}
}

// event_types.put of a schema nested 5,000 levels deep (50 KB) is answered
// at once with a 400 naming the schema, instead of compiling for minutes.
func TestPutEventTypeOfADeepSchemaIsAnswered(t *testing.T) {
	e := start(t)
	schema := strings.Repeat(`{"not":`, 5000) + `{}` + strings.Repeat(`}`, 5000)
	body, _ := json.Marshal(map[string]any{"name": "deep.sent", "schema": json.RawMessage(schema)})
	m, err := e.nc.Request("hooks.api.event_types.put", body, 10*time.Second)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	var reply struct{ Field string }
	_ = json.Unmarshal(m.Data, &reply)
	if code := m.Header.Get(micro.ErrorCodeHeader); code != "400" || reply.Field != "schema" {
		t.Fatalf("code %q field %q (%s), want 400 on schema", code, reply.Field, m.Header.Get(micro.ErrorHeader))
	}
}

// Sending an id again, with another payload or another type, stores
// nothing and replies with the first copy, saying it is a duplicate.
func TestSendEventRepeatSaysItIsADuplicate(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	for _, name := range []string{"order.created", "order.shipped"} {
		if _, err := e.client.PutEventType(ctx, client.EventType{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	send := func(body string) map[string]any {
		t.Helper()
		m, err := e.nc.Request("hooks.api.events.send", []byte(body), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code := m.Header.Get(micro.ErrorCodeHeader); code != "" {
			t.Fatalf("%s: error %s %s", body, code, m.Header.Get(micro.ErrorHeader))
		}
		var reply map[string]any
		if err := json.Unmarshal(m.Data, &reply); err != nil {
			t.Fatal(err)
		}
		return reply
	}
	first := send(`{"id":"evt_1","type":"order.created","payload":{"n":1}}`)
	if _, ok := first["duplicate"]; ok || first["id"] != "evt_1" {
		t.Fatalf("first send replied %v, want no duplicate", first)
	}
	for _, body := range []string{
		`{"id":"evt_1","type":"order.created","payload":{"n":1}}`,
		`{"id":"evt_1","type":"order.created","payload":{"n":2}}`,
		`{"id":"evt_1","type":"order.shipped","payload":{"n":1}}`,
		`{"id":"evt_1","type":"order.created","channel":"eu","payload":{"n":1}}`,
	} {
		again := send(body)
		if again["duplicate"] != true || again["id"] != "evt_1" || again["timestamp"] != first["timestamp"] {
			t.Errorf("%s replied %v, want the first copy %v marked a duplicate", body, again, first)
		}
	}
	if n := e.storedEvents(t); n != 1 {
		t.Fatalf("stream holds %d events, want 1", n)
	}
}
