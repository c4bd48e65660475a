// Package catalogtest starts what the tests of the event catalog and of the
// packages built on it stand on: an in-process JetStream server with the
// event topology.
package catalogtest

import (
	"context"
	"testing"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
)

// Start starts a JetStream server, connects a bus to it and ensures the
// event topology (the event stream and the catalog buckets). The
// returned context ends, and then the bus closes, when the test does.
func Start(t testing.TB) (context.Context, *bus.Bus, bus.EventsBound) {
	t.Helper()
	return StartOn(t, bustest.Server(t).ClientURL())
}

// StartOn is Start on the server at url.
func StartOn(t testing.TB, url string) (context.Context, *bus.Bus, bus.EventsBound) {
	t.Helper()
	b := Connect(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, b, eb
}

// Connect connects a bus to the server at url; it closes when the test
// ends.
func Connect(t testing.TB, url string) *bus.Bus {
	t.Helper()
	b, err := bus.Connect(bus.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}
