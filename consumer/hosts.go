package consumer

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookworker/hookworker/job"
)

// hostOf returns host:port of the job's first destination, as Decode
// parsed it.
func hostOf(j *job.Job) string {
	var u *url.URL
	if len(j.Destinations) > 0 {
		u = j.Destinations[0]
	} else {
		var raw string
		if len(j.URLs) > 0 {
			raw = j.URLs[0]
		}
		var err error
		if u, err = url.Parse(raw); err != nil {
			return ""
		}
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// The pace of host-busy hand-backs: a host whose jobs have not finished
// yet is taken to hold a slot for defaultHold; a job waits at least
// minHostWait and at most maxHostWait before it is offered again.
const (
	defaultHold = time.Second
	minHostWait = 20 * time.Millisecond
	maxHostWait = 10 * time.Minute
)

// maxQueueWait bounds the wait in the process of a job that finds its host
// busy, in a line behind the host's other waiting jobs: a job whose wait
// would be longer (a slow or dead host, a deep line) is handed back instead,
// so that it does not hold one of the worker's slots, and so are the jobs
// of a line that does not move for that long.
const maxQueueWait = 100 * time.Millisecond

// Parking: a job that finds its host busy, and would wait in its line for
// longer than maxQueueWait, is parked (see hostLimiter.park) when its host
// should free a slot for it within maxParkWait; one parked for parkExpiry
// without getting a slot is handed back. At most DefaultMaxParked jobs, of
// DefaultMaxParkedBytes, are parked at once.
const (
	maxParkWait = time.Minute
	parkExpiry  = 2 * maxParkWait
	// parkCheckEvery is how often the parked jobs are checked for expiry
	// while there are any.
	parkCheckEvery = maxParkWait / 4
	// DefaultMaxParked and DefaultMaxParkedBytes bound the parked jobs of a
	// worker: their number, and the memory they take (parkedSize).
	DefaultMaxParked      = 10000
	DefaultMaxParkedBytes = 64 << 20
)

// hostSweepEvery is how often a hostLimiter forgets the hosts it no longer
// needs to know.
const hostSweepEvery = time.Minute

// hostLimiter bounds the jobs in flight per destination host, without
// throttling a host nobody else wants (it is work-conserving):
//
//   - A host takes up to limit slots.
//   - A host whose slots move fast (a job held one for at most maxQueueWait
//     on average, and one was freed within maxQueueWait) may take more while
//     no other host's job waits in line, up to all of the worker's slots
//     but limit: those stay for the jobs of other hosts, and for the jobs
//     behind should the host die with every slot it took. While another
//     host's jobs wait, the worker's free slots go to taking jobs from the
//     stream (those of the waiting host are handed back, the others'
//     delivered), not to the fast host.
//   - A job that finds its host busy waits in the process, in the host's
//     line (first come, first served), when the slots of its host free fast
//     enough for it to get one within maxQueueWait; else it is handed back,
//     paced at the rate the host frees slots. A released slot goes straight
//     to the first job in line; a job keeps its place while the line moves,
//     and leaves it (handed back) when the line stands still.
//   - A job whose wait in the line would be longer is parked, when its host
//     is slow (its jobs hold a slot longer than maxQueueWait) and should
//     have a slot for it within maxParkWait, or is not measured yet, and
//     the bounds of parked jobs allow: it waits behind the line without a
//     goroutine, a working token or a slot of the worker, and a released
//     slot of its host goes to it (release returns it) when the line is
//     empty, as do the slots a fast host may lend beyond limit
//     (spareParked). Else it is handed back, paced at the rate the host
//     frees slots.
//
// A host with no job in flight is forgotten when the last of its
// hand-backs is due; the ones that were not (their queue still ran at
// their last release) are swept every hostSweepEvery, as discord.Pacer
// sweeps its buckets.
type hostLimiter struct {
	mu    sync.Mutex
	limit int
	// spare is how many slots beyond limit a fast host may take: the
	// worker's slots but limit, less limit.
	spare int
	// waiting is the number of jobs in every host's line.
	waiting int
	// parked and parkedBytes are the number of parked jobs and their
	// size, bounded by maxParked and maxParkedBytes; closed stops parking
	// (the worker stops). check is the expiry check, nil while none is
	// armed; expired is told of the jobs it hands back, with mu held: it
	// must not block.
	parked, maxParked           int
	parkedBytes, maxParkedBytes int64
	closed                      bool
	check                       *time.Timer
	expired                     func([]*delivery)
	// counted, when set, is told of every change of parked, with mu held.
	counted   func(delta int)
	hosts     map[string]*hostSlots
	now       func() time.Time
	lastSweep time.Time
}

// hostSlots is what a hostLimiter knows of one host.
type hostSlots struct {
	// busy is the number of jobs in flight.
	busy int
	// hold is a moving average of how long a job held a slot; 0 until one
	// was released.
	hold time.Duration
	// moved is when a slot of the host was last released, or taken while
	// none was: the time since is a lower bound of how long the jobs in
	// flight hold their slots.
	moved time.Time
	// line holds the jobs waiting for a slot, first come first.
	line []*hostWaiter
	// parked holds the parked jobs, first come first, behind the line.
	parked []parkedJob
	// next is when the job handed back last is due.
	next time.Time
}

// parkedJob is one parked job.
type parkedJob struct {
	d    *delivery
	size int64
	// until is when it is handed back if it has not got a slot.
	until time.Time
}

// hostWaiter is one job waiting in a host's line.
type hostWaiter struct {
	// ready is closed when a slot is handed to the waiter.
	ready chan struct{}
}

// newHostLimiter returns a limiter of limit slots per host in a worker of
// total slots.
func newHostLimiter(limit, total int) *hostLimiter {
	return &hostLimiter{limit: limit, spare: max(0, total-2*limit), hosts: make(map[string]*hostSlots),
		maxParked: DefaultMaxParked, maxParkedBytes: DefaultMaxParkedBytes,
		now: time.Now, lastSweep: time.Now()}
}

// free reports whether s has a slot for one more job at now: one of its
// limit, or one it may take beyond (see hostLimiter). h.mu is held.
func (h *hostLimiter) free(s *hostSlots, now time.Time) bool {
	if s.busy < h.limit {
		return true
	}
	return s.busy < h.limit+h.spare && h.waiting == len(s.line) &&
		s.hold > 0 && s.hold <= maxQueueWait && now.Sub(s.moved) <= maxQueueWait
}

// slots returns what the limiter knows of host, known from now on. h.mu is
// held.
func (h *hostLimiter) slots(host string, now time.Time) *hostSlots {
	s := h.hosts[host]
	if s == nil {
		if now.Sub(h.lastSweep) >= hostSweepEvery {
			h.sweep(now)
		}
		s = &hostSlots{}
		h.hosts[host] = s
	}
	return s
}

// tryAcquire takes a free slot of host; it reports false when the host is
// busy.
func (h *hostLimiter) tryAcquire(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	s := h.slots(host, now)
	if len(s.line) > 0 || len(s.parked) > 0 || !h.free(s, now) {
		return false
	}
	s.take(now)
	return true
}

// acquire takes a slot of host, waiting in the host's line when the wait
// is short (see hostLimiter). It reports false, and holds no slot, when the
// job is to be parked or handed back instead: the wait would be long (or
// the host has parked jobs, which go first), the job did not get a slot and
// no slot of its host was released for maxQueueWait, or ctx ended. While
// none of the host's jobs has finished yet, the first limit jobs in line
// wait defaultHold, those behind them minHostWait, and none joins behind
// them once the host has held its slots minHostWait. wait runs before the
// job starts to wait (and only then), resume after the wait.
func (h *hostLimiter) acquire(ctx context.Context, host string, wait, resume func()) bool {
	h.mu.Lock()
	now := h.now()
	s := h.slots(host, now)
	if len(s.parked) > 0 {
		// The line is for short waits; a host with parked jobs is one
		// whose jobs wait long, and a job joins them behind.
		h.mu.Unlock()
		return false
	}
	if len(s.line) == 0 && h.free(s, now) {
		s.take(now)
		h.mu.Unlock()
		return true
	}
	// A host none of whose jobs has finished yet may just be slow to start
	// (its connections are being dialled): its first jobs in line, as many
	// as its share of the slots, wait as long as a job is taken to hold a
	// slot before they are handed back. The line behind them is for a host
	// that has just started, which may be a fast one: it waits minHostWait
	// at most for the line to move, so that a host slow to answer its
	// first requests does not keep every slot of the worker waiting for
	// it, while the worker could take other hosts' jobs.
	patience := maxQueueWait
	behind := false // behind the first jobs of a host not measured yet
	if s.hold == 0 {
		patience = defaultHold
		if len(s.line) >= h.limit {
			patience, behind = minHostWait, true
		}
	}
	if s.expectedWait(len(s.line)+1, s.busy, now) > maxQueueWait || behind && now.Sub(s.moved) >= minHostWait {
		h.mu.Unlock()
		return false
	}
	me := &hostWaiter{ready: make(chan struct{})}
	s.line = append(s.line, me)
	h.waiting++
	h.mu.Unlock()

	wait()
	defer resume()
	t := time.NewTimer(patience)
	defer t.Stop()
	for {
		select {
		case <-me.ready:
			return true
		case <-t.C:
		case <-ctx.Done():
		}
		h.mu.Lock()
		select {
		case <-me.ready:
			// Handed a slot as the wait ended: keep it.
			h.mu.Unlock()
			return true
		default:
		}
		// A line that moved within the last patience moves on: the job
		// keeps its place (a worker descheduled for a moment does not hand
		// its line back). One that did not, or a context that ended, ends
		// the wait.
		if since := h.now().Sub(s.moved); ctx.Err() == nil && since < patience {
			t.Reset(patience - since)
			h.mu.Unlock()
			continue
		}
		break
	}
	defer h.mu.Unlock()
	for i, w := range s.line {
		if w == me {
			s.line = append(s.line[:i], s.line[i+1:]...)
			h.waiting--
			break
		}
	}
	return false
}

// take takes a free slot at now.
func (s *hostSlots) take(now time.Time) {
	if s.busy == 0 {
		s.moved = now
	}
	s.busy++
}

// expectedWait is how long the job at place n (from 1) of the host's line
// waits for a slot: n slots' worth of time, a job's hold over the busy
// slots.
// Until a job was released, and while no slot moved for longer than the
// average hold, the time since a slot last moved stands for the hold.
func (s *hostSlots) expectedWait(n, busy int, now time.Time) time.Duration {
	hold := max(s.hold, now.Sub(s.moved))
	return hold * time.Duration(n) / time.Duration(max(busy, 1))
}

// release frees a slot of host, held for held (0: not held for a delivery,
// not measured): the first job in the host's line takes it, or else the
// first parked job, which release returns: the caller hands it its slot of
// the worker and runs it (see Worker.resume).
func (h *hostLimiter) release(host string, held time.Duration) *delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil {
		return nil
	}
	switch {
	case held <= 0:
		// Not held for a job's delivery: no measure of the host.
	case s.hold == 0:
		s.hold = held
	default:
		s.hold += (held - s.hold) / 8
	}
	now := h.now()
	s.moved = now
	s.busy--
	if len(s.line) > 0 && h.free(s, now) {
		// The slot goes to the first in line, if the host may still hold
		// it.
		w := s.line[0]
		s.line[0] = nil
		s.line = s.line[1:]
		h.waiting--
		s.busy++
		close(w.ready)
		return nil
	}
	if len(s.line) == 0 && len(s.parked) > 0 && h.free(s, now) {
		return h.unparkFirst(s)
	}
	if s.busy <= 0 && len(s.parked) == 0 && !s.next.After(now) {
		delete(h.hosts, host)
	}
	return nil
}

// spareParked takes, for the first parked job of host, a slot beyond those
// its host has busy, when the host may still give one (see free) and has
// no line: a host measured fast while it had parked jobs lends its spare
// slots to them, not only the slot each release frees. It returns the
// job, which holds the slot; nil when there is none.
func (h *hostLimiter) spareParked(host string) *delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil || len(s.line) > 0 || len(s.parked) == 0 || !h.free(s, h.now()) {
		return nil
	}
	return h.unparkFirst(s)
}

// unparkFirst takes s's first parked job out of the parked jobs and gives
// it a slot of its host, which it returns. h.mu is held.
func (h *hostLimiter) unparkFirst(s *hostSlots) *delivery {
	p := s.parked[0]
	s.parked[0] = parkedJob{}
	s.parked = s.parked[1:]
	h.unparked(p)
	s.busy++
	return p.d
}

// parkOutcome is what became of a job park was asked to park.
type parkOutcome int

const (
	// notParked: the job is to be handed back.
	notParked parkOutcome = iota
	// parked: the job waits for a slot of its host, holding nothing.
	parked
	// parkGot: the host had a free slot after all; the job holds it.
	parkGot
)

// park parks d, whose host is busy and whose wait in the host's line would
// be long: it waits behind the line, holding nothing, until release hands
// it a slot of its host. d is not parked, and is to be handed back, when
// the worker stops, the host is known to be fast (a job held a slot for
// maxQueueWait at most, on average), the bounds of parked jobs are
// reached, or the host should not free a slot for it within maxParkWait;
// it takes a slot instead when its host freed one meanwhile. A parked job
// that has not got a slot after parkExpiry is handed back: h.expired is
// told.
func (h *hostLimiter) park(d *delivery, size int64) parkOutcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	s := h.slots(d.host, now)
	if len(s.line) == 0 && len(s.parked) == 0 && h.free(s, now) {
		s.take(now)
		return parkGot
	}
	// A fast host does not park its jobs: it takes the slots as they free,
	// more than limit when they move fast, and its parked jobs would each
	// wait for one of its limit slots. A host not measured yet does: its
	// jobs line up while its first ones are out (see acquire), so a fast
	// one has answered before any is parked, and one whose first answers
	// are slow (a receiver starting cold) may turn fast. How long its
	// parked jobs will wait is unknown until it answers (the time its
	// first jobs have been out is no measure of a cold host's pace), so
	// only the bounds of parked jobs and parkExpiry hold them.
	if h.closed || (s.hold > 0 && s.hold <= maxQueueWait) || h.parked >= h.maxParked || h.parkedBytes+size > h.maxParkedBytes ||
		s.hold > 0 && s.expectedWait(len(s.line)+len(s.parked)+1, s.busy, now) > maxParkWait {
		return notParked
	}
	s.parked = append(s.parked, parkedJob{d: d, size: size, until: now.Add(parkExpiry)})
	h.parked++
	h.parkedBytes += size
	if h.counted != nil {
		h.counted(1)
	}
	if h.check == nil && h.expired != nil {
		h.check = time.AfterFunc(parkCheckEvery, h.expire)
	}
	return parked
}

// unparked counts p out of the parked jobs. h.mu is held.
func (h *hostLimiter) unparked(p parkedJob) {
	h.parked--
	h.parkedBytes -= p.size
	if h.counted != nil {
		h.counted(-1)
	}
}

// expire hands back the parked jobs that are due, and checks again after
// parkCheckEvery while some are parked.
func (h *hostLimiter) expire() {
	h.mu.Lock()
	now := h.now()
	var due []*delivery
	for _, s := range h.hosts {
		n := 0
		for n < len(s.parked) && !s.parked[n].until.After(now) {
			due = append(due, s.parked[n].d)
			h.unparked(s.parked[n])
			n++
		}
		if n > 0 {
			s.parked = slices.Delete(s.parked, 0, n)
		}
	}
	h.check = nil
	if h.parked > 0 && !h.closed {
		h.check = time.AfterFunc(parkCheckEvery, h.expire)
	}
	if len(due) > 0 {
		h.expired(due)
	}
	h.mu.Unlock()
}

// unpark stops parking and returns every parked job, to be handed back:
// the worker stops.
func (h *hostLimiter) unpark() []*delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.check != nil {
		h.check.Stop()
		h.check = nil
	}
	var all []*delivery
	for _, s := range h.hosts {
		for _, p := range s.parked {
			all = append(all, p.d)
			h.unparked(p)
		}
		s.parked = nil
	}
	return all
}

// sweep forgets the hosts with no job in flight whose hand-backs are all
// due. h.mu is held.
func (h *hostLimiter) sweep(now time.Time) {
	h.lastSweep = now
	for k, s := range h.hosts {
		if s.busy <= 0 && len(s.parked) == 0 && !s.next.After(now) {
			delete(h.hosts, k)
		}
	}
}

// len returns the number of hosts known.
func (h *hostLimiter) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.hosts)
}

// queue returns how long a job that found host busy at now waits before it
// is offered again: the jobs handed back are lined up one slot's worth of
// time apart (a job's hold over the host's slots), so that they come back
// about as fast as the host takes them, whatever their number.
func (h *hostLimiter) queue(host string, now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil {
		return minHostWait
	}
	hold := s.hold
	if hold <= 0 {
		// Not measured yet: its first jobs have been out for now - moved,
		// and how fast it takes the rest is anyone's guess. The job comes
		// back after as long again, when the host may have answered, to be
		// lined up then at its pace; lined up now at a guess, it would
		// keep that pace however fast the host turned.
		if s.moved.IsZero() {
			return minHostWait
		}
		return min(max(now.Sub(s.moved), minHostWait), maxHostWait)
	}
	if s.next.Before(now) {
		s.next = now
	}
	// Behind the parked jobs, which take the host's next slots.
	if after := now.Add(hold * time.Duration(len(s.parked)) / time.Duration(h.limit)); s.next.Before(after) {
		s.next = after
	}
	s.next = s.next.Add(hold / time.Duration(h.limit))
	if limit := now.Add(maxHostWait); s.next.After(limit) {
		s.next = limit
	}
	return max(s.next.Sub(now), minHostWait)
}
