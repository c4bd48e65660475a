package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hookworker/hookworker/job"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
)

// TestRejectedResultFitsMaxPayload rejects an event whose error is longer
// than the server's max payload allows (ten violations, each naming a
// long property of '<', six bytes once escaped): the rejected result is
// published, cut to fit, its error shortened and named in truncated,
// instead of never.
func TestRejectedResultFitsMaxPayload(t *testing.T) {
	const max = 4096
	opts := bustest.Options("127.0.0.1", -1, t.TempDir())
	opts.MaxPayload = max
	srv := bustest.Start(t, opts)
	p := startProc(t, srv, 0)
	if _, err := p.cat.PutEventType(context.Background(), catalog.EventType{Name: "order.created",
		Schema: json.RawMessage(`{"type":"object","properties":{"order":{}},"patternProperties":{"^<":{"type":"string"}},"additionalProperties":false}`)}); err != nil {
		t.Fatal(err)
	}
	nc, js := bustest.Connect(t, srv.ClientURL())
	results, err := nc.SubscribeSync("hooks.result")
	if err != nil {
		t.Fatal(err)
	}
	p.run(t)
	tests := []struct {
		name, id  string
		props     int
		truncated []string
	}{
		// The positive control: a short error is whole.
		{"short error", "evt_short", 1, nil},
		{"long error", "evt_long", 10, []string{"error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body strings.Builder // '<' as it is, not escaped
			body.WriteString(`{"payload":{"order":1`)
			for i := range tt.props {
				fmt.Fprintf(&body, `,"%s_%04d":%d`, strings.Repeat("<", 200), i, i)
			}
			body.WriteString(`}}`)
			if _, err := js.Publish(context.Background(), "hooks.event.order.created."+tt.id, []byte(body.String())); err != nil {
				t.Fatal(err)
			}
			m, err := results.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				ID, Outcome, Error string
				Truncated          []string
				Event              job.Event
			}
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatal(err)
			}
			if r.ID != tt.id || r.Outcome != "rejected" || r.Event.ID != tt.id || !strings.Contains(r.Error, "<<<<") {
				t.Errorf("result %s", m.Data)
			}
			if !slices.Equal(r.Truncated, tt.truncated) {
				t.Errorf("truncated = %q, want %q", r.Truncated, tt.truncated)
			}
			if n := len(m.Data) + len(m.Header.Get("Hook-Job-Id")); n > max {
				t.Errorf("result of %d bytes over %d", n, max)
			}
		})
	}
}
