package consumer

import (
	"sync/atomic"
	"testing"
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
// progress again and again, that no tick starts once stop has returned, and
// that stop may be called twice.
func TestKeepAliveTicksUntilStopped(t *testing.T) {
	t.Parallel()
	w := New(Options{AckWait: 30 * time.Millisecond})
	msg := &progressMsg{}
	stop := w.keepAlive(msg)
	deadline := time.Now().Add(5 * time.Second)
	for msg.calls.Load() < 3 {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("InProgress called %d times in 5s, want at least 3", msg.calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	stop()
	n := msg.calls.Load()
	time.Sleep(50 * time.Millisecond) // five ticks' worth
	if got := msg.calls.Load(); got != n {
		t.Errorf("InProgress called %d times after stop returned, want 0", got-n)
	}
}
