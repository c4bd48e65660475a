package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
)

// clock is a settable clock for the tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// setup starts a JetStream server, ensures the event topology and returns a
// catalog over it, its connection and its clock.
func setup(t *testing.T) (*catalog.Catalog, *nats.Conn, *clock) {
	t.Helper()
	ctx, b, eb := catalogtest.Start(t)
	clk := &clock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	c, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants, Conn: b.Conn(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, b.Conn(), clk
}

const orderSchema = `{"type":"object","required":["id","amount"],"properties":{"id":{"type":"string"},"amount":{"type":"number","minimum":0}}}`

func putType(t *testing.T, c *catalog.Catalog, name, schema string) catalog.EventType {
	t.Helper()
	et, err := c.PutEventType(context.Background(), catalog.EventType{Name: name, Schema: json.RawMessage(schema)})
	if err != nil {
		t.Fatalf("put event type %s: %v", name, err)
	}
	return et
}

func field(err error) string {
	var ie *catalog.InvalidError
	if errors.As(err, &ie) {
		return ie.Field
	}
	return ""
}

func TestPutEventTypeRefusesBadNamesAndSchemas(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	tests := []struct {
		name, typ, schema, field string
	}{
		{"one token", "order", `{}`, "name"},
		{"empty token", "order..created", `{}`, "name"},
		{"bad character", "order.cre ated", `{}`, "name"},
		{"too long", "a." + strings.Repeat("b", 127), `{}`, "name"},
		{"schema not JSON", "order.created", `{"type":`, "schema"},
		{"schema unknown type", "order.created", `{"type":"integr"}`, "schema"},
		{"schema a string", "order.created", `"object"`, "schema"},
		{"schema with remote ref", "order.created", `{"$ref":"https://example.com/s.json"}`, "schema"},
		{"schema bad pattern", "order.created", `{"type":"string","pattern":"("}`, "schema"},
		{"fine", "order.created", orderSchema, ""},
		{"fine draft-07", "order.shipped", `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`, ""},
		{"fine without schema", "order.paid", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutEventType(ctx, catalog.EventType{Name: tt.typ, Schema: json.RawMessage(tt.schema)})
			if got := field(err); got != tt.field {
				t.Fatalf("error %v: field %q, want %q", err, got, tt.field)
			}
			if tt.field != "" {
				// The bad cases come before the fine ones: nothing is stored.
				if _, err := c.EventType(ctx, tt.typ); !errors.Is(err, catalog.ErrNotFound) && field(err) != "name" {
					t.Fatalf("a refused put stored something: %v", err)
				}
			}
		})
	}
	if _, err := c.EventType(ctx, "order.created"); err != nil {
		t.Fatal(err)
	}
}

func TestCheckEvent(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	putType(t, c, "order.created", orderSchema)
	putType(t, c, "order.old", `{}`)
	if err := c.ArchiveEventType(ctx, "order.old"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, typ, payload string
		notFound           bool
		pointers           []string
	}{
		{"valid", "order.created", `{"id":"o1","amount":3}`, false, nil},
		{"wrong type", "order.created", `{"id":"o1","amount":"3"}`, false, []string{"/amount"}},
		{"two violations", "order.created", `{"id":7,"amount":-1}`, false, []string{"/amount", "/id"}},
		{"missing", "order.created", `{"id":"o1"}`, false, []string{""}},
		{"not JSON", "order.created", `{"id":`, false, []string{}},
		{"unknown type", "order.deleted", `{}`, true, nil},
		{"archived type", "order.old", `{}`, true, nil},
	}
	for _, tt := range tests {
		for _, check := range []struct {
			name string
			fn   func(context.Context, string, json.RawMessage) error
		}{{"CheckEvent", c.CheckEvent}, {"CheckStoredEvent", c.CheckStoredEvent}} {
			t.Run(check.name+"/"+tt.name, func(t *testing.T) {
				err := check.fn(ctx, tt.typ, json.RawMessage(tt.payload))
				if tt.notFound {
					if !errors.Is(err, catalog.ErrNotFound) {
						t.Fatalf("err = %v, want ErrNotFound", err)
					}
					return
				}
				if tt.pointers == nil {
					if err != nil {
						t.Fatalf("err = %v", err)
					}
					return
				}
				var ie *catalog.InvalidError
				if !errors.As(err, &ie) || ie.Field != "payload" {
					t.Fatalf("err = %v, want an invalid payload", err)
				}
				var got []string
				for _, v := range ie.Violations {
					got = append(got, v.Pointer)
					if v.Reason == "" {
						t.Errorf("violation at %q has no reason", v.Pointer)
					}
				}
				if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(tt.pointers)) {
					t.Fatalf("pointers %q, want %q (%v)", got, tt.pointers, err)
				}
			})
		}
	}
}

// TestCheckStoredEventSeesChangesMadeElsewhere changes types through another
// catalog (another worker) and checks an event of each at once: a type
// created, restored or given a looser schema a moment before is seen, as
// CheckStoredEvent refuses only after reading the bucket again.
func TestCheckStoredEventSeesChangesMadeElsewhere(t *testing.T) {
	ctx, b, eb := catalogtest.Start(t)
	newCatalog := func() *catalog.Catalog {
		c, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Conn: b.Conn()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fanout, api := newCatalog(), newCatalog()
	for i := range 50 {
		name := fmt.Sprintf("order.n%d", i)
		putType(t, api, name, `{"type":"object","required":["id"]}`)
		if err := fanout.CheckStoredEvent(ctx, name, json.RawMessage(`{"id":"o1"}`)); err != nil {
			t.Fatalf("type created a moment before: %v", err)
		}
		putType(t, api, name, `{"type":"object"}`)
		if err := fanout.CheckStoredEvent(ctx, name, json.RawMessage(`{}`)); err != nil {
			t.Fatalf("schema loosened a moment before: %v", err)
		}
		if err := api.ArchiveEventType(ctx, name); err != nil {
			t.Fatal(err)
		}
		if err := fanout.CheckEvent(ctx, name, json.RawMessage(`{}`)); !errors.Is(err, catalog.ErrNotFound) {
			t.Fatalf("archived: CheckEvent err = %v, want ErrNotFound", err)
		}
		putType(t, api, name, `{"type":"object"}`)
		if err := fanout.CheckStoredEvent(ctx, name, json.RawMessage(`{}`)); err != nil {
			t.Fatalf("type restored a moment before: %v", err)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestCheckEventFollowsSchemaChanges(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	putType(t, c, "user.signed_up", `{"type":"object","required":["email"]}`)
	if err := c.CheckEvent(ctx, "user.signed_up", json.RawMessage(`{}`)); field(err) != "payload" {
		t.Fatalf("first schema: err = %v, want an invalid payload", err)
	}
	putType(t, c, "user.signed_up", `{"type":"object"}`)
	if err := c.CheckEvent(ctx, "user.signed_up", json.RawMessage(`{}`)); err != nil {
		t.Fatalf("second schema: err = %v", err)
	}
	if err := c.ArchiveEventType(ctx, "user.signed_up"); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckEvent(ctx, "user.signed_up", json.RawMessage(`{}`)); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("archived: err = %v", err)
	}
	putType(t, c, "user.signed_up", `{"type":"object"}`)
	if err := c.CheckEvent(ctx, "user.signed_up", json.RawMessage(`{}`)); err != nil {
		t.Fatalf("put again unarchives: err = %v", err)
	}
}

func TestViolationsAreCapped(t *testing.T) {
	c, _, _ := setup(t)
	putType(t, c, "list.sent", `{"type":"array","items":{"type":"string"}}`)
	err := c.CheckEvent(context.Background(), "list.sent", json.RawMessage(`[1,2,3,4,5,6,7,8,9,10,11,12]`))
	var ie *catalog.InvalidError
	if !errors.As(err, &ie) || len(ie.Violations) != catalog.MaxViolations {
		t.Fatalf("err = %v, want %d violations", err, catalog.MaxViolations)
	}
}

// A bucket whose last message is gone (its delete markers purged) still
// serves: the mirror stops waiting for a message that never comes.
func TestMirrorServesWhenTheLastMessageIsGone(t *testing.T) {
	ctx, _, eb := catalogtest.Start(t)
	first, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ep_keep", "ep_gone"} {
		if _, err := first.PutEndpoint(ctx, catalog.Endpoint{ID: id, URL: "https://example.com/" + id}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.DeleteEndpoint(ctx, "ep_gone"); err != nil {
		t.Fatal(err)
	}
	if err := eb.Endpoints.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(-1)); err != nil {
		t.Fatal(err)
	}
	second, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mcancel := context.WithTimeout(ctx, 10*time.Second)
	defer mcancel()
	got, err := second.Matching(mctx, "", "order.created", "")
	if err != nil || len(got) != 1 || got[0].ID != "ep_keep" {
		t.Fatalf("Matching = %+v, %v", got, err)
	}
}

// A schema whose references loop back to where they started without
// moving into the payload refuses every payload: put refuses it, naming
// the schema. A recursive schema that moves into the payload on each turn
// is fine.
func TestPutEventTypeRefusesRefCycles(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	tests := []struct{ name, schema string }{
		{"itself", `{"$ref":"#"}`},
		{"two definitions", `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`},
		{"through allOf", `{"$defs":{"a":{"allOf":[{"type":"object"},{"$ref":"#/$defs/a"}]}},"properties":{"x":{"$ref":"#/$defs/a"}}}`},
		{"through anyOf and not", `{"anyOf":[{"type":"string"},{"not":{"$ref":"#"}}]}`},
		{"through if", `{"if":{"$ref":"#"},"then":{}}`},
		{"draft-07 definitions", `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"a":{"$ref":"#/definitions/a"}},"properties":{"x":{"$ref":"#/definitions/a"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutEventType(ctx, catalog.EventType{Name: "tree.sent", Schema: json.RawMessage(tt.schema)})
			if field(err) != "schema" || !strings.Contains(err.Error(), "cycle") {
				t.Fatalf("err = %v, want a 400 on schema naming the cycle", err)
			}
			if _, err := c.EventType(ctx, "tree.sent"); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("a refused put stored something: %v", err)
			}
		})
	}
	// The positive control: a tree whose children are trees.
	putType(t, c, "tree.sent", `{"type":"object","required":["name"],"properties":{"name":{"type":"string"},`+
		`"children":{"type":"array","items":{"$ref":"#"}}}}`)
	if err := c.CheckEvent(ctx, "tree.sent", json.RawMessage(`{"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]}`)); err != nil {
		t.Fatalf("a tree: %v", err)
	}
	if err := c.CheckEvent(ctx, "tree.sent", json.RawMessage(`{"name":"a","children":[{"children":[]}]}`)); field(err) != "payload" {
		t.Fatalf("a tree with a nameless child: %v, want a violation", err)
	}
}

// A schema is bounded before it is compiled: nested too deep or too large,
// it is refused at once, naming the schema, and nothing is stored. One
// 5,000 levels deep used to hold a core for minutes.
func TestPutEventTypeBoundsTheSchema(t *testing.T) {
	// The documented limits.
	const maxDepth, maxBytes = 64, 64 << 10
	c, _, _ := setup(t)
	ctx := context.Background()
	nested := func(open, close string, n int) string {
		return strings.Repeat(open, n) + "{}" + strings.Repeat(close, n)
	}
	array := func(n int) string { return `{"const":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}` }
	large := func(n int) string { // n bytes, two levels deep
		return `{"enum":["` + strings.Repeat("x", n-len(`{"enum":[""]}`)) + `"]}`
	}
	tests := []struct {
		name, schema, says string
	}{
		{"5,000 levels of not", nested(`{"not":`, `}`, 5000), "deep"},
		{"65 levels of properties", nested(`{"properties":{"a":`, `}}`, 32), "deep"},
		{"65 levels of arrays in a const", array(maxDepth + 1), "deep"},
		{"a byte too large", large(maxBytes + 1), "bytes"},
		{"a megabyte", large(1 << 20), "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := c.PutEventType(ctx, catalog.EventType{Name: "deep.sent", Schema: json.RawMessage(tt.schema)})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("no answer within 30s")
			}
			if field(err) != "schema" || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %.300v, want a 400 on schema that says %q", err, tt.says)
			}
			if _, err := c.EventType(ctx, "deep.sent"); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("a refused put stored something: %v", err)
			}
		})
	}
	// The positive controls: at the limits.
	putType(t, c, "deep.sent", array(maxDepth))
	putType(t, c, "large.sent", large(maxBytes))
	if err := c.CheckEvent(ctx, "deep.sent", json.RawMessage(strings.Repeat("[", maxDepth-1)+strings.Repeat("]", maxDepth-1))); err != nil {
		t.Fatalf("an event of the deepest type: %v", err)
	}
}

// A type stored with a schema put now refuses (a $ref cycle, too deep)
// refuses its events as invalid, naming the type, at once and every time.
func TestCheckEventOfATypeStoredWithABadSchema(t *testing.T) {
	ctx, _, eb := catalogtest.Start(t)
	c, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints})
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]string{
		"cycle.sent": `{"$ref":"#"}`,
		"deep.sent":  strings.Repeat(`{"not":`, 5000) + `{}` + strings.Repeat(`}`, 5000),
	}
	for name, schema := range schemas {
		body, _ := json.Marshal(catalog.EventType{Name: name, Schema: json.RawMessage(schema)})
		if _, err := eb.Types.Put(ctx, name, body); err != nil {
			t.Fatal(err)
		}
	}
	for name := range schemas {
		for range 2 {
			if err := c.CheckEvent(ctx, name, json.RawMessage(`{}`)); field(err) != "type" || !strings.Contains(err.Error(), name) {
				t.Fatalf("event of %s: err = %.300v, want invalid naming the type", name, err)
			}
		}
	}
}
