// Package sleep is the one cancellable wait: a wait that watches nothing
// but the clock and its context goes through For, never time.Sleep.
package sleep

import (
	"context"
	"time"
)

// For waits d, or until ctx ends; it reports whether d passed. A d that is
// not positive passes at once, unless ctx has ended.
func For(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
