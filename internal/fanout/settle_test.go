package fanout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// settleMsg records what settle does with it; its acknowledgements fail
// with fail.
type settleMsg struct {
	jetstream.Msg
	fail  error
	verbs []string
}

func (m *settleMsg) Ack() error { m.verbs = append(m.verbs, "ack"); return m.fail }
func (m *settleMsg) DoubleAck(context.Context) error {
	m.verbs = append(m.verbs, "double-ack")
	return m.fail
}
func (m *settleMsg) NakWithDelay(time.Duration) error {
	m.verbs = append(m.verbs, "nak")
	return m.fail
}

// settleJS keeps the results published, or fails with fail.
type settleJS struct {
	jetstream.JetStream
	fail error
	msgs []*nats.Msg
}

func (js *settleJS) Conn() *nats.Conn { return nil }
func (js *settleJS) PublishMsg(_ context.Context, msg *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if js.fail != nil {
		return nil, js.fail
	}
	js.msgs = append(js.msgs, msg)
	return &jetstream.PubAck{}, nil
}

// Every disposition is applied in settle, and no error on the way is
// dropped: a failed acknowledgement or hand-back is logged.
func TestSettle(t *testing.T) {
	t.Parallel()
	ev := catalog.Event{ID: "evt_1", Type: "order.created"}
	invalid := &catalog.InvalidError{Field: "payload", Reason: "breaks the schema"}
	broken := errors.New("connection lost")
	tests := []struct {
		name      string
		disp      disposition
		ackErr    error
		publish   error
		verbs     []string
		results   int
		logged    []string // in the log, in order
		notLogged string
	}{
		{"fanned out", disposition{kind: fannedOut, ev: ev}, nil, nil, []string{"ack"}, 0, nil, "ack event"},
		{"fanned out, ack lost", disposition{kind: fannedOut, ev: ev}, broken, nil, []string{"ack"}, 0, []string{"ack event"}, ""},
		{"refused", disposition{kind: refused, ev: ev, err: invalid}, nil, nil, []string{"double-ack"}, 1, []string{"event rejected"}, "ack rejected event"},
		{"refused, double ack lost", disposition{kind: refused, ev: ev, err: invalid}, broken, nil, []string{"double-ack"}, 1,
			[]string{"event rejected", "ack rejected event"}, ""},
		{"refused, result not stored", disposition{kind: refused, ev: ev, err: invalid}, nil, broken, []string{"nak"}, 0,
			[]string{"publish rejected event result"}, "event rejected"},
		{"retry", handBack(ev, "event fan-out failed, retrying", broken), nil, nil, []string{"nak"}, 0, []string{"event fan-out failed, retrying"}, "hand event back"},
		{"retry, nak lost", handBack(ev, "event fan-out failed, retrying", broken), broken, nil, []string{"nak"}, 0,
			[]string{"event fan-out failed, retrying", "hand event back"}, ""},
		{"abandon", disposition{kind: abandon, ev: ev}, nil, nil, nil, 0, nil, "event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			js := &settleJS{fail: tt.publish}
			f := &Fanout{js: js, cfg: Config{ResultSubject: "hooks.result", Logger: slog.New(slog.NewTextHandler(&logs, nil))}}
			msg := &settleMsg{fail: tt.ackErr}
			f.settle(context.Background(), msg, tt.disp)
			if !slices.Equal(msg.verbs, tt.verbs) {
				t.Errorf("settled with %v, want %v", msg.verbs, tt.verbs)
			}
			if len(js.msgs) != tt.results {
				t.Fatalf("%d results published, want %d", len(js.msgs), tt.results)
			}
			if tt.results > 0 {
				var r job.Result
				m := js.msgs[0]
				if err := json.Unmarshal(m.Data, &r); err != nil || r.Outcome != job.Rejected || r.ID != ev.ID ||
					m.Header.Get(job.HeaderOutcome) != "rejected" || m.Header.Get(job.HeaderJobID) != ev.ID {
					t.Errorf("result %s (headers %v), want the event's rejected result", m.Data, m.Header)
				}
			}
			out := logs.String()
			at := 0
			for _, want := range tt.logged {
				i := strings.Index(out[at:], want)
				if i < 0 {
					t.Fatalf("log lacks %q after what came before:\n%s", want, out)
				}
				at += i + len(want)
			}
			if tt.notLogged != "" && strings.Contains(out, tt.notLogged) {
				t.Errorf("log holds %q:\n%s", tt.notLogged, out)
			}
		})
	}
}
