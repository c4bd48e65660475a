package consumer

import (
	"net"
	"net/url"
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
		raw := j.URL
		if raw == "" && len(j.URLs) > 0 {
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

// hostSweepEvery is how often a hostLimiter forgets the hosts it no longer
// needs to know.
const hostSweepEvery = time.Minute

// hostLimiter bounds the jobs in flight per destination host, and paces
// the jobs that find their host busy. A host with no job in flight is
// forgotten when the last of its hand-backs is due; the ones that were not
// (their queue still ran at their last release) are swept every
// hostSweepEvery, as discord.Pacer sweeps its buckets.
type hostLimiter struct {
	mu        sync.Mutex
	limit     int
	hosts     map[string]*hostSlots
	now       func() time.Time
	lastSweep time.Time
}

// hostSlots is what a hostLimiter knows of one host.
type hostSlots struct {
	// busy is the number of jobs in flight.
	busy int
	// hold is a moving average of how long a job held a slot.
	hold time.Duration
	// next is when the job handed back last is due.
	next time.Time
}

func newHostLimiter(limit int) *hostLimiter {
	return &hostLimiter{limit: limit, hosts: make(map[string]*hostSlots), now: time.Now, lastSweep: time.Now()}
}

// acquire takes a slot of host; it reports false when the host is busy.
func (h *hostLimiter) acquire(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil {
		if now := h.now(); now.Sub(h.lastSweep) >= hostSweepEvery {
			h.sweep(now)
		}
		s = &hostSlots{}
		h.hosts[host] = s
	}
	if s.busy >= h.limit {
		return false
	}
	s.busy++
	return true
}

// release frees a slot of host, held for held.
func (h *hostLimiter) release(host string, held time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.hosts[host]
	if s == nil {
		return
	}
	s.busy--
	if s.hold == 0 {
		s.hold = held
	} else {
		s.hold += (held - s.hold) / 8
	}
	if s.busy <= 0 && !s.next.After(h.now()) {
		delete(h.hosts, host)
	}
}

// sweep forgets the hosts with no job in flight whose hand-backs are all
// due. h.mu is held.
func (h *hostLimiter) sweep(now time.Time) {
	h.lastSweep = now
	for k, s := range h.hosts {
		if s.busy <= 0 && !s.next.After(now) {
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
		hold = defaultHold
	}
	if s.next.Before(now) {
		s.next = now
	}
	s.next = s.next.Add(hold / time.Duration(h.limit))
	if limit := now.Add(maxHostWait); s.next.After(limit) {
		s.next = limit
	}
	return max(s.next.Sub(now), minHostWait)
}
