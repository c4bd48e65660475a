package ordering_test

import (
	"context"
	"testing"

	"github.com/hookworker/hookworker/internal/ordering"
)

// BenchmarkTurn is what an ordered job's turn costs when it is the first
// of its endpoint's: one read of the endpoint's first job, on an
// in-process server.
func BenchmarkTurn(b *testing.B) {
	l := newLine(b, "e1")
	g := l.gate(ordering.Config{})
	ctx := context.Background()
	for b.Loop() {
		if err := g.Turn(ctx, "ep", "e1", l.seq["e1"]); err != nil {
			b.Fatal(err)
		}
	}
}
