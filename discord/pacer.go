package discord

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookworker/hookworker/sender"
)

// Pacer defaults, applied to zero PacerConfig fields.
const (
	// DefaultProbeWait bounds how long requests wait for the response that
	// tells a bucket's limits.
	DefaultProbeWait = 2 * time.Second
	// DefaultIdleTimeout is how long a bucket is remembered after its reset
	// passed and it was last used.
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxBuckets caps the buckets remembered.
	DefaultMaxBuckets = 10000
)

// fallbackRetryAfter is the pause after a 429 that does not say how long to
// wait.
const fallbackRetryAfter = time.Second

// resetMargin is added to every reset Discord announces: its reset-after is
// rounded to the millisecond, and a request that arrives a moment early
// would collect a 429.
const resetMargin = 20 * time.Millisecond

// Observer is told of every request that pacing held back, with how long it
// waited. *metrics.Metrics satisfies it. It must be safe for concurrent use.
type Observer interface {
	// PaceWait is called once for each request held back, with the wait.
	PaceWait(d time.Duration)
}

// PacerConfig configures a Pacer. The zero value is usable.
type PacerConfig struct {
	// ProbeWait bounds how long the requests to a bucket wait for the first
	// response of the bucket (or of a new window), which tells its limits.
	// After it, one more request goes ahead. Defaults to 2s.
	ProbeWait time.Duration
	// IdleTimeout: a bucket is forgotten once its reset has passed and it
	// has not been used for this long. Defaults to 10m.
	IdleTimeout time.Duration
	// MaxBuckets caps the buckets remembered; beyond it, idle ones are
	// forgotten first. Defaults to 10000.
	MaxBuckets int
	// Observer, when set, is told of every wait.
	Observer Observer
}

// Pacer implements sender.Pacer for Discord webhooks. It remembers each
// webhook's rate-limit bucket from Discord's X-RateLimit-* headers and holds
// requests back while the bucket is empty, until its reset, instead of
// letting them collect 429s. Concurrent requests reserve the slots a bucket
// has left, so that of N requests to a bucket with k remaining only k go
// before the reset. Before a bucket's first response nothing is known: one
// request goes first and the others wait for its response (at most
// ProbeWait). A 429 with X-RateLimit-Global (or scope global) pauses every
// bucket. One Pacer is meant to be shared by every send of a process; it is
// safe for concurrent use and its memory is bounded.
//
// Buckets are keyed by webhook id and token; the key is never logged.
type Pacer struct {
	cfg PacerConfig
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	global    time.Time // every request waits until then
	lastSweep time.Time
}

// bucket is what is known about one webhook's rate limit.
type bucket struct {
	// id is the X-RateLimit-Bucket last seen.
	id string
	// known is set by the first response with rate-limit headers (or a
	// success without them, which means no limit is known: limit 0).
	known bool
	// limit is the bucket's size; 0 when known means unlimited.
	limit int
	// remaining is the slots left in the current window, less the ones
	// reserved by Wait since.
	remaining int
	// resetAt is when the current window ends; zero while a new window's
	// first response is awaited.
	resetAt time.Time
	// probeUntil bounds the wait for a response while nothing (or nothing
	// about the current window) is known.
	probeUntil time.Time
	// window is the X-RateLimit-Reset of the current window, which names
	// it; ended and endedWindow are the end and name of the window before,
	// so that its late responses are not taken for the current one's.
	window      string
	ended       time.Time
	endedWindow string
	// span is the longest reset-after seen: about the window's length.
	span     time.Duration
	waiters  int
	lastUsed time.Time
	// changed is closed (and replaced) when a response changed the bucket.
	changed chan struct{}
}

var _ sender.Pacer = (*Pacer)(nil)

// NewPacer returns a Pacer with cfg's defaults applied.
func NewPacer(cfg PacerConfig) *Pacer {
	if cfg.ProbeWait <= 0 {
		cfg.ProbeWait = DefaultProbeWait
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	return &Pacer{cfg: cfg, now: time.Now, buckets: make(map[string]*bucket)}
}

// Wait blocks until a request to the webhook u may be sent without
// exceeding its bucket, and reserves a slot for it. It returns ctx's error
// when ctx ends while it waits; a slot that is free at once is taken even
// if ctx has already ended. A wait is reported to the Observer.
func (p *Pacer) Wait(ctx context.Context, u *url.URL) error {
	key := bucketKey(u)
	start := p.now()
	p.mu.Lock()
	b := p.bucket(key, start)
	b.waiters++
	var err error
	blocked := false
	for {
		now := p.now()
		b.lastUsed = now
		until, ok := p.reserve(b, now)
		if ok {
			break
		}
		blocked = true
		ch := b.changed
		p.mu.Unlock()
		t := time.NewTimer(until.Sub(now))
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		p.mu.Lock()
		if err != nil {
			break
		}
	}
	b.waiters--
	p.mu.Unlock()
	if blocked && p.cfg.Observer != nil {
		p.cfg.Observer.PaceWait(p.now().Sub(start))
	}
	return err
}

// reserve takes a slot of b when one is free and reports true; else it
// returns when to look again (earlier if a response changes b). p.mu is
// held.
func (p *Pacer) reserve(b *bucket, now time.Time) (time.Time, bool) {
	if now.Before(p.global) {
		return p.global, false
	}
	if !b.known {
		// One request at a time until a response tells the limits.
		if b.probeUntil.IsZero() || !now.Before(b.probeUntil) {
			b.probeUntil = now.Add(p.cfg.ProbeWait)
			return time.Time{}, true
		}
		return b.probeUntil, false
	}
	if b.limit == 0 {
		return time.Time{}, true
	}
	if !b.resetAt.IsZero() && !now.Before(b.resetAt) {
		// The window is over: a full one starts with the next request.
		b.ended, b.endedWindow = b.resetAt, b.window
		b.remaining, b.resetAt, b.window = b.limit, time.Time{}, ""
		b.probeUntil = now.Add(p.cfg.ProbeWait)
	}
	if b.resetAt.IsZero() && !now.Before(b.probeUntil) {
		// No response told when the window ends: take it as over.
		b.remaining = b.limit
		b.probeUntil = now.Add(p.cfg.ProbeWait)
	}
	if b.remaining > 0 {
		b.remaining--
		return time.Time{}, true
	}
	if b.resetAt.IsZero() {
		return b.probeUntil, false
	}
	return b.resetAt, false
}

// Observe learns the bucket of u from resp's rate-limit headers.
func (p *Pacer) Observe(u *url.URL, resp *http.Response) {
	if resp == nil {
		return
	}
	key := bucketKey(u)
	h := resp.Header
	now := p.now()
	remaining, hasRemaining := headerInt(h, "X-RateLimit-Remaining")
	resetAfter, hasReset := headerSeconds(h, "X-RateLimit-Reset-After")
	limit, _ := headerInt(h, "X-RateLimit-Limit")
	id := h.Get("X-RateLimit-Bucket")
	window := h.Get("X-RateLimit-Reset")
	limited := resp.StatusCode == http.StatusTooManyRequests
	if limited && !hasReset {
		resetAfter, hasReset = sender.ParseRetryAfter(h.Get("Retry-After"), now)
		if !hasReset || resetAfter <= 0 {
			resetAfter, hasReset = fallbackRetryAfter, true
		}
	}
	reset := now.Add(resetAfter + resetMargin)

	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bucket(key, now)
	b.lastUsed = now
	defer b.broadcast()

	if limited && (strings.EqualFold(h.Get("X-RateLimit-Global"), "true") || strings.EqualFold(h.Get("X-RateLimit-Scope"), "global")) {
		p.global = later(p.global, reset)
		return
	}
	if !hasReset || (!limited && !hasRemaining) {
		if resp.StatusCode < 300 && !b.known {
			// A success that carries no limits: nothing to pace.
			b.known, b.limit = true, 0
		} else if !b.known {
			// Let the next request find out.
			b.probeUntil = time.Time{}
		}
		return
	}
	fresh := !b.known || b.limit == 0 || (id != "" && b.id != "" && id != b.id)
	if !fresh && b.stale(window, reset) {
		return
	}
	if limited {
		remaining = 0
	}
	if limit <= 0 {
		limit = max(b.limit, remaining+1)
	}
	b.known, b.limit = true, limit
	b.span = max(b.span, resetAfter)
	if id != "" {
		b.id = id
	}
	if fresh || b.resetAt.IsZero() {
		// The first response of the bucket, or of a new window.
		if fresh {
			b.remaining = remaining
		} else {
			b.remaining = min(b.remaining, remaining)
		}
		b.resetAt, b.window = reset, window
		return
	}
	// Of the responses of one window, the lowest remaining and the latest
	// reset are the safe ones; remaining locally also counts the requests
	// in flight.
	b.remaining = min(b.remaining, remaining)
	b.resetAt = later(b.resetAt, reset)
	if b.window == "" {
		b.window = window
	}
}

// stale reports whether a response belongs to the window that already
// ended (it came back late): its X-RateLimit-Reset names that window, or,
// without the header, its reset is near that window's end. p.mu is held.
func (b *bucket) stale(window string, reset time.Time) bool {
	if b.ended.IsZero() {
		return false
	}
	if window != "" && b.endedWindow != "" {
		return window == b.endedWindow
	}
	return reset.Before(b.ended.Add(b.span / 2))
}

// bucket returns the bucket for key, creating it. p.mu is held.
func (p *Pacer) bucket(key string, now time.Time) *bucket {
	if b, ok := p.buckets[key]; ok {
		return b
	}
	if len(p.buckets) >= p.cfg.MaxBuckets || now.Sub(p.lastSweep) >= p.cfg.IdleTimeout {
		p.sweep(now)
	}
	b := &bucket{changed: make(chan struct{}), lastUsed: now}
	p.buckets[key] = b
	return b
}

// sweep forgets buckets nobody waits on whose reset passed and that were
// idle for IdleTimeout. Beyond MaxBuckets, it also forgets others nobody
// waits on, those whose reset passed first. p.mu is held.
func (p *Pacer) sweep(now time.Time) {
	p.lastSweep = now
	for k, b := range p.buckets {
		if b.waiters == 0 && now.After(b.resetAt) && now.Sub(b.lastUsed) >= p.cfg.IdleTimeout {
			delete(p.buckets, k)
		}
	}
	for _, evictable := range []func(*bucket) bool{
		func(b *bucket) bool { return now.After(b.resetAt) },
		func(*bucket) bool { return true },
	} {
		for k, b := range p.buckets {
			if len(p.buckets) < p.cfg.MaxBuckets {
				return
			}
			if b.waiters == 0 && evictable(b) {
				delete(p.buckets, k)
			}
		}
	}
}

// Len returns the number of buckets remembered.
func (p *Pacer) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buckets)
}

// broadcast wakes the requests waiting on b. p.mu is held.
func (b *bucket) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// bucketKey is the key of u's bucket: webhook id and token, or the host and
// path for a URL that is not a webhook's.
func bucketKey(u *url.URL) string {
	if id, token, ok := webhookPath(u.Path); ok {
		return id + "/" + token
	}
	return u.Host + u.Path
}

// headerInt reads an integer header.
func headerInt(h http.Header, key string) (int, bool) {
	v := h.Get(key)
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// headerSeconds reads a header of float seconds, e.g. "1.234".
func headerSeconds(h http.Header, key string) (time.Duration, bool) {
	v := h.Get(key)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || f > 24*3600 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
