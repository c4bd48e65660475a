package attempt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Mode says which attempts a Recorder records.
type Mode string

// Modes, the values of HOOKWORKER_ATTEMPT_LOG.
const (
	// Events records the attempts of event jobs (the default).
	Events Mode = "events"
	// All records every attempt, plain jobs' too.
	All Mode = "all"
	// Off records nothing.
	Off Mode = "off"
)

// ParseMode returns the mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Events, All, Off:
		return m, nil
	}
	return "", fmt.Errorf("attempt log must be events, all or off, got %q", s)
}

// DefaultMaxPending is how many records may wait for their store's
// acknowledgement before more are dropped.
const DefaultMaxPending = 4096

// headerRoom is what a record leaves of the server's max payload for the
// message's subject and headers.
const headerRoom = 1024

// RecorderConfig is what a Recorder is built from.
type RecorderConfig struct {
	// Mode says which attempts are recorded; empty means Events.
	Mode Mode
	// MaxPending bounds the records waiting for their acknowledgement;
	// 0 means DefaultMaxPending. Past it, records are dropped and counted.
	MaxPending int
	// AckTimeout is how long a record waits for its acknowledgement before
	// it counts as lost; 0 means 5s.
	AckTimeout time.Duration
	// Registerer receives the recorder's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives a warning when records start being lost; nil
	// discards it.
	Logger *slog.Logger
}

// Recorder publishes attempt records asynchronously: Record never waits
// for the bus, never fails, and a record that cannot be stored (the stream
// is gone, too many are pending, the server refused it) is counted as lost.
// It is safe for concurrent use.
type Recorder struct {
	cfg    RecorderConfig
	nc     *nats.Conn
	js     jetstream.JetStream
	slots  chan struct{}
	closed atomic.Bool

	recorded, lost prometheus.Counter
	lostN          atomic.Uint64 // lost records, for the first-loss warning
	recordedN      atomic.Uint64
}

// NewRecorder returns a Recorder publishing on nc. Its metrics are
// hookworker_attempts_recorded_total and hookworker_attempts_lost_total.
func NewRecorder(nc *nats.Conn, cfg RecorderConfig) (*Recorder, error) {
	if cfg.Mode == "" {
		cfg.Mode = Events
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, err
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{
		cfg: cfg, nc: nc, slots: make(chan struct{}, cfg.MaxPending),
		recorded: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hookworker", Name: "attempts_recorded_total",
			Help: "HTTP attempts stored in the delivery log.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hookworker", Name: "attempts_lost_total",
			Help: "HTTP attempt records that could not be stored in the delivery log.",
		}),
	}
	js, err := jetstream.New(nc,
		// Never stall: the slots bound what is pending below this.
		jetstream.WithPublishAsyncMaxPending(2*cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout),
		jetstream.WithPublishAsyncAckHandler(r.acked),
		jetstream.WithPublishAsyncErrHandler(r.failed),
	)
	if err != nil {
		return nil, fmt.Errorf("attempt recorder: %w", err)
	}
	r.js = js
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.recorded, r.lost} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("attempt recorder metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Mode returns the recorder's mode.
func (r *Recorder) Mode() Mode { return r.cfg.Mode }

// Wants reports whether the recorder records the attempts of a job of
// event eventID ("" for a plain job).
func (r *Recorder) Wants(eventID string) bool {
	switch r.cfg.Mode {
	case All:
		return true
	case Events:
		return eventID != ""
	}
	return false
}

// Record publishes the record of a, unless the mode leaves it out. It
// returns at once: when MaxPending records are already waiting, or the
// record cannot even be sent, it is dropped and counted as lost.
func (r *Recorder) Record(a Attempt) {
	if !r.Wants(a.EventID) || r.closed.Load() {
		return
	}
	max := int(r.nc.MaxPayload()) - headerRoom
	body, ok := Encode(a, max)
	if !ok {
		r.lose(errors.New("record larger than the server's max payload"))
		return
	}
	select {
	case r.slots <- struct{}{}:
	default:
		r.lose(errors.New("too many records pending"))
		return
	}
	msg := &nats.Msg{Subject: Subject(a.Endpoint, a.EventType), Data: body}
	if _, err := r.js.PublishMsgAsync(msg); err != nil {
		r.release()
		r.lose(err)
	}
}

// acked is called when a record is stored.
func (r *Recorder) acked(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) {
	r.recorded.Inc()
	r.recordedN.Add(1)
	r.release()
}

// failed is called when a record's publish fails.
func (r *Recorder) failed(_ jetstream.JetStream, _ *nats.Msg, err error) {
	r.lose(err)
	r.release()
}

func (r *Recorder) release() {
	<-r.slots
}

func (r *Recorder) lose(err error) {
	r.lost.Inc()
	if n := r.lostN.Add(1); n == 1 || n%10000 == 0 {
		r.cfg.Logger.Warn("attempt records lost", "lost", n, "error", err)
	}
}

// Flush waits until no record is pending (each is stored or lost), or ctx
// ends.
func (r *Recorder) Flush(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(r.slots) > 0 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops recording and waits as Flush does.
func (r *Recorder) Close(ctx context.Context) error {
	r.closed.Store(true)
	return r.Flush(ctx)
}

// Recorded returns how many records were stored.
func (r *Recorder) Recorded() uint64 { return r.recordedN.Load() }

// Lost returns how many records could not be stored.
func (r *Recorder) Lost() uint64 { return r.lostN.Load() }

// Observe records attempt a of job j: the worker's attempt seam
// (consumer.Options.OnAttempt). The event, the endpoint and the job id come
// from the job; the rest from the attempt, whose headers are those sent. It
// returns at once, as Record does.
func (r *Recorder) Observe(j *job.Job, a sender.Attempt) {
	var ev job.Event
	if j.Event != nil {
		ev = *j.Event
	}
	if !r.Wants(ev.ID) {
		return
	}
	r.Record(Attempt{
		JobID: j.ID, EventID: ev.ID, EventType: ev.Type, Channel: ev.Channel, Endpoint: j.Endpoint,
		URL: a.URL, Number: a.Number, Start: a.Start, Duration: a.Duration, RequestHeaders: a.Header,
		Status: a.Status, Response: a.Response, Error: a.Error, Outcome: outcomeOf(a.Outcome),
	})
}

// outcomeOf is the record's outcome of an attempt's.
func outcomeOf(o sender.AttemptOutcome) Outcome {
	switch o {
	case sender.AttemptDelivered:
		return Delivered
	case sender.AttemptFailed:
		return Failed
	}
	return Retry
}
