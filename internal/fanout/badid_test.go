package fanout

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/syncbuf"
	"github.com/hookworker/hookworker/job"
)

// TestBadEventIDsAreRejected: an event published straight on the event
// subjects with an id (or a subject) the contract does not allow gets a
// rejected result that says what can be known of it (its type, and the
// stream sequence in place of its id), and makes no job; a valid event
// after them (the control) makes its job.
func TestBadEventIDsAreRejected(t *testing.T) {
	srv := bustest.Server(t)
	p := startProc(t, srv, 0)
	setupCatalog(t, p.cat, catalog.Endpoint{ID: "ep_a", URL: "https://a.example.com/hook"})
	nc, js := bustest.Connect(t, srv.ClientURL())
	results, err := nc.SubscribeSync("hooks.result")
	if err != nil {
		t.Fatal(err)
	}
	var logged syncbuf.Buffer
	p.fan.cfg.Logger = slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p.run(t)
	tests := []struct{ name, subject, wantType string }{
		{"bad character", "hooks.event.order.created.evt$1", "order.created"},
		{"id too long", "hooks.event.order.created." + strings.Repeat("a", 65), "order.created"},
		{"no id", "hooks.event.order", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := js.Publish(context.Background(), tt.subject, []byte(`{"payload":{"order":1}}`)); err != nil {
				t.Fatal(err)
			}
			m, err := results.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("no result: %v", err)
			}
			var r job.Result
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatal(err)
			}
			if r.Outcome != job.Rejected || !strings.HasPrefix(r.ID, "event-") || r.Event == nil || r.Event.ID != r.ID ||
				r.Event.Type != tt.wantType || !strings.Contains(r.Error, "hooks.event.<type>.<event id>") {
				t.Fatalf("result %s", m.Data)
			}
			// The line is written once the result is stored.
			line := `"msg":"event rejected","event_id":"` + r.ID + `"`
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logged.String(), line); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no info line %s in the log:\n%s", line, logged.String())
				}
			}
		})
	}
	if _, err := js.Publish(context.Background(), "hooks.event.order.created.evt_ok", []byte(`{"payload":{"order":1}}`)); err != nil {
		t.Fatal(err)
	}
	if got := jobs(t, js, 1); got[0].ID != "evt_ok:ep_a" {
		t.Fatalf("job %+v", got[0])
	}
}
