package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/ratelimit"
)

// bucket returns a fresh bucket on a fresh server, and a function that
// opens it again over another connection, as another worker would.
func bucket(t testing.TB) (jetstream.KeyValue, func() jetstream.KeyValue) {
	t.Helper()
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "RATE", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	other := func() jetstream.KeyValue {
		_, js := bustest.Connect(t, srv.ClientURL())
		kv, err := js.KeyValue(context.Background(), "RATE")
		if err != nil {
			t.Fatal(err)
		}
		return kv
	}
	return kv, other
}

func newLimiter(t testing.TB, kv jetstream.KeyValue, maxWait time.Duration) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Config{Store: kv, MaxWait: maxWait})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestTwoWorkersShareTheLimit: two limiters on two connections, each with
// many requests at once to one endpoint, send at most rate (plus one) in
// any second between them; those that would wait longer than MaxWait are
// turned away with a wait, and none errs otherwise.
func TestTwoWorkersShareTheLimit(t *testing.T) {
	t.Parallel()
	kv, other := bucket(t)
	const rate = 20
	limiters := []*ratelimit.Limiter{newLimiter(t, kv, 100*time.Millisecond), newLimiter(t, other(), 100*time.Millisecond)}
	ctx := context.Background()
	var mu sync.Mutex
	var sent []time.Time
	var wg sync.WaitGroup
	deadline := time.Now().Add(1500 * time.Millisecond)
	for i := range 16 {
		l := limiters[i%2]
		wg.Go(func() {
			for time.Now().Before(deadline) {
				err := l.Take(ctx, "ep_1", rate)
				var busy *ratelimit.BusyError
				switch {
				case errors.As(err, &busy):
					if busy.RetryIn() <= 0 {
						t.Errorf("busy with a wait of %s", busy.RetryIn())
						return
					}
					time.Sleep(min(busy.RetryIn(), 20*time.Millisecond))
				case err != nil:
					t.Error(err)
					return
				default:
					mu.Lock()
					sent = append(sent, time.Now())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if most := ratelimit.MostInOneSecond(sent); most > rate+1 {
		t.Errorf("%d requests in one second, want at most %d", most, rate+1)
	}
	if len(sent) < rate {
		t.Errorf("%d requests in 1.5s, want at least %d", len(sent), rate)
	}
}

// TestOtherEndpointsKeepTheirPace: an endpoint whose slots are taken far
// ahead turns its requests away, and a request to another endpoint goes at
// once.
func TestOtherEndpointsKeepTheirPace(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	l := newLimiter(t, kv, 10*time.Millisecond)
	ctx := context.Background()
	if err := l.Take(ctx, "slow", 1); err != nil {
		t.Fatal(err)
	}
	var busy *ratelimit.BusyError
	if err := l.Take(ctx, "slow", 1); !errors.As(err, &busy) {
		t.Fatalf("second request within a second: %v, want a BusyError", err)
	}
	if busy.RetryIn() < 900*time.Millisecond || busy.RetryIn() > ratelimit.Interval(1) {
		t.Errorf("retry in %s, want about 1s", busy.RetryIn())
	}
	// Those turned away after it are told to come back one interval apart.
	var again *ratelimit.BusyError
	if err := l.Take(ctx, "slow", 1); !errors.As(err, &again) || again.RetryIn() < busy.RetryIn()+900*time.Millisecond {
		t.Errorf("third request: %v, want a BusyError about a second after the second's", err)
	}
	start := time.Now()
	if err := l.Take(ctx, "fast", 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("another endpoint's request took %s", d)
	}
}

// TestNoLimit: a rate of 0 takes nothing and never touches the store.
func TestNoLimit(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	l := newLimiter(t, kv, 0)
	for range 100 {
		if err := l.Take(context.Background(), "ep", 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Get(context.Background(), "ep"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("record of an endpoint without a limit: %v", err)
	}
}

// TestCancelledWait: a request whose context ends while it waits for its
// slot returns the context's error.
func TestCancelledWait(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	l := newLimiter(t, kv, time.Second)
	if err := l.Take(context.Background(), "ep", 2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Take(ctx, "ep", 2); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

// TestRecordLost: a record the bucket lost (aged out, purged) is made
// again.
func TestRecordLost(t *testing.T) {
	t.Parallel()
	kv, _ := bucket(t)
	l := newLimiter(t, kv, time.Second)
	ctx := context.Background()
	if err := l.Take(ctx, "ep", 1000); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, "ep"); err != nil {
		t.Fatal(err)
	}
	if err := l.Take(ctx, "ep", 1000); err != nil {
		t.Fatalf("after the record was purged: %v", err)
	}
	if _, err := kv.Get(ctx, "ep"); err != nil {
		t.Errorf("record not made again: %v", err)
	}
}

func TestMostInOneSecond(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		out := make([]time.Time, len(ms))
		for i, m := range ms {
			out[i] = t0.Add(time.Duration(m) * time.Millisecond)
		}
		return out
	}
	for _, c := range []struct {
		times []time.Time
		want  int
	}{
		{nil, 0},
		{at(0), 1},
		{at(1000, 0, 500, 999), 3}, // unsorted; a window is [t, t+1s)
		{at(0, 1000, 2000, 3000), 1},
		{at(0, 10, 20, 1005, 1015), 3},
	} {
		if got := ratelimit.MostInOneSecond(c.times); got != c.want {
			t.Errorf("MostInOneSecond(%v) = %d, want %d", c.times, got, c.want)
		}
	}
}

// slowStore answers every call after delay, as a store across a network
// (a replicated bucket) does.
type slowStore struct {
	ratelimit.Store
	delay time.Duration
}

func (s slowStore) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	time.Sleep(s.delay)
	return s.Store.Get(ctx, key)
}

func (s slowStore) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	time.Sleep(s.delay)
	return s.Store.Create(ctx, key, value, opts...)
}

func (s slowStore) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	time.Sleep(s.delay)
	return s.Store.Update(ctx, key, value, revision)
}

// An endpoint whose slots come faster than the store answers still gets
// its requests: a slot due before the store answered goes when it did,
// instead of counting as missed (every slot would be, and each request
// turned away). At a slow rate, a slow store's answer is as late as a
// quarter interval may be.
func TestStoreSlowerThanTheRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rate, takes int
		delay       time.Duration
	}{
		{1000, 5, 3 * time.Millisecond},
		{1, 1, 30 * time.Millisecond},
	} {
		kv, _ := bucket(t)
		l, err := ratelimit.New(ratelimit.Config{Store: slowStore{Store: kv, delay: c.delay}, MaxWait: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.takes {
			if err := l.Take(context.Background(), "ep", c.rate); err != nil {
				t.Fatalf("take %d at %d/s, the store answering in %s: %v", i, c.rate, c.delay, err)
			}
		}
	}
}
