package receiver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/receiver"
)

// stores returns a fresh store of each kind, named, with claims that hold
// for lease.
func stores(t *testing.T, lease time.Duration) map[string]receiver.Store {
	t.Helper()
	return map[string]receiver.Store{
		"memory": receiver.NewMemoryStore(receiver.MemoryConfig{Lease: lease}),
		"kv":     receiver.NewKVStore(newBucket(t, time.Hour), lease),
	}
}

// newBucket creates a key-value bucket with ttl on a fresh in-process
// JetStream server.
func newBucket(t *testing.T, ttl time.Duration) jetstream.KeyValue {
	t.Helper()
	_, js := bustest.Connect(t, bustest.Server(t).ClientURL())
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "webhooks_seen", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func claim(t *testing.T, s receiver.Store, id string) receiver.Claim {
	t.Helper()
	c, err := s.Claim(t.Context(), id)
	if err != nil {
		t.Fatalf("Claim(%q): %v", id, err)
	}
	return c
}

// TestStoreLifecycle runs the claim / complete / release steps against
// every store.
func TestStoreLifecycle(t *testing.T) {
	t.Parallel()
	for name, s := range stores(t, time.Hour) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			// Ids that are not valid keys as they are.
			const id, other = "evt_1:ep/1 ü", "evt_2"
			steps := []struct {
				do   func() error
				want receiver.Claim
			}{
				{nil, receiver.Claimed},
				{nil, receiver.Busy}, // the first claim holds
				{func() error { return s.Release(ctx, id) }, receiver.Claimed},
				{func() error { return s.Complete(ctx, id) }, receiver.Handled},
				{func() error { return s.Release(ctx, id) }, receiver.Handled}, // a release does not undo a completion
			}
			for i, st := range steps {
				if st.do != nil {
					if err := st.do(); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
				if got := claim(t, s, id); got != st.want {
					t.Fatalf("step %d: Claim = %s, want %s", i, got, st.want)
				}
			}
			if got := claim(t, s, other); got != receiver.Claimed {
				t.Errorf("another id: Claim = %s, want claimed", got)
			}
			if err := s.Release(ctx, "never-claimed"); err != nil {
				t.Errorf("Release of an unknown id: %v", err)
			}
		})
	}
}

// TestStoreConcurrentClaims: of many concurrent claims of one id, one wins.
func TestStoreConcurrentClaims(t *testing.T) {
	t.Parallel()
	for name, s := range stores(t, time.Hour) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for round := range 5 {
				id := fmt.Sprintf("msg_%d", round)
				var won atomic.Int32
				var wg sync.WaitGroup
				for range 10 {
					wg.Go(func() {
						c, err := s.Claim(context.Background(), id)
						if err != nil {
							t.Error(err)
						}
						if c == receiver.Claimed {
							won.Add(1)
						}
					})
				}
				wg.Wait()
				if n := won.Load(); n != 1 {
					t.Errorf("round %d: %d claims won, want 1", round, n)
				}
			}
		})
	}
}

// TestKVStoreExpiry: a claim nobody completes expires after its lease, and
// a handled id is forgotten with the bucket's TTL.
func TestKVStoreExpiry(t *testing.T) {
	t.Parallel()
	const lease, ttl = 200 * time.Millisecond, time.Second
	s := receiver.NewKVStore(newBucket(t, ttl), lease)
	eventually := func(what string, id string, want receiver.Claim) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for claim(t, s, id) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never %s", what, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if c := claim(t, s, "abandoned"); c != receiver.Claimed {
		t.Fatalf("Claim = %s", c)
	}
	if c := claim(t, s, "abandoned"); c != receiver.Busy {
		t.Fatalf("second Claim = %s, want busy", c)
	}
	eventually("abandoned claim after its lease", "abandoned", receiver.Claimed)

	if c := claim(t, s, "done"); c != receiver.Claimed {
		t.Fatalf("Claim = %s", c)
	}
	if err := s.Complete(t.Context(), "done"); err != nil {
		t.Fatal(err)
	}
	if c := claim(t, s, "done"); c != receiver.Handled {
		t.Fatalf("Claim after Complete = %s, want handled", c)
	}
	eventually("handled id after the bucket's TTL", "done", receiver.Claimed)
}

// TestMemoryStoreExpiry: claims expire after the lease, handled ids after
// the window, and both are swept from memory.
func TestMemoryStoreExpiry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := receiver.NewMemoryStore(receiver.MemoryConfig{Window: time.Hour, Lease: time.Minute})
		c := func(id string) receiver.Claim {
			got, err := s.Claim(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		c("abandoned")
		c("done")
		if err := s.Complete(ctx, "done"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute - time.Second)
		if got := c("abandoned"); got != receiver.Busy {
			t.Errorf("claim before its lease ends: %s, want busy", got)
		}
		time.Sleep(time.Second)
		if got := c("abandoned"); got != receiver.Claimed {
			t.Errorf("claim after its lease: %s, want claimed", got)
		}
		if got := c("done"); got != receiver.Handled {
			t.Errorf("handled id within the window: %s, want handled", got)
		}
		time.Sleep(time.Hour)
		if got := c("done"); got != receiver.Claimed {
			t.Errorf("handled id after the window: %s, want claimed", got)
		}
		// Everything but the claim just made has been swept.
		if n := s.Len(); n != 1 {
			t.Errorf("Len = %d, want 1", n)
		}
	})
}

// TestMemoryStoreBounded: past MaxEntries the oldest ids are forgotten, and
// the store's bookkeeping stays bounded however often ids are claimed and
// released.
func TestMemoryStoreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const max = 100
	s := receiver.NewMemoryStore(receiver.MemoryConfig{MaxEntries: max})
	for i := range 3 * max {
		id := fmt.Sprintf("msg_%d", i)
		if _, err := s.Claim(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n != max {
		t.Errorf("Len = %d, want %d", n, max)
	}
	if got := claim(t, s, "msg_0"); got != receiver.Claimed {
		t.Errorf("oldest id: %s, want claimed (forgotten)", got)
	}
	if got := claim(t, s, fmt.Sprintf("msg_%d", 3*max-1)); got != receiver.Handled {
		t.Errorf("newest id: %s, want handled", got)
	}
	// A failing handler's id, claimed and released over and over.
	for range 10 * max {
		if _, err := s.Claim(ctx, "flaky"); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, "flaky"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n > max {
		t.Errorf("Len = %d, want at most %d", n, max)
	}
}

func TestClaimString(t *testing.T) {
	t.Parallel()
	got := strings.Join([]string{receiver.Claimed.String(), receiver.Handled.String(), receiver.Busy.String(), receiver.Claim(9).String()}, " ")
	if want := "claimed handled busy unknown"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// TestReplicasShareKVStore: receivers that share a KVStore, as the replicas
// of one service do, run the handler for a webhook-id once however the
// deliveries of that id are spread over them.
func TestReplicasShareKVStore(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	kv := newBucket(t, time.Hour)
	var calls atomic.Int32
	replicas := make([]*receiver.Receiver, 3)
	for i := range replicas {
		replicas[i] = newReceiver(t, receiver.Config{Secrets: []string{secret}, Store: receiver.NewKVStore(kv, time.Minute)})
		replicas[i].On("order.created", func(context.Context, receiver.Event) error {
			calls.Add(1)
			return nil
		})
	}
	body := eventBody("order.created", nil)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			// Retried, as a sender does, until acknowledged.
			for serve(replicas[i%len(replicas)], signed(t, secret, "msg_shared", time.Now(), body)).StatusCode != 204 {
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}
