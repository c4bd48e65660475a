package fanout

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How an event with ordered endpoints waits for the events before it: it
// is woken when this process is done with an event, and the first of the
// waiting events asks the server for the consumer's acknowledgement floor
// (the other processes' progress) for them all, first after
// minEarlierPoll, then twice as long each time, up to maxEarlierPoll.
const (
	minEarlierPoll = 2 * time.Millisecond
	maxEarlierPoll = 50 * time.Millisecond
)

// progress is how far the events are fanned out, as this process knows:
// every event up to floor (by stream sequence), and the ones past it in
// done.
type progress struct {
	mu    sync.Mutex
	floor uint64
	done  map[uint64]struct{}
	// waiting holds the events waiting for the ones before them: each is
	// woken when the floor reaches it, and the first of them (by stream
	// sequence) asks the server how far the other processes are, for all
	// of them, being woken too when it takes that over.
	waiting []*waiter
}

// waiter is an event waiting for the events before it.
type waiter struct {
	seq  uint64
	wake chan struct{} // one pending wake-up at most
}

func newProgress() progress {
	return progress{done: map[uint64]struct{}{}}
}

// signal wakes w, unless a wake-up is pending.
func (w *waiter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wait records that event seq waits. p.mu is held.
func (p *progress) wait(seq uint64) *waiter {
	w := &waiter{seq: seq, wake: make(chan struct{}, 1)}
	p.waiting = append(p.waiting, w)
	return w
}

// leave records that w no longer waits; when it was the one that asks the
// server, the next is woken to take over. p.mu is held.
func (p *progress) leave(w *waiter) {
	asked := p.first() == w
	if i := slices.Index(p.waiting, w); i >= 0 {
		p.waiting = slices.Delete(p.waiting, i, i+1)
	}
	if next := p.first(); asked && next != nil {
		next.signal()
	}
}

// first returns the waiting event of lowest sequence, nil when none waits.
// p.mu is held.
func (p *progress) first() *waiter {
	var f *waiter
	for _, w := range p.waiting {
		if f == nil || w.seq < f.seq {
			f = w
		}
	}
	return f
}

// moved wakes the waiting events the floor has reached. p.mu is held.
func (p *progress) moved() {
	for _, w := range p.waiting {
		if p.floor+1 >= w.seq {
			w.signal()
		}
	}
}

// finished records that the event of msg is done with, when disp says so:
// its jobs are stored (fanned out) or it has none (refused).
func (f *Fanout) finished(msg jetstream.Msg, disp disposition) {
	if disp.kind != fannedOut && disp.kind != refused {
		return
	}
	meta, err := msg.Metadata()
	if err != nil {
		return
	}
	f.done.add(meta.Sequence.Stream)
}

// maxDone bounds the events past the floor a process remembers: those
// another process fans out leave gaps only the server's floor closes, and
// it is asked for only while an event waits.
const maxDone = 1 << 14

// add records that event seq is done with.
func (p *progress) add(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq <= p.floor {
		return
	}
	if len(p.done) >= maxDone {
		clear(p.done) // forgotten: the server's floor tells again
	}
	p.done[seq] = struct{}{}
	p.advance()
}

// raise records that every event up to floor is done with, as the server
// says. p.mu is held.
func (p *progress) raise(floor uint64) {
	if floor <= p.floor {
		return
	}
	p.floor = floor
	for seq := range p.done {
		if seq <= floor {
			delete(p.done, seq)
		}
	}
	p.advance()
	p.moved()
}

// advance moves floor over the events done just past it. p.mu is held.
func (p *progress) advance() {
	moved := false
	for {
		if _, ok := p.done[p.floor+1]; !ok {
			break
		}
		delete(p.done, p.floor+1)
		p.floor++
		moved = true
	}
	if moved {
		p.moved()
	}
}

// waitEarlier waits until every event stored before msg's is fanned out,
// so that an ordered endpoint's jobs are published, and stored on its
// subject, in the order of their events, whichever process fans each out.
// An event is fanned out once its jobs are stored: by this process (known
// at once) or by another (known from the consumer's acknowledgement floor,
// asked for while the wait lasts). It returns ctx's error when ctx ends
// first, and the server's when it cannot be asked.
func (f *Fanout) waitEarlier(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	seq := meta.Sequence.Stream
	poll := minEarlierPoll
	next := time.Now().Add(poll)
	p := &f.done
	p.mu.Lock()
	me := p.wait(seq)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.leave(me)
		p.mu.Unlock()
	}()
	asked := false
	for {
		p.mu.Lock()
		if p.floor+1 >= seq {
			p.mu.Unlock()
			return nil
		}
		asks := p.first() == me
		p.mu.Unlock()
		if asks && !asked {
			// It has just taken over the asking.
			poll, next, asked = minEarlierPoll, time.Now().Add(minEarlierPoll), true
		}
		if asks && !time.Now().Before(next) {
			info, err := f.cons.Info(ctx)
			if err != nil {
				return fmt.Errorf("read the fan-out's progress: %w", err)
			}
			p.mu.Lock()
			p.raise(info.AckFloor.Stream)
			p.mu.Unlock()
			poll = min(2*poll, maxEarlierPoll)
			next = time.Now().Add(poll)
			continue
		}
		// The others wait until the floor reaches them or they take the
		// asking over; maxEarlierPoll bounds the wait all the same.
		wait := maxEarlierPoll
		if asks {
			wait = time.Until(next)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the events before %d: %w", seq, ctx.Err())
		case <-me.wake:
		case <-t.C:
		}
		t.Stop()
	}
}
