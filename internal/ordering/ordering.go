// Package ordering lets the jobs of an ordered endpoint start one at a
// time, in the order their events were stored, whichever worker holds
// them.
//
// # The mechanism
//
// The fan-out publishes an ordered endpoint's jobs on a subject of their
// own (bus.OrderedSubject: hooks.send.endpoint.<id>), in the order of their
// events: it publishes an event's ordered jobs only once every earlier
// event is fanned out. The job stream is a work queue, which keeps each
// subject's messages in the order they were stored and removes a job when
// it is acknowledged, that is once its result is stored. So the first job
// on an endpoint's subject is the one whose turn it is, and the stream
// itself is the gate: Turn reads that first job (one direct get) and lets
// its own job start only when it is the one. Nothing else holds the turn,
// so nothing has to be given back when a worker dies: the job it held
// stays first until it is delivered again (AckWait) and settled, and only
// its own endpoint waits meanwhile.
//
// A job that finds another ahead waits in the process, without a working
// token, while the endpoint's line moves: as soon as the job ahead reaches
// its terminal outcome (Finished; a notice tells the other workers over
// core NATS, and the job ahead is then passed over although its
// acknowledgement may still be on its way), or every poll interval. At
// most MaxWaiting jobs of one endpoint wait so in one process, and none
// longer than MaxWait: the others are deferred (a *BusyError, as pacers
// give), spaced out at the pace the endpoint's line moves, so that an
// endpoint with a long line or a head that keeps failing holds a few of a
// worker's slots, never all of them. A head deferred for a retry (Deferred)
// turns its line away until the retry is due.
//
// What JetStream offers and why it is not enough alone: a consumer's
// MaxAckPending of 1 would order one endpoint, but needs a consumer per
// ordered endpoint that every worker pulls from; priority groups' pinned
// client pins a whole consumer to one worker, not one endpoint, and dies
// with it until the pin's TTL; per-message TTLs expire messages, they do
// not sequence them. Per-subject order in a work-queue stream is what this
// package builds on.
package ordering

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
)

// Stream reads the job stream; jetstream.Stream satisfies it.
type Stream interface {
	GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error)
}

// Defaults applied to zero Config fields.
const (
	// DefaultMaxWait is how long a job waits in the process for its turn.
	DefaultMaxWait = time.Second
	// DefaultMaxWaiting is how many jobs of one endpoint wait so at once.
	DefaultMaxWaiting = 4
	// DefaultPoll is the first interval at which a waiting job reads its
	// endpoint's first job again; it doubles up to maxPoll.
	DefaultPoll = 2 * time.Millisecond
)

// maxPoll caps the poll interval.
const maxPoll = 100 * time.Millisecond

// defaultPace is how fast an endpoint's line is taken to move until it
// was seen to.
const defaultPace = 20 * time.Millisecond

// keepFinished is how long the jobs known finished are remembered: longer
// than a job takes from its result to its acknowledgement.
const keepFinished = 5 * time.Minute

// skipFinished bounds the finished jobs passed over by one read of an
// endpoint's line.
const skipFinished = 8

// Config configures a Gate. Stream and EndpointSubject are required.
type Config struct {
	// Stream is the job stream.
	Stream Stream
	// EndpointSubject is the subject of the jobs the fan-out makes
	// (bus.EndpointSubject: hooks.send.endpoint).
	EndpointSubject string
	// Conn, when set, carries the notices between workers; without it a
	// worker learns of other workers' jobs by polling only.
	Conn *nats.Conn
	// MaxWait is the longest a job waits in the process for its turn.
	// Defaults to 1s.
	MaxWait time.Duration
	// MaxWaiting is how many jobs of one endpoint may wait in the process
	// at once. Defaults to 4.
	MaxWaiting int
	// Poll is the first interval at which a waiting job looks again.
	// Defaults to 2ms.
	Poll time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Gate tells the jobs of ordered endpoints when their turn is. One Gate is
// meant to be shared by every delivery of a process; it is safe for
// concurrent use.
type Gate struct {
	cfg Config
	sub *nats.Subscription

	mu        sync.Mutex
	lines     map[string]*line
	lastSweep time.Time
}

// line is what the process knows of one ordered endpoint.
type line struct {
	waiting int
	// news is closed (and replaced) when a job of the endpoint finished or
	// was deferred.
	news chan struct{}
	// finished holds the jobs known to have reached their terminal
	// outcome, with when.
	finished map[string]time.Time
	// deferred is the job last known deferred, until when.
	deferred      string
	deferredUntil time.Time
	// pace is how long the line takes to move by one job (a moving
	// average); moved is when it last did.
	pace  time.Duration
	moved time.Time
	// told is the latest time a BusyError told a job to come back.
	told time.Time
}

// BusyError is what Turn returns when a job's turn is not near: the job is
// to be deferred by RetryIn and offered again.
type BusyError struct {
	// Wait is when to ask again, from the moment Turn returned.
	Wait time.Duration
	// Reason says why.
	Reason string
}

// Error says why and how long.
func (e *BusyError) Error() string {
	return "ordered endpoint: " + e.Reason + "; next look in " + e.Wait.Round(time.Millisecond).String()
}

// RetryIn returns Wait.
func (e *BusyError) RetryIn() time.Duration { return e.Wait }

// New returns the Gate of cfg, its defaults applied, listening for the
// other workers' notices when cfg.Conn is set. Close stops listening.
func New(cfg Config) (*Gate, error) {
	if cfg.Stream == nil || cfg.EndpointSubject == "" {
		return nil, errors.New("ordering: a stream and the endpoint subject are required")
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gate{cfg: cfg, lines: map[string]*line{}, lastSweep: cfg.Now()}
	if cfg.Conn != nil {
		sub, err := cfg.Conn.Subscribe(bus.OrderNotices+".*", g.notice)
		if err != nil {
			return nil, fmt.Errorf("ordering: listen for notices: %w", err)
		}
		g.sub = sub
	}
	return g, nil
}

// Close stops listening for notices.
func (g *Gate) Close() {
	if g.sub != nil {
		_ = g.sub.Unsubscribe()
	}
}

// Turn waits until job is the first of ordered endpoint's jobs that has
// not reached its terminal outcome, and returns nil: every job of the
// endpoint stored before it is over. It returns a *BusyError when the turn
// is not near (too many of the endpoint's jobs wait in the process, the
// job ahead is deferred, or it waited MaxWait), ctx's error when ctx ends,
// and an error when the stream cannot be read.
func (g *Gate) Turn(ctx context.Context, endpoint, job string) error {
	start := g.cfg.Now()
	g.mu.Lock()
	l := g.line(endpoint, start)
	g.mu.Unlock()
	// The job whose turn it is goes at once, however many wait: those
	// waiting may be jobs further back, handed back and taken again before
	// it.
	head, err := g.head(ctx, endpoint, l)
	if err != nil || head == "" || head == job {
		return err
	}
	g.mu.Lock()
	if l.waiting >= g.cfg.MaxWaiting {
		busy := g.busy(l, start, "other jobs of the endpoint wait for their turn")
		g.mu.Unlock()
		return busy
	}
	l.waiting++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		l.waiting--
		g.mu.Unlock()
	}()
	poll := g.cfg.Poll
	for {
		now := g.cfg.Now()
		g.mu.Lock()
		news := l.news
		if l.deferred == head && l.deferredUntil.Sub(now) > g.cfg.MaxWait-now.Sub(start) {
			busy := g.busy(l, now, "the job ahead is deferred")
			g.mu.Unlock()
			return busy
		}
		if now.Sub(start) >= g.cfg.MaxWait {
			busy := g.busy(l, now, "the job ahead is not over")
			g.mu.Unlock()
			return busy
		}
		g.mu.Unlock()
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-news:
		case <-t.C:
		}
		t.Stop()
		poll = min(2*poll, maxPoll)
		if head, err = g.head(ctx, endpoint, l); err != nil || head == "" || head == job {
			return err
		}
	}
}

// head returns the id of endpoint's first job in the stream that is not
// known finished; "" when there is none.
func (g *Gate) head(ctx context.Context, endpoint string, l *line) (string, error) {
	subject := bus.OrderedSubject(g.cfg.EndpointSubject, endpoint)
	seq := uint64(1)
	for range skipFinished {
		m, err := g.cfg.Stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read the line of ordered endpoint %s: %w", endpoint, err)
		}
		id := m.Header.Get(nats.MsgIdHdr)
		g.mu.Lock()
		_, over := l.finished[id]
		g.mu.Unlock()
		if !over {
			return id, nil
		}
		seq = m.Sequence + 1
	}
	return "", &BusyError{Wait: g.cfg.MaxWait, Reason: "the jobs ahead are over but still stored"}
}

// busy returns the BusyError of a job turned away from l at now: told to
// come back one pace after the job told last, but within MaxWait (the
// same jobs are turned away again and again while the line is long: their
// waits must not add up), and not before a deferred job ahead is due.
// g.mu is held.
func (g *Gate) busy(l *line, now time.Time, reason string) *BusyError {
	pace := l.pace
	if pace <= 0 {
		pace = defaultPace
	}
	at := later(l.told.Add(pace), now.Add(pace))
	if limit := now.Add(g.cfg.MaxWait); at.After(limit) {
		at = now.Add(pace)
	}
	l.told = at
	if l.deferred != "" {
		at = later(at, l.deferredUntil)
	}
	return &BusyError{Wait: at.Sub(now), Reason: reason}
}

// Finished tells the gate, and the other workers, that job of endpoint
// reached its terminal outcome: the job after it may start.
func (g *Gate) Finished(endpoint, job string) {
	g.finished(endpoint, job, g.cfg.Now())
	g.publish(endpoint, job)
}

// Deferred tells the gate, and the other workers, that job of endpoint was
// deferred by d: the jobs after it need not look before then.
func (g *Gate) Deferred(endpoint, job string, d time.Duration) {
	until := g.cfg.Now().Add(d)
	g.deferred(endpoint, job, until)
	g.publish(endpoint, job+" "+strconv.FormatInt(until.UnixNano(), 10))
}

// publish sends a notice about endpoint to the other workers.
func (g *Gate) publish(endpoint, notice string) {
	if g.cfg.Conn == nil {
		return
	}
	// A notice lost is a poll later: nothing waits on its error.
	_ = g.cfg.Conn.Publish(bus.OrderNotices+"."+endpoint, []byte(notice))
}

// notice takes a notice from a worker (this one's too).
func (g *Gate) notice(m *nats.Msg) {
	endpoint := strings.TrimPrefix(m.Subject, bus.OrderNotices+".")
	job, until, deferred := strings.Cut(string(m.Data), " ")
	if !deferred {
		g.finished(endpoint, job, g.cfg.Now())
		return
	}
	ns, err := strconv.ParseInt(until, 10, 64)
	if err != nil {
		return
	}
	g.deferred(endpoint, job, time.Unix(0, ns))
}

func (g *Gate) finished(endpoint, job string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.line(endpoint, now)
	if _, ok := l.finished[job]; ok {
		return
	}
	l.finished[job] = now
	if !l.moved.IsZero() {
		step := min(now.Sub(l.moved), time.Second)
		if l.pace == 0 {
			l.pace = step
		} else {
			l.pace += (step - l.pace) / 8
		}
	}
	l.moved = now
	if l.deferred == job {
		l.deferred, l.deferredUntil = "", time.Time{}
	}
	l.tell()
}

func (g *Gate) deferred(endpoint, job string, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.line(endpoint, g.cfg.Now())
	l.deferred, l.deferredUntil = job, until
	l.tell()
}

// tell wakes the jobs waiting in l. g.mu is held.
func (l *line) tell() {
	close(l.news)
	l.news = make(chan struct{})
}

// line returns the line of endpoint, made when missing. g.mu is held.
func (g *Gate) line(endpoint string, now time.Time) *line {
	if now.Sub(g.lastSweep) >= time.Minute {
		g.sweep(now)
	}
	l := g.lines[endpoint]
	if l == nil {
		l = &line{news: make(chan struct{}), finished: map[string]time.Time{}}
		g.lines[endpoint] = l
	}
	return l
}

// sweep forgets the finished jobs older than keepFinished, and the lines
// that know nothing worth keeping. g.mu is held.
func (g *Gate) sweep(now time.Time) {
	g.lastSweep = now
	for endpoint, l := range g.lines {
		for job, at := range l.finished {
			if now.Sub(at) >= keepFinished {
				delete(l.finished, job)
			}
		}
		if l.waiting == 0 && len(l.finished) == 0 && !l.told.After(now) && !l.deferredUntil.After(now) {
			delete(g.lines, endpoint)
		}
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
