package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hookworker/hookworker/internal/sleep"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pull fetches batches no larger than the free slots, so that no message
// waits in a buffer (its AckWait running) while the worker is busy, and
// starts one goroutine per message, until ctx ends.
//
// A job starts only with a working token, which it gives up while it waits
// on its destination (see deliver). So with thousands of slots the worker
// takes jobs as fast as it can work on them, not all at once: a burst does
// not become thousands of goroutines, each with its stack, queued for the
// CPU or for the NATS connection, while the jobs waiting on slow receivers
// can still fill every slot. A message fetched when ctx ends before it gets
// a token is handed back at once.
func (w *Worker) pull(ctx, jobCtx context.Context, wg *sync.WaitGroup) {
	release := func(n int) {
		for range n {
			<-w.slots
		}
	}
	// Jobs go to a goroutine that has just finished one, if one is waiting,
	// else to a new one; quit tells the waiting ones to end.
	next := make(chan jetstream.Msg)
	quit := make(chan struct{})
	defer close(quit)
	backoff := 100 * time.Millisecond
	failures := 0
	failed := func(err error) bool {
		failures++
		w.log.Warn("fetch jobs", "error", err, "retry_in", backoff)
		if !sleep.For(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, 5*time.Second)
		if failures >= 3 && w.cfg.Rebind != nil {
			cons, err := w.cfg.Rebind(ctx)
			if err != nil {
				w.log.Error("bind consumer again", "error", err)
				return ctx.Err() == nil
			}
			w.cons = cons
			failures = 0
		}
		return true
	}
	for {
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
		limit := max(1, cap(w.working)-len(w.working))
	grab:
		for n < limit {
			select {
			case w.slots <- struct{}{}:
				n++
			default:
				break grab
			}
		}
		batch, err := w.cons.Fetch(n, jetstream.FetchMaxWait(w.cfg.FetchWait))
		if err != nil {
			release(n)
			if !failed(err) {
				return
			}
			continue
		}
		used := 0
		for msg := range batch.Messages() {
			used++
			select {
			case w.working <- struct{}{}:
			case <-ctx.Done():
				// Stopping: the job has not started; it is handed back
				// through settle, so that the hand-back is recorded and
				// not taken for a lost delivery.
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.returnUnstarted(jobCtx, msg)
					release(1)
				}()
				continue
			}
			select {
			case next <- msg:
			default:
				wg.Add(1)
				go w.runJobs(jobCtx, msg, next, quit, release, wg)
			}
		}
		release(n - used)
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			if !failed(err) {
				return
			}
			continue
		}
		backoff = 100 * time.Millisecond
		failures = 0
	}
}

// runnerIdle is how long a job goroutine waits for another job before it
// ends.
const runnerIdle = time.Second

// runJobs runs msg and then, as long as one comes within runnerIdle and
// quit is open, the next job from next; it gives back the job's slot and
// working token after each. Staying costs nothing, and a goroutine that
// stays keeps the stack it grew for the first job: every new goroutine
// grows its own from a few KiB, copying it at every doubling.
func (w *Worker) runJobs(ctx context.Context, msg jetstream.Msg, next <-chan jetstream.Msg, quit <-chan struct{}, release func(int), wg *sync.WaitGroup) {
	defer wg.Done()
	var idle *time.Timer
	for {
		token, then := w.handle(ctx, msg)
		w.runParked(ctx, token, then, release, wg)
		release(1)
		if idle == nil {
			idle = time.NewTimer(runnerIdle)
		} else {
			idle.Reset(runnerIdle)
		}
		select {
		case msg = <-next:
		case <-idle.C:
			return
		case <-quit:
			idle.Stop()
			return
		}
	}
}

// runParked gives back the working token of the job just run when it held
// one, then runs then, the parked job that took the slot of its host the
// job released, with the job's slot of the worker, and so on along the
// chain. Each time, the host may have more slots for its parked jobs than
// the one released (it was measured fast meanwhile): those start on the
// worker's free slots too (see spareParked).
func (w *Worker) runParked(ctx context.Context, token bool, then *delivery, release func(int), wg *sync.WaitGroup) {
	for {
		if token {
			<-w.working
		}
		if then == nil {
			return
		}
		w.spread(ctx, then.host, release, wg)
		token, then = w.resume(ctx, then)
	}
}

// spread starts parked jobs of host on free slots of the worker, each in a
// goroutine of its own, as long as the host has spare slots for them.
func (w *Worker) spread(ctx context.Context, host string, release func(int), wg *sync.WaitGroup) {
	for {
		select {
		case w.slots <- struct{}{}:
		default:
			return
		}
		d := w.hosts.spareParked(host)
		if d == nil {
			release(1)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			token, then := w.resume(ctx, d)
			w.runParked(ctx, token, then, release, wg)
			release(1)
		}()
	}
}
