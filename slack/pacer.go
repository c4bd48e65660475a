package slack

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hookworker/hookworker/sender"
)

// Pacer defaults, applied to zero PacerConfig fields.
const (
	// DefaultInterval is the pace of one webhook once its burst is spent:
	// Slack documents about one message a second per webhook.
	DefaultInterval = time.Second
	// DefaultBurst is how many messages to one webhook go at once before
	// the pace applies. Slack allows short bursts without saying how long;
	// two keeps a message of headroom, so that the network's jitter between
	// this process and Slack does not turn a message sent on schedule into
	// a 429.
	DefaultBurst = 2
	// DefaultMaxBlock caps the pause of a webhook after a 429: a wait
	// beyond it would hold every job to the webhook in its slot; the
	// sender's own retry still honours the whole Retry-After.
	DefaultMaxBlock = time.Minute
	// DefaultMaxBuckets caps the webhooks remembered.
	DefaultMaxBuckets = 10000
)

// sweepEvery is how often buckets that know nothing worth keeping are
// forgotten.
const sweepEvery = time.Minute

// Observer is told of every request that pacing held back, with how long it
// waited. *metrics.Metrics satisfies it. It must be safe for concurrent use.
type Observer interface {
	// PaceWait is called once for each request held back, with the wait.
	PaceWait(d time.Duration)
}

// PacerConfig configures a Pacer. The zero value is usable.
type PacerConfig struct {
	// Interval is the time between two messages to one webhook once its
	// burst is spent. Defaults to 1s.
	Interval time.Duration
	// Burst is how many messages to one idle webhook may go at once.
	// Defaults to 2.
	Burst int
	// MaxBlock caps how long a 429's Retry-After pauses the webhook.
	// Defaults to 1m.
	MaxBlock time.Duration
	// MaxBuckets caps the webhooks remembered; beyond it, webhooks nobody
	// waits on are forgotten. Defaults to 10000.
	MaxBuckets int
	// MaxWait, when positive, is the longest a request waits for its slot:
	// a request whose slot is further away takes none and Wait returns a
	// *BusyError saying when to ask again, so that the caller hands the
	// job back instead of holding a worker slot for the host (all Slack
	// webhooks share hooks.slack.com). Zero waits as long as it takes.
	MaxWait time.Duration
	// Observer, when set, is told of every wait.
	Observer Observer
}

// Pacer implements sender.Pacer for Slack webhooks: a token bucket per
// webhook (Burst messages at once, then one per Interval). Concurrent
// requests to one webhook reserve the bucket's slots in turn, so that of 30
// requests sent at once Burst go at once and the others one per Interval, in
// the order they asked. A 429 pauses the webhook until its Retry-After (at
// most MaxBlock) and then lets one request through per Interval; requests
// that had reserved a slot before it ask again. Every wait ends with its
// context.
//
// Buckets are keyed by the webhook's host and path (the token included, so
// two webhooks are two buckets); the key is never logged. A bucket that is
// full again, paused by nothing and waited on by nobody holds nothing worth
// keeping and is forgotten, so memory stays bounded. One Pacer is meant to
// be shared by every send of a process; it is safe for concurrent use.
type Pacer struct {
	cfg   PacerConfig
	burst time.Duration // (Burst-1) * Interval: how far ahead of now a slot may be
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

// bucket is the state of one webhook, as in the generic cell rate
// algorithm: a request may go at time t when t >= tat - burst, and takes the
// slot by moving tat one Interval on.
type bucket struct {
	// tat is the theoretical arrival time: when the bucket is full again.
	tat time.Time
	// paused holds every request until then (a 429's Retry-After).
	paused time.Time
	// epoch counts 429s; a slot reserved in an earlier epoch is void.
	epoch   int
	waiters int
	// changed is closed (and replaced) when a 429 voids the slots reserved.
	changed chan struct{}
	// told is the latest time a BusyError told a request to ask again:
	// requests turned away are told times one Interval apart, so that
	// they do not all come back at once.
	told time.Time
}

// BusyError is what Wait returns when a webhook's next slot is further away
// than PacerConfig.MaxWait. sender.Sender defers the delivery by RetryIn.
type BusyError struct {
	// Wait is when to ask again, from the moment Wait returned.
	Wait time.Duration
}

// Error says how long the webhook is busy; it names no webhook.
func (e *BusyError) Error() string {
	return "slack webhook paced: next message slot in " + e.Wait.Round(time.Millisecond).String()
}

// RetryIn returns Wait: the sender reads it to defer the delivery.
func (e *BusyError) RetryIn() time.Duration { return e.Wait }

var _ sender.Pacer = (*Pacer)(nil)

// NewPacer returns a Pacer with cfg's defaults applied.
func NewPacer(cfg PacerConfig) *Pacer {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxBlock <= 0 {
		cfg.MaxBlock = DefaultMaxBlock
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	return &Pacer{
		cfg:     cfg,
		burst:   time.Duration(cfg.Burst-1) * cfg.Interval,
		now:     time.Now,
		buckets: make(map[string]*bucket),
	}
}

// Wait blocks until a request to the webhook u may be sent and takes its
// slot. It returns ctx's error when ctx ends while it waits, giving the
// slot back when no later one was handed out; a slot that is free at once
// is taken even if ctx has already ended. With MaxWait set, a slot further
// away than MaxWait is not waited for: Wait returns a *BusyError at once
// (or when a 429 pushes the slot it waited for that far). A wait is
// reported to the Observer.
func (p *Pacer) Wait(ctx context.Context, u *url.URL) error {
	key := bucketKey(u)
	start := p.now()
	p.mu.Lock()
	b := p.bucket(key, start)
	b.waiters++
	blocked := false
	var err error
	for {
		now := p.now()
		if busy := p.busy(b, now); busy != nil {
			err = busy
			break
		}
		at, tat := p.reserve(b, now)
		if !at.After(now) {
			break
		}
		blocked = true
		epoch := b.epoch
		err = p.sleep(ctx, b, at.Sub(now))
		if err == nil && b.epoch != epoch {
			continue // a 429 voided the slot: ask again
		}
		if err != nil && b.epoch == epoch && b.tat.Equal(tat) {
			// No later slot was handed out: give this one back.
			b.tat = b.tat.Add(-p.cfg.Interval)
		}
		break
	}
	b.waiters--
	p.mu.Unlock()
	if blocked && p.cfg.Observer != nil {
		p.cfg.Observer.PaceWait(p.now().Sub(start))
	}
	return err
}

// sleep waits d, or until a 429 voids b's slots, or ctx ends, whose error
// it returns. p.mu is held, and released while it waits.
func (p *Pacer) sleep(ctx context.Context, b *bucket, d time.Duration) error {
	ch := b.changed
	p.mu.Unlock()
	defer p.mu.Lock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-ch:
	case <-t.C:
	}
	return nil
}

// busy returns the *BusyError of a request to b at now whose slot is
// further away than MaxWait, or nil. p.mu is held.
func (p *Pacer) busy(b *bucket, now time.Time) *BusyError {
	if p.cfg.MaxWait <= 0 {
		return nil
	}
	at := later(later(now, b.paused), b.tat.Add(-p.burst))
	if at.Sub(now) <= p.cfg.MaxWait {
		return nil
	}
	if !b.told.Before(at) {
		at = b.told.Add(p.cfg.Interval)
	}
	b.told = at
	return &BusyError{Wait: at.Sub(now)}
}

// reserve takes the next slot of b and returns when it is due, and the
// bucket's tat after it. p.mu is held.
func (p *Pacer) reserve(b *bucket, now time.Time) (at, tat time.Time) {
	at = later(now, b.paused)
	at = later(at, b.tat.Add(-p.burst))
	b.tat = later(b.tat, at).Add(p.cfg.Interval)
	return at, b.tat
}

// Observe pauses the webhook u after a 429: nothing goes until its
// Retry-After (at most MaxBlock; Interval when it names no wait), then one
// request per Interval. Requests waiting for a slot reserved before ask
// again. Other responses change nothing.
func (p *Pacer) Observe(u *url.URL, resp *http.Response) {
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return
	}
	now := p.now()
	wait, ok := sender.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	if !ok || wait <= 0 {
		wait = p.cfg.Interval
	}
	wait = min(wait, p.cfg.MaxBlock)
	key := bucketKey(u)

	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.bucket(key, now)
	b.paused = later(b.paused, now.Add(wait))
	// One request may go when the pause ends, then one per Interval.
	b.tat = b.paused.Add(p.burst)
	b.epoch++
	close(b.changed)
	b.changed = make(chan struct{})
}

// bucket returns the bucket for key, creating it. p.mu is held.
func (p *Pacer) bucket(key string, now time.Time) *bucket {
	if b, ok := p.buckets[key]; ok {
		return b
	}
	if len(p.buckets) >= p.cfg.MaxBuckets || now.Sub(p.lastSweep) >= sweepEvery {
		p.sweep(now)
	}
	b := &bucket{changed: make(chan struct{})}
	p.buckets[key] = b
	return b
}

// sweep forgets the buckets that are full, not paused and waited on by
// nobody: a new bucket would be the same. Beyond MaxBuckets, it also
// forgets others nobody waits on. p.mu is held.
func (p *Pacer) sweep(now time.Time) {
	p.lastSweep = now
	for k, b := range p.buckets {
		if b.waiters == 0 && !now.Before(b.tat) && !now.Before(b.paused) && !now.Before(b.told) {
			delete(p.buckets, k)
		}
	}
	for k, b := range p.buckets {
		if len(p.buckets) < p.cfg.MaxBuckets {
			return
		}
		if b.waiters == 0 {
			delete(p.buckets, k)
		}
	}
}

// Len returns the number of webhooks remembered.
func (p *Pacer) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buckets)
}

// bucketKey is the key of u's bucket: its host and path, without a
// trailing slash.
func bucketKey(u *url.URL) string {
	return strings.ToLower(u.Host) + strings.TrimSuffix(u.EscapedPath(), "/")
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
