package attempt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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

// outcomeHeaders are the headers of a record of an endpoint's attempt, one
// per outcome (see HeaderOutcome), made once and shared by the records:
// they are only read, as the records are published without options that
// would add to them.
var outcomeHeaders = map[Outcome]nats.Header{
	Delivered: {HeaderOutcome: {string(Delivered)}},
	Retry:     {HeaderOutcome: {string(Retry)}},
	Failed:    {HeaderOutcome: {string(Failed)}},
}

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

// Records are confirmed in groups: the server acknowledges the last record
// of a group, and the acknowledgement (or its failure) counts for every
// record of the group. The records before it are published without asking
// for one. A group ends after GroupSize records, or GroupWait after its
// first: its last record is held back until the next one comes or the wait
// ends, so that every group ends with a record that asks.
const (
	// GroupSize is the most records one acknowledgement confirms.
	GroupSize = 64
	// GroupWait is the longest a record is held back before it is
	// published as the last of its group.
	GroupWait = 5 * time.Millisecond
)

// Recorder publishes attempt records asynchronously: Record never waits
// for the bus, never fails, and a record that cannot be stored (the stream
// is gone, too many are pending, the server refused it) is counted as lost.
// It is safe for concurrent use.
//
// Each record asking the server for an acknowledgement would cost the
// server one more message to send and the worker one more to read, for
// every attempt: as much again as storing the record. So records are
// confirmed in groups (see GroupSize). The server stores the messages of
// one connection in order, so when the last record of a group is stored,
// so are the others, unless the stream appeared between them or refused
// one alone (a limit with the discard-new policy); a group whose last
// record is not stored is counted as lost whole.
type Recorder struct {
	cfg    RecorderConfig
	nc     *nats.Conn
	js     jetstream.JetStream
	slots  chan struct{}
	closed atomic.Bool

	// mu guards the group being published: held is its last record so
	// far, not yet published; sent counts its records published before
	// held; timer ends the group GroupWait after its first record.
	mu    sync.Mutex
	held  *nats.Msg
	sent  int
	armed bool
	timer *time.Timer
	// groups maps a group's last record, published, to the group's size.
	groupsMu sync.Mutex
	groups   map[*nats.Msg]int

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
		cfg: cfg, nc: nc, slots: make(chan struct{}, cfg.MaxPending), groups: map[*nats.Msg]int{},
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
	r.timer = time.AfterFunc(time.Hour, r.endGroup)
	r.timer.Stop()
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
		r.lose(1, errors.New("record larger than the server's max payload"))
		return
	}
	select {
	case r.slots <- struct{}{}:
	default:
		r.lose(1, errors.New("too many records pending"))
		return
	}
	msg := &nats.Msg{Subject: Subject(a.Endpoint, a.EventType), Data: body}
	if a.Endpoint != "" {
		msg.Header = outcomeHeaders[a.Outcome]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held != nil {
		// Not the group's last: published without asking for an
		// acknowledgement.
		if err := r.nc.PublishMsg(r.held); err != nil {
			r.release(1)
			r.lose(1, err)
		} else {
			r.sent++
		}
	}
	r.held = msg
	if r.sent+1 >= GroupSize {
		r.endGroupLocked()
		return
	}
	if !r.armed {
		r.armed = true
		r.timer.Reset(GroupWait)
	}
}

// endGroup publishes the record held back as the last of its group.
func (r *Recorder) endGroup() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
	r.endGroupLocked()
}

// endGroupLocked publishes the held record asking for the acknowledgement
// that confirms its group. r.mu is held.
func (r *Recorder) endGroupLocked() {
	if r.held == nil {
		return
	}
	msg, n := r.held, r.sent+1
	r.held, r.sent = nil, 0
	r.groupsMu.Lock()
	r.groups[msg] = n
	r.groupsMu.Unlock()
	if _, err := r.js.PublishMsgAsync(msg); err != nil {
		r.settle(msg)
		r.release(n)
		r.lose(n, err)
	}
}

// settle returns the size of the group msg ends, and forgets it.
func (r *Recorder) settle(msg *nats.Msg) int {
	r.groupsMu.Lock()
	defer r.groupsMu.Unlock()
	n, ok := r.groups[msg]
	if !ok {
		return 0
	}
	delete(r.groups, msg)
	return n
}

// acked is called when the last record of a group is stored.
func (r *Recorder) acked(_ jetstream.JetStream, msg *nats.Msg, _ *jetstream.PubAck) {
	n := r.settle(msg)
	r.recorded.Add(float64(n))
	r.recordedN.Add(uint64(n))
	r.release(n)
}

// failed is called when the publish of the last record of a group fails.
func (r *Recorder) failed(_ jetstream.JetStream, msg *nats.Msg, err error) {
	n := r.settle(msg)
	r.lose(n, err)
	r.release(n)
}

func (r *Recorder) release(n int) {
	for range n {
		<-r.slots
	}
}

func (r *Recorder) lose(n int, err error) {
	if n <= 0 {
		return
	}
	r.lost.Add(float64(n))
	after := r.lostN.Add(uint64(n))
	if before := after - uint64(n); before == 0 || before/10000 != after/10000 {
		r.cfg.Logger.Warn("attempt records lost", "lost", after, "error", err)
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

// Close stops recording, publishes the group in hand and waits as Flush
// does.
func (r *Recorder) Close(ctx context.Context) error {
	r.closed.Store(true)
	r.endGroup()
	return r.Flush(ctx)
}

// Recorded returns how many records were stored.
func (r *Recorder) Recorded() uint64 { return r.recordedN.Load() }

// Lost returns how many records could not be stored.
func (r *Recorder) Lost() uint64 { return r.lostN.Load() }

// Observe records attempt a of job j: the worker's attempt seam
// (consumer.Options.OnAttempt). The event, the endpoint, the tenant and the
// job id come from the job; the rest from the attempt, whose headers are those sent. It
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
		JobID: j.ID, EventID: ev.ID, EventType: ev.Type, Channel: ev.Channel, Test: ev.Test, Endpoint: j.Endpoint, Tenant: j.Tenant,
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
