package sleep_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/sleep"
)

func TestFor(t *testing.T) {
	t.Parallel()
	t.Run("passes", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		if !sleep.For(context.Background(), 10*time.Millisecond) {
			t.Fatal("For reported the wait cut short")
		}
		if waited := time.Since(start); waited < 10*time.Millisecond {
			t.Errorf("waited %s, want at least 10ms", waited)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Millisecond, cancel)
		if sleep.For(ctx, time.Hour) {
			t.Fatal("For reported an hour passed")
		}
	})
	t.Run("ended before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if sleep.For(ctx, time.Hour) {
			t.Fatal("For waited with its context ended")
		}
	})
}
