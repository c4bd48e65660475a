package consumer

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// progressMsg counts InProgress calls; no other method is used by
// keepAlive. Nothing real fits here: a real message cannot tell how often
// it was marked in progress.
type progressMsg struct {
	jetstream.Msg
	calls atomic.Int64
}

func (m *progressMsg) InProgress() error {
	m.calls.Add(1)
	return nil
}

// TestKeepAliveTicksUntilStopped checks that keepAlive marks the message in
// progress every AckWait/3, that no tick starts once stop has returned, and
// that stop may be called twice. It runs on synctest's clock: the waits take
// no time and the counts are exact.
func TestKeepAliveTicksUntilStopped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		w := newWorker(Options{AckWait: 30 * time.Second})
		msg := &progressMsg{}
		stop := w.keepAlive(msg)
		time.Sleep(35 * time.Second) // three ticks, every 10s
		synctest.Wait()
		if got := msg.calls.Load(); got != 3 {
			t.Fatalf("InProgress called %d times in 35s, want 3", got)
		}
		stop()
		stop()
		time.Sleep(time.Minute) // six ticks' worth
		synctest.Wait()
		if got := msg.calls.Load(); got != 3 {
			t.Errorf("InProgress called %d times after stop returned, want 0", got-3)
		}
	})
}
