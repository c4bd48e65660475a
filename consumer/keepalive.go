package consumer

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keepAlive tells the server every AckWait/3 that msg is still being worked
// on, so that it is never redelivered while this worker has it. It holds no
// goroutine while it waits: a timer runs each tick and re-arms itself. The
// returned stop is idempotent; once it has returned, no further tick
// starts.
func (w *Worker) keepAlive(msg jetstream.Msg) (stop func()) {
	every := w.keepAliveEvery()
	var (
		mu      sync.Mutex
		t       *time.Timer
		stopped bool
	)
	tick := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := msg.InProgress(); err != nil {
			w.log.Debug("keep job alive", "error", err)
		}
		t.Reset(every)
	}
	mu.Lock()
	t = time.AfterFunc(every, tick)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			stopped = true
			t.Stop()
		}
	}
}

// keepAliveEvery is how often a job in flight is kept alive: every third
// of AckWait.
func (w *Worker) keepAliveEvery() time.Duration {
	return max(w.cfg.AckWait/3, 10*time.Millisecond)
}
