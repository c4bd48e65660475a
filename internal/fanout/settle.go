package fanout

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/catalog"
)

// retryDelay is how long an event whose fan-out failed waits before it is
// taken again.
const retryDelay = time.Second

// dispositionKind is what settle does with an event.
type dispositionKind int

// The kinds of disposition.
const (
	// fannedOut: every job is stored; the event is acknowledged.
	fannedOut dispositionKind = iota
	// refused: the event is invalid; its rejected result is published,
	// then the event is acknowledged for good (DoubleAck).
	refused
	// retry: the event is handed back, to come again after retryDelay.
	retry
	// abandon: the message is left alone, as if the process had died.
	abandon
)

// disposition is the one decision the fan-out of an event returns.
type disposition struct {
	kind dispositionKind
	// ev is the event, as far as it could be read.
	ev catalog.Event
	// err is why: the rejection's cause, or what failed.
	err error
	// why is the log message of a retry, logged at level.
	why   string
	level slog.Level
}

// handBack is the disposition of an event to come again after retryDelay.
func handBack(ev catalog.Event, why string, err error) disposition {
	return disposition{kind: retry, ev: ev, why: why, err: err, level: slog.LevelWarn}
}

// settle applies disp to msg: the only place an event is acknowledged or
// handed back, and where a refused event's result is published. Every
// error on the way is logged: a lost acknowledgement brings the event
// again, whose jobs and result the streams then drop as duplicates.
//
//   - fannedOut: a plain acknowledgement, not one the server confirms:
//     were it lost, the event would come again and be fanned out again,
//     and the job stream would drop every job as one it already holds. A
//     confirmed one would cost a round trip to the server per event for
//     nothing.
//   - refused: the rejected result is published, then the event is
//     acknowledged with confirmation (DoubleAck); a result that cannot be
//     published hands the event back instead.
//   - retry: NakWithDelay.
//   - abandon: nothing.
func (f *Fanout) settle(ctx context.Context, msg jetstream.Msg, disp disposition) {
	log, ev := f.cfg.Logger, disp.ev
	switch disp.kind {
	case fannedOut:
		if err := msg.Ack(); err != nil {
			log.Warn("ack event", "event_id", ev.ID, "error", err)
		}
	case refused:
		if err := f.reject(ctx, ev, disp.err); err != nil {
			back := handBack(ev, "publish rejected event result", err)
			back.level = slog.LevelError
			f.settle(ctx, msg, back)
			return
		}
		log.Info("event rejected", "event_id", ev.ID, "event_type", ev.Type, "error", disp.err)
		if err := msg.DoubleAck(ctx); err != nil {
			log.Warn("ack rejected event", "event_id", ev.ID, "error", err)
		}
	case retry:
		log.Log(ctx, disp.level, disp.why, "event_id", ev.ID, "error", disp.err)
		if err := msg.NakWithDelay(retryDelay); err != nil {
			log.Warn("hand event back", "event_id", ev.ID, "error", err)
		}
	case abandon:
	}
}
