// Package ratelimit holds an endpoint to its rate limit however many
// workers deliver to it: at most rate requests in any one-second window,
// plus one.
//
// # The mechanism
//
// Every worker shares one record per endpoint in a key-value bucket: the
// time its next request may go (the theoretical arrival time of the generic
// cell rate algorithm with no burst). A request takes the slot by moving
// that time on by Interval(rate), 1% more than 1/rate, with a
// compare-and-set on the record's revision; a worker that lost the race
// reads the record again and tries the next slot. Requests are then at
// least that far apart, whichever worker sends them, so a one-second
// window holds at most rate of them plus the one at its edge, and still
// does at the receiver when a request is delayed on its way by up to one
// slot and 10 ms. A slot further away than Config.MaxWait is not taken: Take
// returns a *BusyError saying when to ask again, the sender defers the
// delivery by it, and the job is handed back, holding no worker slot while
// it waits (as the Discord and Slack pacers do). Requests of one process
// to one endpoint take their slots in turn, so that they do not race each
// other; other endpoints' records are other keys, and nothing of theirs
// waits.
//
// Why this and not another: per-worker shares (rate divided by the workers
// running) need every worker to know how many run, leave an idle worker's
// share unused and break the limit while the count changes; priority groups
// pin a whole consumer, not one endpoint, to one client. The shared record
// costs one round trip to the server per request while one worker sends to
// the endpoint (the revision it wrote last is still the current one), two
// or three when several do; endpoints without a limit never touch it. The
// times are the workers' clocks: a skew between two of them narrows the
// spacing of their requests by as much (keep them synchronised, as NTP
// does).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/sender"
)

// Store keeps the records; jetstream.KeyValue satisfies it.
type Store interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error)
	Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error)
}

// DefaultMaxWait is how long a request waits in the process for its slot
// unless Config.MaxWait says otherwise.
const DefaultMaxWait = 50 * time.Millisecond

// maxTries bounds the compare-and-set rounds of one Take.
const maxTries = 8

// sweepEvery is how often the records of endpoints no longer sent to are
// forgotten by the process.
const sweepEvery = time.Minute

// Config configures a Limiter. Store is required.
type Config struct {
	// Store holds one record per endpoint (bus.RateBucket).
	Store Store
	// MaxWait is the longest a request waits in the process for its slot;
	// a slot further away is not taken, and Take returns a *BusyError.
	// Defaults to 50ms.
	MaxWait time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Limiter takes request slots of rate-limited endpoints. One Limiter is
// meant to be shared by every delivery of a process; it is safe for
// concurrent use.
type Limiter struct {
	cfg Config

	mu        sync.Mutex
	records   map[string]*record
	lastSweep time.Time
}

// record is what the process knows of one endpoint's shared record.
type record struct {
	// turn is held while a request of the process takes a slot.
	turn sync.Mutex
	// rev and next are the record as the process last read or wrote it
	// (rev 0: not known); next is when the next request may go.
	rev  uint64
	next time.Time
	// told is the latest time a BusyError told a request to ask again:
	// the requests turned away are told times one interval apart.
	told time.Time
	// used is when the record was last used.
	used time.Time
}

// BusyError is what Take returns when the endpoint's next slot is further
// away than Config.MaxWait. sender.Sender defers the delivery by RetryIn.
type BusyError struct {
	// Wait is when to ask again, from the moment Take returned.
	Wait time.Duration
}

// Error says how long the endpoint is busy.
func (e *BusyError) Error() string {
	return "endpoint rate limit: next request slot in " + e.Wait.Round(time.Millisecond).String()
}

// RetryIn returns Wait: the sender reads it to defer the delivery.
func (e *BusyError) RetryIn() time.Duration { return e.Wait }

// New returns the Limiter of cfg, its defaults applied.
func New(cfg Config) (*Limiter, error) {
	if cfg.Store == nil {
		return nil, errors.New("ratelimit: a store is required")
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, records: map[string]*record{}, lastSweep: cfg.Now()}, nil
}

// Interval is the spacing of requests at rate per second: 1/rate and 1%
// more. Spaced at 1/rate exactly, a second holds rate+1 requests, and one
// delayed on its way by more than a slot (a descheduled worker, a
// connection being set up) makes rate+2 at the receiver; the 1% lets it be
// late by one slot and 10 ms before that, for about 1% of the rate.
func Interval(rate int) time.Duration {
	return time.Second * 101 / (100 * time.Duration(rate))
}

// Take takes the next request slot of key, limited to rate requests per
// second, and waits until it is due. It returns a *BusyError, taking
// nothing, when the slot is further away than MaxWait; ctx's error when ctx
// ends while it waits (the slot is spent); and an error when the store
// cannot be read or written. A rate below 1 takes nothing.
//
// A request that wakes up later than a quarter interval (at least a
// millisecond) after its slot, the process having been descheduled, does
// not go: it would go too close to the request of the next slot. It takes
// another slot instead, up to maxLate times, and is then turned away. A
// slot that was due before the store answered (an idle endpoint, a rate
// faster than the store's round trip) goes when the store answered, late
// by the round trip, up to a quarter interval or maxStoreLate (which the
// margin of Interval covers), whichever is longer.
func (l *Limiter) Take(ctx context.Context, key string, rate int) error {
	if rate < 1 {
		return nil
	}
	interval := Interval(rate)
	r := l.record(key)
	for range maxLate {
		r.turn.Lock()
		at, err := l.reserve(ctx, key, r, interval)
		r.turn.Unlock()
		if err != nil {
			return err
		}
		reserved := l.cfg.Now()
		if reserved.Sub(at) > max(interval/4, maxStoreLate) {
			continue
		}
		at = later(at, reserved)
		if wait := at.Sub(l.cfg.Now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if l.cfg.Now().Sub(at) <= max(interval/4, minLate) {
			return nil
		}
	}
	return &BusyError{Wait: interval}
}

// maxLate bounds the slots one Take takes and misses.
const maxLate = 3

// minLate is the least lateness that misses a slot, whatever the rate:
// a wake-up is seldom more punctual.
const minLate = time.Millisecond

// maxStoreLate is the most a request goes after its slot for the store's
// round trip: the 10 ms of lateness the margin of Interval covers.
const maxStoreLate = 10 * time.Millisecond

// reserve moves key's shared record on by interval and returns the slot it
// took. r.turn is held.
func (l *Limiter) reserve(ctx context.Context, key string, r *record, interval time.Duration) (time.Time, error) {
	for range maxTries {
		if r.rev == 0 {
			if err := l.read(ctx, key, r); err != nil {
				return time.Time{}, err
			}
		}
		now := l.cfg.Now()
		at := later(now, r.next)
		if at.Sub(now) > l.cfg.MaxWait {
			r.told = later(r.told.Add(interval), at)
			return time.Time{}, &BusyError{Wait: r.told.Sub(now)}
		}
		next := at.Add(interval)
		value := strconv.AppendInt(nil, next.UnixNano(), 10)
		var rev uint64
		var err error
		if r.rev == absent {
			rev, err = l.cfg.Store.Create(ctx, key, value)
		} else {
			rev, err = l.cfg.Store.Update(ctx, key, value, r.rev)
		}
		switch {
		case err == nil:
			r.rev, r.next = rev, next
			return at, nil
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists):
			r.rev = 0 // another worker took a slot: read the record again
		default:
			r.rev = 0
			return time.Time{}, fmt.Errorf("rate limit record %s: %w", key, err)
		}
	}
	return time.Time{}, &BusyError{Wait: l.cfg.MaxWait}
}

// absent is the rev of a record the store does not hold.
const absent = ^uint64(0)

// read reads key's shared record into r.
func (l *Limiter) read(ctx context.Context, key string, r *record) error {
	e, err := l.cfg.Store.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		r.rev, r.next = absent, time.Time{}
		return nil
	case err != nil:
		return fmt.Errorf("rate limit record %s: %w", key, err)
	}
	ns, err := strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		ns = 0 // not ours: overwritten by the next slot
	}
	r.rev, r.next = e.Revision(), time.Unix(0, ns)
	return nil
}

// record returns the process's record of key, made when missing.
func (l *Limiter) record(key string) *record {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.lastSweep = now
		for k, r := range l.records {
			if now.Sub(r.used) >= sweepEvery && r.turn.TryLock() {
				delete(l.records, k)
				r.turn.Unlock()
			}
		}
	}
	r := l.records[key]
	if r == nil {
		r = &record{}
		l.records[key] = r
	}
	r.used = now
	return r
}

// Pacer returns the sender.Pacer that takes a slot of key, at rate per
// second, before every attempt of a delivery.
func (l *Limiter) Pacer(key string, rate int) sender.Pacer {
	return pacer{l: l, key: key, rate: rate}
}

// pacer is a Limiter bound to one endpoint.
type pacer struct {
	l    *Limiter
	key  string
	rate int
}

var _ sender.Pacer = pacer{}

// Wait takes the next slot of the endpoint.
func (p pacer) Wait(ctx context.Context, _ *url.URL) error { return p.l.Take(ctx, p.key, p.rate) }

// Observe learns nothing: the limit is the endpoint's, set by its owner.
func (pacer) Observe(*url.URL, *http.Response) {}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// MostInOneSecond returns the most of times that fall in any one window
// of a second: what the limit holds to rate+1.
func MostInOneSecond(times []time.Time) int {
	at := slices.Clone(times)
	slices.SortFunc(at, time.Time.Compare)
	most := 0
	for i, j := 0, 0; i < len(at); i++ {
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	return most
}
