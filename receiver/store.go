package receiver

import (
	"context"
	"sync"
	"time"
)

// Claim is what a Store says about a webhook id asked for.
type Claim int

const (
	// Claimed: the caller now holds the id and runs the handler; it then
	// calls Complete or Release.
	Claimed Claim = iota
	// Handled: a handler already completed for the id within the store's
	// window; the delivery is a duplicate and is acknowledged.
	Handled
	// Busy: another delivery of the id holds a claim that has not expired;
	// the sender is asked to retry later.
	Busy
)

// String returns the claim's name.
func (c Claim) String() string {
	switch c {
	case Claimed:
		return "claimed"
	case Handled:
		return "handled"
	case Busy:
		return "busy"
	}
	return "unknown"
}

// Store remembers the webhook ids a receiver has handled, so that a
// delivery repeated by the sender (a retry after a lost response, a replay)
// runs its handler once. Claim must be atomic: of two concurrent calls for
// one id, at most one returns Claimed. A claim expires after a lease of the
// store's choosing, so that a receiver that dies while handling does not
// block the id for ever. Implementations must be safe for concurrent use.
type Store interface {
	// Claim reserves id for one handling.
	Claim(ctx context.Context, id string) (Claim, error)
	// Complete records that the handler for id succeeded: later claims
	// return Handled for as long as the store remembers it.
	Complete(ctx context.Context, id string) error
	// Release drops the claim on id after the handler failed, so that the
	// sender's retry runs it again.
	Release(ctx context.Context, id string) error
}

// Defaults of the stores.
const (
	// DefaultWindow is how long a store remembers a handled id.
	DefaultWindow = 24 * time.Hour
	// DefaultLease is how long a claim blocks other deliveries of its id
	// when neither Complete nor Release follows.
	DefaultLease = time.Minute
	// DefaultMaxEntries bounds the ids a MemoryStore holds.
	DefaultMaxEntries = 100_000
)

// MemoryConfig configures a MemoryStore.
type MemoryConfig struct {
	// Window is how long a handled id is remembered. Defaults to 24h.
	Window time.Duration
	// Lease is how long a claim holds when neither Complete nor Release
	// follows; it should outlast the slowest handler. Defaults to 1m.
	Lease time.Duration
	// MaxEntries bounds the ids held: past it the oldest are forgotten
	// first, so the window shrinks under a flood instead of memory
	// growing. Defaults to 100000.
	MaxEntries int
}

// MemoryStore is a Store in one process's memory: the default, right for a
// receiver that runs as one replica. Expired ids are swept as new ones
// arrive, and the number held is bounded.
type MemoryStore struct {
	window, lease time.Duration
	max           int

	mu      sync.Mutex
	entries map[string]memEntry
	order   []memRef // ids in the order their entries were written
	gen     uint64
}

type memEntry struct {
	done    bool
	expires time.Time
	gen     uint64 // which write of the id made this entry
}

type memRef struct {
	id  string
	gen uint64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore; zero fields of cfg take
// their defaults.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	return &MemoryStore{window: cfg.Window, lease: cfg.Lease, max: cfg.MaxEntries, entries: make(map[string]memEntry)}
}

// Claim implements Store.
func (s *MemoryStore) Claim(_ context.Context, id string) (Claim, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[id]; ok && now.Before(e.expires) {
		if e.done {
			return Handled, nil
		}
		return Busy, nil
	}
	s.put(id, false, now.Add(s.lease))
	s.sweep(now)
	return Claimed, nil
}

// Complete implements Store.
func (s *MemoryStore) Complete(_ context.Context, id string) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(id, true, now.Add(s.window))
	s.sweep(now)
	return nil
}

// Release implements Store. A completed id stays handled.
func (s *MemoryStore) Release(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[id]; ok && !e.done {
		delete(s.entries, id)
	}
	return nil
}

// Len returns the number of ids the store holds, expired ones not yet
// swept included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// put writes id's entry and notes the write in order.
func (s *MemoryStore) put(id string, done bool, expires time.Time) {
	s.gen++
	s.entries[id] = memEntry{done: done, expires: expires, gen: s.gen}
	s.order = append(s.order, memRef{id: id, gen: s.gen})
}

// compact drops the stale references from order once they outnumber the
// live ones, so that order stays within twice the entries held.
func (s *MemoryStore) compact() {
	if len(s.order) <= 2*len(s.entries)+64 {
		return
	}
	live := make([]memRef, 0, 2*len(s.entries))
	for _, ref := range s.order {
		if e, ok := s.entries[ref.id]; ok && e.gen == ref.gen {
			live = append(live, ref)
		}
	}
	s.order = live
}

// sweep forgets, oldest write first, the entries that have expired, and
// then the oldest ones while more than the maximum are held. A write that
// a later one replaced (or a release removed) is skipped. It stops at the
// first live entry that has not expired, so each call costs what it
// removes.
func (s *MemoryStore) sweep(now time.Time) {
	for len(s.order) > 0 {
		ref := s.order[0]
		e, ok := s.entries[ref.id]
		switch {
		case !ok || e.gen != ref.gen:
			// Stale reference: the entry was rewritten or released.
		case !now.Before(e.expires) || len(s.entries) > s.max:
			delete(s.entries, ref.id)
		default:
			s.compact()
			return
		}
		s.order[0] = memRef{}
		s.order = s.order[1:]
	}
	s.compact()
}
