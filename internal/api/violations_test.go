package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/hookworker/hookworker/client"
)

// A payload whose large values break its schema gets a 400 that fits the
// server's max payload, on the default server and on one whose max payload
// is small: each violation names its pointer and its rule and quotes at
// most a short prefix of the value.
func TestViolationsOfLargeValuesFitTheReply(t *testing.T) {
	const schema = `{"type":"object","properties":{"s":{"type":"string","pattern":"^a+$"},` +
		`"n":{"type":"object","additionalProperties":{"type":"integer"}},` +
		`"x":{"type":"object","additionalProperties":false},"k":{"type":"object","propertyNames":{"maxLength":3}}}}`
	servers := []struct {
		name  string
		start func(*testing.T) env
		value int // bytes of each large value
	}{
		{"default max payload", start, 400 << 10},
		{"small max payload", startSmall, 8 << 10},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			e := srv.start(t)
			if _, err := e.client.PutEventType(t.Context(), client.EventType{Name: "order.created", Schema: json.RawMessage(schema)}); err != nil {
				t.Fatal(err)
			}
			big := strings.Repeat("b", srv.value)
			cases := []struct {
				name, payload, pointer, rule string
			}{
				{"pattern", `{"s":"` + big + `"}`, "/s", "^a+$"},
				{"long key", `{"n":{"` + big + `":"one"}}`, "/n/" + big[:16], "integer"},
				{"additional property", `{"x":{"` + big + `":1}}`, "/x", "additional"},
				{"property name", `{"k":{"` + big + `":1}}`, "", "maxLength"},
				{"every one at once", `{"s":"` + big[:srv.value/4] + `","n":{"` + big[:srv.value/4] +
					`":"one"},"x":{"` + big[:srv.value/4] + `":1},"k":{"` + big[:srv.value/4] + `":1}}`, "", ""},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					body, _ := json.Marshal(map[string]any{"type": "order.created", "payload": json.RawMessage(c.payload)})
					m, err := e.nc.Request("hooks.api.events.send", body, 5*time.Second)
					if err != nil {
						t.Fatalf("no reply: %v", err)
					}
					if size := int64(len(m.Data) + headerSize(m.Header)); size > e.nc.MaxPayload() {
						t.Fatalf("reply of %d bytes, more than the max payload %d", size, e.nc.MaxPayload())
					}
					var reply client.Error
					if err := json.Unmarshal(m.Data, &reply); err != nil {
						t.Fatal(err)
					}
					if code := m.Header.Get(micro.ErrorCodeHeader); code != "400" || reply.Field != "payload" || len(reply.Violations) == 0 {
						t.Fatalf("code %q, reply %.300s; want 400 on payload with violations", code, m.Data)
					}
					v := reply.Violations[0]
					if !strings.HasPrefix(v.Pointer, c.pointer) || !strings.Contains(v.Reason, c.rule) {
						t.Errorf("violation %.300q at %.100q, want at %.100q naming %q", v.Reason, v.Pointer, c.pointer, c.rule)
					}
					for _, v := range reply.Violations {
						if len(v.Reason) > 1024 || len(v.Pointer) > 1024 {
							t.Errorf("violation of %d bytes at a pointer of %d: %.200q", len(v.Reason), len(v.Pointer), v.Reason)
						}
					}
					if len(m.Header.Get(micro.ErrorHeader)) > 16<<10 {
						t.Errorf("error header of %d bytes", len(m.Header.Get(micro.ErrorHeader)))
					}
				})
			}
		})
	}
}

// A schema that breaks the metaschema in thousands of places gets a 400
// that fits the max payload and names the schema, on the default server
// and on one whose max payload is small.
func TestSchemaErrorsFitTheReply(t *testing.T) {
	for _, srv := range []struct {
		name  string
		start func(*testing.T) env
	}{
		{"default max payload", start},
		{"small max payload", startSmall},
	} {
		t.Run(srv.name, func(t *testing.T) {
			e := srv.start(t)
			var parts []string
			for n := 0; n < int(e.nc.MaxPayload())/2 && n < 60<<10; n += len(`{"pattern":"("},`) {
				parts = append(parts, `{"pattern":"("}`)
			}
			schema := `{"allOf":[` + strings.Join(parts, ",") + `]}`
			body, _ := json.Marshal(map[string]any{"name": "order.created", "schema": json.RawMessage(schema)})
			m, err := e.nc.Request("hooks.api.event_types.put", body, 10*time.Second)
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			if size := int64(len(m.Data) + headerSize(m.Header)); size > e.nc.MaxPayload() {
				t.Fatalf("reply of %d bytes, more than the max payload %d", size, e.nc.MaxPayload())
			}
			var reply client.Error
			_ = json.Unmarshal(m.Data, &reply)
			if code := m.Header.Get(micro.ErrorCodeHeader); code != "400" || reply.Field != "schema" || !strings.Contains(reply.Description, "regex") {
				t.Fatalf("code %q, reply %.300s; want 400 on schema saying what is wrong", code, m.Data)
			}
		})
	}
}
