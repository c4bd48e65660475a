package fanout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How an event with ordered endpoints waits for the events before it: it
// is woken when this process is done with an event, and asks the server
// for the consumer's acknowledgement floor (the other processes' progress)
// first after minEarlierPoll, then twice as long each time, up to
// maxEarlierPoll.
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
	// moved is closed (and replaced) when floor moves.
	moved chan struct{}
}

func newProgress() progress {
	return progress{done: map[uint64]struct{}{}, moved: make(chan struct{})}
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
	close(p.moved)
	p.moved = make(chan struct{})
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
		close(p.moved)
		p.moved = make(chan struct{})
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
	for {
		p.mu.Lock()
		if p.floor+1 >= seq {
			p.mu.Unlock()
			return nil
		}
		moved := p.moved
		p.mu.Unlock()
		if wait := time.Until(next); wait <= 0 {
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
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the events before %d: %w", seq, ctx.Err())
		case <-moved:
		case <-t.C:
		}
		t.Stop()
	}
}
