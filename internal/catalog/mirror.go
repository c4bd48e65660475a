package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// mirror keeps a copy of a KV bucket, fed by a watch. sync makes it at least
// as recent as the bucket was when sync was called, so that a value written
// before is seen.
type mirror struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu      sync.Mutex
	values  map[string]jetstream.KeyValueEntry
	rev     uint64        // the highest revision applied
	changed chan struct{} // closed and replaced on every change
	decoded map[string]any

	// sync calls share one reading of the bucket's last sequence: pending
	// is the call that has not started yet, which every caller arriving
	// meanwhile joins; running serialises the calls.
	syncMu  sync.Mutex
	pending *syncCall
	running sync.Mutex
}

// syncCall is one shared sync: done is closed once err is set.
type syncCall struct {
	done chan struct{}
	err  error
}

func newMirror(kv jetstream.KeyValue, log *slog.Logger) *mirror {
	return &mirror{kv: kv, log: log, values: map[string]jetstream.KeyValueEntry{}, changed: make(chan struct{}), decoded: map[string]any{}}
}

// run applies the bucket's updates until ctx ends.
func (m *mirror) run(ctx context.Context) error {
	w, err := m.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", m.kv.Bucket(), err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					m.apply(e)
				}
			}
		}
	}()
	return nil
}

func (m *mirror) apply(e jetstream.KeyValueEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Operation() == jetstream.KeyValuePut {
		m.values[e.Key()] = e
	} else {
		delete(m.values, e.Key())
	}
	delete(m.decoded, e.Key())
	m.rev = max(m.rev, e.Revision())
	close(m.changed)
	m.changed = make(chan struct{})
}

// stallAfter is how long sync waits for a mirror that makes no progress
// before it serves what it has: the bucket's last message may have been
// removed (a purge of delete markers), and then it never arrives.
const stallAfter = 2 * time.Second

// syncTimeout bounds one shared sync.
const syncTimeout = 10 * time.Second

// sync waits until the mirror holds every change made to the bucket before
// it was called. Callers arriving together share one sync that starts
// after each of them arrived, so that a burst of callers costs one request
// to the server, not one each.
func (m *mirror) sync(ctx context.Context) error {
	m.syncMu.Lock()
	c := m.pending
	leader := c == nil
	if leader {
		c = &syncCall{done: make(chan struct{})}
		m.pending = c
	}
	m.syncMu.Unlock()
	if leader {
		go func() {
			m.running.Lock()
			defer m.running.Unlock()
			m.syncMu.Lock()
			m.pending = nil // callers from now on need a sync that starts later
			m.syncMu.Unlock()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
			defer cancel()
			c.err = m.syncOnce(sctx)
			close(c.done)
		}()
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("bucket %s: %w", m.kv.Bucket(), ctx.Err())
	}
}

// syncOnce reads the bucket's last sequence and waits until the mirror
// has applied it.
func (m *mirror) syncOnce(ctx context.Context) error {
	st, err := m.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", m.kv.Bucket(), err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return errors.New("bucket status without stream info")
	}
	last := bs.StreamInfo().State.LastSeq
	stall := time.NewTimer(stallAfter)
	defer stall.Stop()
	for {
		m.mu.Lock()
		rev, ch := m.rev, m.changed
		m.mu.Unlock()
		if rev >= last {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bucket %s: %w", m.kv.Bucket(), ctx.Err())
		case <-stall.C:
			m.log.Warn("bucket mirror behind the bucket's last sequence; serving what it has",
				"bucket", m.kv.Bucket(), "revision", rev, "last_sequence", last)
			return nil
		case <-ch:
			stall.Reset(stallAfter)
		}
	}
}

// each calls fn for every entry, with the value decoded by decode and kept
// until the key changes.
func eachDecoded[T any](m *mirror, decode func([]byte) (T, error), fn func(T)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.values {
		v, err := cachedDecode(m, k, e, decode)
		if err == nil {
			fn(v)
		}
	}
}

// getDecoded returns the decoded value of key from the mirror.
func getDecoded[T any](m *mirror, key string, decode func([]byte) (T, error)) (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.values[key]
	if !ok {
		var zero T
		return zero, false
	}
	v, err := cachedDecode(m, key, e, decode)
	return v, err == nil
}

func cachedDecode[T any](m *mirror, key string, e jetstream.KeyValueEntry, decode func([]byte) (T, error)) (T, error) {
	if v, ok := m.decoded[key].(T); ok {
		return v, nil
	}
	v, err := decode(e.Value())
	if err == nil {
		m.decoded[key] = v
	}
	return v, err
}
