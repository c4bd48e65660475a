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
// A job that finds another ahead, with few jobs ahead of it, waits in the
// process without a working token while the endpoint's line moves. The
// first of the waiting jobs (by stream sequence) reads the line for them
// all: as soon as the job ahead reaches its terminal outcome (Finished; a
// notice tells the other workers over core NATS, and the job ahead is then
// passed over although its acknowledgement may still be on its way), and
// every poll interval; the others wait until they are first. A job that
// arrives reads the line once, unless one of the process's waiting jobs is
// ahead of it. At most MaxWaiting jobs of one endpoint
// wait so in one process, and none longer than MaxWait. The others are
// deferred (a *BusyError, as pacers give) until about when their turn
// should come: the jobs ahead of one (those the process has seen, by
// stream sequence, or the stream's count of the endpoint's jobs spread
// over the sequences before it, whichever is more), times how long a job
// holds the line. A job nearer its turn takes the place of the waiting one
// furthest back. So an endpoint with a long line holds a few of a worker's
// slots, never all of them, and its jobs come back about in turn, not all
// of them over and over; a head deferred for a retry (Deferred) turns its
// line away until the retry is due. Each job of a long line is still taken
// from the stream and handed back a few times: the cost of the line grows
// with its length (see docs/performance.md).
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
	"slices"
	"sort"
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
	Info(ctx context.Context, opts ...jetstream.StreamInfoOpt) (*jetstream.StreamInfo, error)
}

// Defaults applied to zero Config fields.
const (
	// DefaultMaxWait is how long a job waits in the process for its turn.
	DefaultMaxWait = time.Second
	// DefaultMaxWaiting is how many jobs of one endpoint wait so at once.
	DefaultMaxWaiting = 32
	// DefaultPoll is the first interval at which the first waiting job
	// reads its endpoint's first job again; it doubles up to maxPoll.
	DefaultPoll = 2 * time.Millisecond
)

// maxPoll caps the poll interval.
const maxPoll = 100 * time.Millisecond

// defaultPace is how long a job is taken to hold its endpoint's line
// until one was seen to.
const defaultPace = 10 * time.Millisecond

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
	// at once. Defaults to 32.
	MaxWaiting int
	// Poll is the first interval at which the first waiting job looks
	// again. Defaults to 2ms.
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
	// waiting holds the jobs waiting in the process for their turn.
	waiting []*waiter
	// news is closed (and replaced) when a job of the endpoint finished or
	// was deferred, and when the waiting job that reads the line leaves.
	news chan struct{}
	// finished holds the jobs known to have reached their terminal
	// outcome, with when.
	finished map[string]time.Time
	// deferred is the job last known deferred, until when.
	deferred      string
	deferredUntil time.Time
	// pace is how long a job holds the line from its turn to its outcome,
	// in this process (a moving average); granted holds when the jobs
	// whose turn came here got it.
	pace    time.Duration
	granted map[string]time.Time
	// queue holds the jobs of the endpoint the process has seen ask for
	// their turn and not finish, by stream sequence: a job's place in it
	// is how many jobs it knows to be ahead.
	queue []queued
	seqOf map[string]uint64
	// first and firstSeq are the first job on the endpoint's subject, as
	// last read: once it is finished, the line is read on from after it.
	first    string
	firstSeq uint64
	// est holds the stream's count of the endpoint's jobs and its last
	// sequence, as last read, and when (see Gate.estimate).
	est    lineCount
	estAt  time.Time
	estSet bool
}

// lineCount is the stream's count of an endpoint's jobs, and the stream's
// last sequence then.
type lineCount struct{ n, last uint64 }

// waiter is a job waiting in the process for its turn.
type waiter struct {
	seq uint64
	// evicted is closed when a job nearer its turn takes its place.
	evicted chan struct{}
}

// makeRoom reports whether a job of sequence seq may wait in l, with at
// most limit waiting: when they are as many, the one furthest back, if
// further back than seq, is evicted.
func (l *line) makeRoom(seq uint64, limit int) bool {
	if len(l.waiting) < limit {
		return true
	}
	last := 0
	for i, w := range l.waiting {
		if w.seq > l.waiting[last].seq {
			last = i
		}
	}
	if seq == 0 || l.waiting[last].seq <= seq {
		return false
	}
	close(l.waiting[last].evicted)
	l.waiting = slices.Delete(l.waiting, last, last+1)
	return true
}

// leaveWaiting takes w out of the jobs waiting in l, if it is still there.
// When w was the one reading the line for them (see reads), the others are
// told, so that the next one takes over.
func (l *line) leaveWaiting(w *waiter) {
	if i := slices.Index(l.waiting, w); i >= 0 {
		reading := l.reads(w)
		l.waiting = slices.Delete(l.waiting, i, i+1)
		if reading && len(l.waiting) > 0 {
			l.tell()
		}
	}
}

// reads reports whether w is the waiting job that reads the line: the
// first of those waiting, by stream sequence. The head of the line can be
// no job behind it, so the others wait without reading the line (a read
// each, whenever a job finished, would cost the server and the worker a
// request each for nothing). A job of unknown sequence reads the line.
func (l *line) reads(w *waiter) bool {
	if w.seq == 0 {
		return true
	}
	for _, o := range l.waiting {
		if o != w && o.seq != 0 && o.seq < w.seq {
			return false
		}
	}
	return true
}

// waitsBefore reports whether a job of sequence seq (0: not known) has a
// job of the process waiting ahead of it: it is not the head.
func (l *line) waitsBefore(seq uint64) bool {
	if seq == 0 {
		return false
	}
	for _, o := range l.waiting {
		if o.seq != 0 && o.seq < seq {
			return true
		}
	}
	return false
}

// queued is a job in a line's queue.
type queued struct {
	seq uint64
	job string
}

// enter puts job, of stream sequence seq (0: not known), in l's queue.
func (l *line) enter(job string, seq uint64) {
	if seq == 0 {
		return
	}
	if _, ok := l.seqOf[job]; ok {
		return
	}
	i := sort.Search(len(l.queue), func(i int) bool { return l.queue[i].seq >= seq })
	l.queue = slices.Insert(l.queue, i, queued{seq: seq, job: job})
	l.seqOf[job] = seq
}

// leave takes job out of l's queue.
func (l *line) leave(job string) {
	seq, ok := l.seqOf[job]
	if !ok {
		return
	}
	delete(l.seqOf, job)
	i := sort.Search(len(l.queue), func(i int) bool { return l.queue[i].seq >= seq })
	if i < len(l.queue) && l.queue[i].seq == seq {
		l.queue = slices.Delete(l.queue, i, i+1)
	}
}

// ahead returns how many jobs of l's queue are ahead of the job of
// sequence seq (0: not known, then all of them), the first of the line
// being of sequence first: those before it are over, and leave the queue.
func (l *line) ahead(first, seq uint64) int {
	gone := sort.Search(len(l.queue), func(i int) bool { return l.queue[i].seq >= first })
	for _, q := range l.queue[:gone] {
		delete(l.seqOf, q.job)
	}
	l.queue = slices.Delete(l.queue, 0, gone)
	if seq == 0 {
		return len(l.queue)
	}
	return sort.Search(len(l.queue), func(i int) bool { return l.queue[i].seq >= seq })
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

// Turn waits until job, of stream sequence seq (0: not known), is the
// first of ordered endpoint's jobs that has not reached its terminal
// outcome, and returns nil: every job of the endpoint stored before it is
// over. It returns a *BusyError when the turn is not near (more than
// MaxWaiting jobs are ahead, or wait in the process, the job ahead is
// deferred, or it waited MaxWait), ctx's error when ctx ends, and an error
// when the stream cannot be read.
//
// A job turned away is told to come back when the jobs the process knows
// to be ahead of it should be over, at the pace the line has moved: so a
// long line's jobs come back about in turn, each a few times, not all of
// them over and over.
func (g *Gate) Turn(ctx context.Context, endpoint, job string, seq uint64) error {
	start := g.cfg.Now()
	g.mu.Lock()
	l := g.line(endpoint, start)
	l.enter(job, seq)
	// A job with one of the process's waiting ahead of it is not the head:
	// the line is not read for it.
	behind := l.waitsBefore(seq)
	head, first := l.first, l.firstSeq
	g.mu.Unlock()
	if !behind {
		// The job whose turn it is goes at once, however many wait: those
		// waiting may be jobs further back, handed back and taken again
		// before it.
		var err error
		head, first, err = g.head(ctx, endpoint, l)
		if err != nil || head == "" || head == job {
			return g.grant(l, job, err)
		}
	}
	g.mu.Lock()
	ahead := l.ahead(first, seq)
	if ahead > g.cfg.MaxWaiting || !l.makeRoom(seq, g.cfg.MaxWaiting) {
		g.mu.Unlock()
		// The process may not know of every job ahead yet: the stream
		// tells how many there are about.
		ahead = max(ahead, g.estimate(ctx, l, endpoint, first, seq))
		g.mu.Lock()
		busy := g.busy(l, start, ahead, "other jobs of the endpoint are ahead")
		g.mu.Unlock()
		return busy
	}
	me := &waiter{seq: seq, evicted: make(chan struct{})}
	l.waiting = append(l.waiting, me)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		l.leaveWaiting(me)
		g.mu.Unlock()
	}()
	poll := g.cfg.Poll
	for {
		now := g.cfg.Now()
		g.mu.Lock()
		news := l.news
		if l.deferred == head && l.deferredUntil.Sub(now) > g.cfg.MaxWait-now.Sub(start) {
			busy := g.busy(l, now, l.ahead(first, seq), "the job ahead is deferred")
			g.mu.Unlock()
			return busy
		}
		if now.Sub(start) >= g.cfg.MaxWait {
			busy := g.busy(l, now, l.ahead(first, seq), "the job ahead is not over")
			g.mu.Unlock()
			return busy
		}
		reads := l.reads(me)
		g.mu.Unlock()
		// The job that reads the line looks again every poll interval, for
		// the jobs that finish in other workers whose notices are lost; the
		// others wait for news (the reader leaves with a word) or MaxWait.
		wait := g.cfg.MaxWait - now.Sub(start)
		if reads {
			wait = poll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-me.evicted:
			t.Stop()
			g.mu.Lock()
			busy := g.busy(l, g.cfg.Now(), l.ahead(first, seq), "a job nearer its turn took its place")
			g.mu.Unlock()
			return busy
		case <-news:
		case <-t.C:
		}
		t.Stop()
		g.mu.Lock()
		nowReads := l.reads(me)
		g.mu.Unlock()
		if !nowReads {
			continue
		}
		if reads {
			poll = min(2*poll, maxPoll)
		} else {
			poll = g.cfg.Poll // it has just taken over
		}
		var err error
		if head, first, err = g.head(ctx, endpoint, l); err != nil || head == "" || head == job {
			return g.grant(l, job, err)
		}
		if seq != 0 && first > seq {
			// The line has moved past this job: it is no longer in the
			// stream, done by another worker after a redelivery. It leaves
			// (and hands the reading on); going would send it twice.
			g.mu.Lock()
			busy := g.busy(l, g.cfg.Now(), 0, "the job is over elsewhere")
			g.mu.Unlock()
			return busy
		}
	}
}

// estimate returns about how many jobs of endpoint are ahead of the one of
// sequence seq, the first being of sequence first: the endpoint's jobs in
// the stream, in the share of the stream's sequences between first and
// seq (its subject's messages taken to be spread evenly). 0 when it cannot
// tell.
//
// The count is read again when it is older than estimateFresh, by one
// job at a time: the jobs turned away together (a line's jobs are fetched
// in batches) share one read.
func (g *Gate) estimate(ctx context.Context, l *line, endpoint string, first, seq uint64) int {
	if seq <= first {
		return 0
	}
	now := g.cfg.Now()
	g.mu.Lock()
	c, set := l.est, l.estSet
	// One job reads the count again at a time: it takes the refresh by
	// moving estAt; the others use the count as it is meanwhile.
	refresh := now.Sub(l.estAt) >= estimateFresh
	if refresh {
		l.estAt = now
	}
	g.mu.Unlock()
	if refresh {
		subject := bus.OrderedSubject(g.cfg.EndpointSubject, endpoint)
		info, err := g.cfg.Stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return 0
		}
		c, set = lineCount{n: info.State.Subjects[subject], last: info.State.LastSeq}, true
		g.mu.Lock()
		l.est, l.estSet = c, true
		g.mu.Unlock()
	}
	if !set || c.last < seq {
		return 0
	}
	return int(c.n * (seq - first) / (c.last - first + 1))
}

// estimateFresh is how long a line's count from the stream is used for
// estimates.
const estimateFresh = 100 * time.Millisecond

// grant notes that job got its turn now, unless err says it did not, and
// returns err.
func (g *Gate) grant(l *line, job string, err error) error {
	if err == nil {
		g.mu.Lock()
		l.granted[job] = g.cfg.Now()
		g.mu.Unlock()
	}
	return err
}

// head returns the id and stream sequence of endpoint's first job in the
// stream that is not known finished; "" when there is none.
func (g *Gate) head(ctx context.Context, endpoint string, l *line) (string, uint64, error) {
	subject := bus.OrderedSubject(g.cfg.EndpointSubject, endpoint)
	seq := uint64(1)
	g.mu.Lock()
	if _, over := l.finished[l.first]; over && l.firstSeq > 0 {
		seq = l.firstSeq + 1 // every job before it is gone
	}
	g.mu.Unlock()
	for range skipFinished {
		m, err := g.cfg.Stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return "", 0, nil
		}
		if err != nil {
			return "", 0, fmt.Errorf("read the line of ordered endpoint %s: %w", endpoint, err)
		}
		id := m.Header.Get(nats.MsgIdHdr)
		g.mu.Lock()
		_, over := l.finished[id]
		if m.Sequence > l.firstSeq {
			l.first, l.firstSeq = id, m.Sequence
		}
		g.mu.Unlock()
		if !over {
			return id, m.Sequence, nil
		}
		seq = m.Sequence + 1
	}
	return "", 0, &BusyError{Wait: g.cfg.MaxWait, Reason: "the jobs ahead are over but still stored"}
}

// maxBusy caps the wait a turned-away job is told.
const maxBusy = time.Minute

// busy returns the BusyError of a job turned away from l at now with ahead
// jobs known ahead of it: told to come back when all but half MaxWaiting
// of them should be over, at the line's pace (so that it is back while a
// few jobs ahead still wait their turn: one back too late holds the line
// up, one back too early is turned away once more), at least one pace on,
// and not before a deferred job ahead is due. g.mu is held.
func (g *Gate) busy(l *line, now time.Time, ahead int, reason string) *BusyError {
	pace := l.pace
	if pace <= 0 {
		pace = defaultPace
	}
	wait := min(pace*time.Duration(max(ahead-g.cfg.MaxWaiting/2, 1)), maxBusy)
	if l.deferred != "" {
		wait = max(wait, l.deferredUntil.Sub(now))
	}
	return &BusyError{Wait: wait, Reason: reason}
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
	l.leave(job)
	if at, ok := l.granted[job]; ok {
		delete(l.granted, job)
		held := min(now.Sub(at), time.Second)
		if l.pace == 0 {
			l.pace = held
		} else {
			l.pace += (held - l.pace) / 8
		}
	}
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
		l = &line{news: make(chan struct{}), finished: map[string]time.Time{}, seqOf: map[string]uint64{},
			granted: map[string]time.Time{}}
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
		for job, at := range l.granted {
			if now.Sub(at) >= keepFinished {
				delete(l.granted, job) // over elsewhere, or interrupted
			}
		}
		if len(l.waiting) == 0 && len(l.finished) == 0 && !l.deferredUntil.After(now) {
			delete(g.lines, endpoint) // and the queue: jobs that went elsewhere
		}
	}
}
