package ratelimit_test

import (
	"context"
	"testing"
)

// BenchmarkTake is the cost of one request to a rate-limited endpoint
// while one worker sends to it: one compare-and-set on the shared record
// on an in-process server (the limit is high enough that no request
// waits).
func BenchmarkTake(b *testing.B) {
	kv, _ := bucket(b)
	l := newLimiter(b, kv, 0)
	ctx := context.Background()
	for b.Loop() {
		if err := l.Take(ctx, "ep", 1_000_000_000); err != nil {
			b.Fatal(err)
		}
	}
}
