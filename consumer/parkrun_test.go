package consumer

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// parkedSetup is a worker whose host example.com:80 has one slot, taken by
// job a, which waits in its send until released is closed; job b came
// after it, found the host busy (measured slow) and was parked. It returns
// a's outcome from handle, on done, once a is released.
type parkedSetup struct {
	w        *Worker
	st       *memState
	a, b     *ackMsg
	metrics  *parkedCount
	released chan struct{}
	done     chan parkedHandled
}

// parkedHandled is what handle returned.
type parkedHandled struct {
	token bool
	next  *delivery
}

const parkHost = "example.com:80"

func newParkedSetup(t *testing.T) *parkedSetup {
	t.Helper()
	p := &parkedSetup{released: make(chan struct{}), done: make(chan parkedHandled, 1)}
	sending := make(chan struct{})
	send := func(ctx context.Context, req sender.Request) sender.Result {
		if req.ID == "a" {
			close(sending)
			<-p.released
		}
		return sender.Result{OK: true, Outcome: sender.Delivered, Status: 204, Attempts: 1, StartedAt: time.Now(), FinishedAt: time.Now()}
	}
	p.metrics = &parkedCount{}
	w := newWorker(Options{
		AckWait: time.Minute, Concurrency: 4, HostConcurrency: 1, ResultSubject: "hooks.result", Metrics: p.metrics,
		Deliverers: map[job.Type]Deliverer{
			job.Webhook: func(*job.Job) (func(context.Context, sender.Request) sender.Result, error) { return send, nil },
		},
	})
	p.st = &memState{m: map[string][]byte{}}
	w.pub, w.state = &memPub{}, p.st
	p.w = w
	p.a = &ackMsg{data: []byte(`{"id":"a","url":"http://example.com/hook","payload":{}}`)}
	p.b = &ackMsg{data: []byte(`{"id":"b","url":"http://example.com/hook","payload":{}}`)}
	w.working <- struct{}{}
	go func() {
		token, next := w.handle(context.Background(), p.a)
		p.done <- parkedHandled{token, next}
	}()
	<-sending
	w.hosts.mu.Lock()
	w.hosts.hosts[parkHost].hold = time.Second
	w.hosts.mu.Unlock()

	w.working <- struct{}{}
	token, next := w.handle(context.Background(), p.b)
	if !token || next != nil {
		t.Fatalf("handle of the job parked = %v, %p; want its token back and nothing to run next", token, next)
	}
	<-w.working
	if verbs := p.b.settled(); len(verbs) != 0 {
		t.Fatalf("the parked job was settled (%v) before its host had a slot", verbs)
	}
	if w.hosts.parked != 1 || p.metrics.n.Load() != 1 {
		t.Fatalf("%d jobs parked, the metrics told of %d; want 1", w.hosts.parked, p.metrics.n.Load())
	}
	return p
}

// parkedCount is Metrics that count the parked jobs.
type parkedCount struct {
	nopMetrics
	n atomic.Int64
}

func (c *parkedCount) Parked(delta int) { c.n.Add(int64(delta)) }

// release lets a finish, and returns what handle returned for it, its
// working token given back.
func (p *parkedSetup) release(t *testing.T) parkedHandled {
	t.Helper()
	close(p.released)
	h := <-p.done
	if h.token {
		<-p.w.working
	}
	if v := p.a.settled(); len(v) != 1 || v[0] != "ack" {
		t.Fatalf("the job in flight was settled with %v, want ack", v)
	}
	return h
}

// expire has the parked job's time run out, and waits until the worker
// has dealt with it.
func (p *parkedSetup) expire() {
	p.w.hosts.mu.Lock()
	p.w.hosts.hosts[parkHost].parked[0].until = time.Now()
	p.w.hosts.mu.Unlock()
	p.w.hosts.expire()
	p.w.background.Wait()
}

func (m *ackMsg) settled() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.verbs...)
}

// A parked job takes the slot the job before it frees, and runs on that
// job's goroutine with that job's slot of the worker: every working token
// comes back, and the host's slot is free after.
func TestParkedJobRunsWithTheFreedSlot(t *testing.T) {
	t.Parallel()
	p := newParkedSetup(t)
	h := p.release(t)
	if h.next == nil {
		t.Fatal("the freed slot went to no parked job")
	}
	token, next := p.w.resume(context.Background(), h.next)
	if token {
		<-p.w.working
	}
	if !token || next != nil {
		t.Errorf("resume = %v, %p; want the job's token and nothing to run next", token, next)
	}
	if v := p.b.settled(); len(v) != 1 || v[0] != "ack" {
		t.Errorf("the parked job was settled with %v, want ack (delivered)", v)
	}
	if n := len(p.w.working); n != 0 {
		t.Errorf("%d working tokens still taken, want none", n)
	}
	if !p.w.hosts.tryAcquire(parkHost) {
		t.Error("the host's slot is still taken after both jobs")
	}
	if n := p.metrics.n.Load(); n != 0 {
		t.Errorf("the metrics count %d jobs parked after the job went on, want 0", n)
	}
}

// A parked job is handed back, its hand-back recorded, when it waited too
// long (paced), and when its turn comes as the worker's grace ends (at
// once, the slot passed on).
func TestParkedJobHandedBack(t *testing.T) {
	t.Parallel()
	handedBack := func(t *testing.T, p *parkedSetup, paced bool) {
		t.Helper()
		p.b.mu.Lock()
		verbs, delays := p.b.verbs, p.b.delays
		p.b.mu.Unlock()
		if len(verbs) != 1 || verbs[0] != "nak" || (delays[0] > 0) != paced {
			t.Errorf("the parked job was settled with %v after %v, want one nak, paced %v", verbs, delays, paced)
		}
		var s state
		if err := json.Unmarshal(p.st.m[stateKey("b")], &s); err != nil || s.HandedBack != 1 {
			t.Errorf("state %s, want one hand-back recorded", p.st.m[stateKey("b")])
		}
	}
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		p := newParkedSetup(t)
		p.expire()
		handedBack(t, p, true)
		if n := p.metrics.n.Load(); n != 0 {
			t.Errorf("the metrics count %d jobs parked after the job was handed back, want 0", n)
		}
		if h := p.release(t); h.next != nil {
			t.Errorf("the freed slot went to %p, a job handed back", h.next)
		}
	})
	t.Run("grace over", func(t *testing.T) {
		t.Parallel()
		p := newParkedSetup(t)
		h := p.release(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		// Every token taken: the job waits for one when the grace ends.
		for range cap(p.w.working) {
			p.w.working <- struct{}{}
		}
		token, next := p.w.resume(ctx, h.next)
		if token || next != nil {
			t.Errorf("resume = %v, %p; want no token and nothing next", token, next)
		}
		handedBack(t, p, false)
		if !p.w.hosts.tryAcquire(parkHost) {
			t.Error("the host's slot is still taken after the job went back")
		}
	})
}

// A parked job whose connection was down, since it came, for longer than
// its keep-alive bridges may have been handed to another worker by the
// server: when its host's slot comes, and when it would be handed back, it
// is left to the server, neither sent nor acknowledged nor handed back,
// and its slots are freed. One whose connection was down for less goes on
// as before (the positive control).
func TestParkedJobLeftAfterOutage(t *testing.T) {
	t.Parallel()
	// AckWait is a minute: the keep-alive, every 20s, bridges 20s.
	long, short := func(time.Time) time.Duration { return 21 * time.Second }, func(time.Time) time.Duration { return 19 * time.Second }
	left := func(t *testing.T, p *parkedSetup) {
		t.Helper()
		if v := p.b.settled(); len(v) != 0 {
			t.Errorf("the parked job was settled with %v, want nothing: left to the server", v)
		}
		if _, ok := p.st.m[stateKey("b")]; ok {
			t.Errorf("the parked job's state was written: %s", p.st.m[stateKey("b")])
		}
		if n := p.metrics.n.Load(); n != 0 {
			t.Errorf("the metrics count %d jobs parked after the job was left, want 0", n)
		}
	}
	t.Run("its turn comes", func(t *testing.T) {
		t.Parallel()
		p := newParkedSetup(t)
		p.w.cfg.Outage = long
		h := p.release(t)
		token, next := p.w.resume(context.Background(), h.next)
		if token || next != nil {
			t.Errorf("resume = %v, %p; want no token and nothing next", token, next)
		}
		left(t, p)
		if n := len(p.w.working); n != 0 {
			t.Errorf("%d working tokens still taken, want none", n)
		}
		if !p.w.hosts.tryAcquire(parkHost) {
			t.Error("the host's slot is still taken after the job was left")
		}
	})
	t.Run("it expires", func(t *testing.T) {
		t.Parallel()
		p := newParkedSetup(t)
		p.w.cfg.Outage = long
		p.expire()
		left(t, p)
		p.release(t)
	})
	t.Run("a short outage", func(t *testing.T) {
		t.Parallel()
		p := newParkedSetup(t)
		p.w.cfg.Outage = short
		h := p.release(t)
		token, _ := p.w.resume(context.Background(), h.next)
		if token {
			<-p.w.working
		}
		if v := p.b.settled(); len(v) != 1 || v[0] != "ack" {
			t.Errorf("the parked job was settled with %v, want ack (delivered)", v)
		}
	})
}
