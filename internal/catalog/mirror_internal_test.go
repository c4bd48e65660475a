package catalog

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
)

// gatedKV counts Status calls and holds each until gate is closed.
type gatedKV struct {
	jetstream.KeyValue
	calls atomic.Int32
	gate  chan struct{}
}

func (g *gatedKV) Status(ctx context.Context) (jetstream.KeyValueStatus, error) {
	g.calls.Add(1)
	<-g.gate
	return g.KeyValue.Status(ctx)
}

// TestSyncsShareOneRequest checks that callers arriving while a sync runs
// share the one next sync, which starts after they arrived and sees their
// writes, instead of making a request each.
func TestSyncsShareOneRequest(t *testing.T) {
	_, js := bustest.Connect(t, bustest.Server(t).ClientURL())
	ctx := t.Context()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "MIRROR_TEST"})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedKV{KeyValue: kv, gate: make(chan struct{})}
	m := newMirror(g, slog.New(slog.DiscardHandler))
	if err := m.run(ctx); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- m.sync(ctx) }()
	for g.calls.Load() == 0 {
		runtime.Gosched() // until the first sync is held in its Status call
	}
	// Written after the first sync started: only a later sync must see it.
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	const callers = 10
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			if err := m.sync(ctx); err != nil {
				errs <- err
				return
			}
			m.mu.Lock()
			_, ok := m.values["k"]
			m.mu.Unlock()
			if !ok {
				t.Error("a sync called after the write does not see it")
			}
		})
	}
	close(g.gate)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The first, and one shared by the rest (a caller scheduled late may
	// start one more): far fewer than one each.
	if n := g.calls.Load(); n < 2 || n > callers/2 {
		t.Errorf("%d Status requests for %d syncs, want 2 (the first, and one shared by the rest)", n, callers+1)
	}
}
