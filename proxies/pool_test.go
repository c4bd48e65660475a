package proxies_test

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/proxies"
)

// clock is a settable time for the pool's cool-down.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func mustList(t *testing.T, s string) []*url.URL {
	t.Helper()
	list, err := proxies.ParseList(s)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// gets returns the hosts of the next n proxies, "-" for ErrNoProxy.
func gets(t *testing.T, p *proxies.Pool, n int) string {
	t.Helper()
	var out []string
	for range n {
		u, err := p.Get()
		switch {
		case errors.Is(err, proxies.ErrNoProxy):
			out = append(out, "-")
		case err != nil:
			t.Fatalf("Get: %v", err)
		default:
			out = append(out, u.Hostname())
		}
	}
	return strings.Join(out, " ")
}

func TestPoolRoundRobin(t *testing.T) {
	t.Parallel()
	p := proxies.New(mustList(t, "a:1,b:1,c:1"), time.Minute)
	if got, want := gets(t, p, 7), "a b c a b c a"; got != want {
		t.Errorf("Get order %q, want %q", got, want)
	}
	if p.Len() != 3 || p.Available() != 3 {
		t.Errorf("Len %d, Available %d; want 3, 3", p.Len(), p.Available())
	}
}

func TestPoolBurnAndCooldown(t *testing.T) {
	t.Parallel()
	c := newClock()
	list := mustList(t, "a:1,b:1:alice:secret,c:1")
	p := proxies.New(list, time.Minute)
	p.SetClock(c.now)

	b, _ := proxies.Parse("b:1:alice:secret") // an equal URL burns it too
	p.Burn(b)
	if got, want := gets(t, p, 4), "a c a c"; got != want {
		t.Errorf("after burning b: %q, want %q", got, want)
	}
	if p.Available() != 2 {
		t.Errorf("Available %d, want 2", p.Available())
	}

	c.advance(30 * time.Second)
	u, _ := p.Get() // a
	p.Burn(u)
	if got, want := gets(t, p, 3), "c c c"; got != want {
		t.Errorf("after burning a: %q, want %q", got, want)
	}

	p.Burn(list[2]) // the caller's own URL for c
	_, err := p.Get()
	if !errors.Is(err, proxies.ErrNoProxy) {
		t.Fatalf("all burned: Get error %v, want ErrNoProxy", err)
	}
	if !strings.Contains(err.Error(), "back in 30s") {
		t.Errorf("error %q does not say when b is back", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows a password", err)
	}

	c.advance(30*time.Second - time.Nanosecond)
	if got := gets(t, p, 1); got != "-" {
		t.Errorf("just before b's cool-down ends: %q, want none", got)
	}
	c.advance(time.Nanosecond)
	if got, want := gets(t, p, 2), "b b"; got != want {
		t.Errorf("b back: %q, want %q", got, want)
	}
	c.advance(time.Minute)
	if got, want := gets(t, p, 3), "c a b"; got != want {
		t.Errorf("all back: %q, want %q", got, want)
	}
}

func TestPoolBurnRestartsCooldown(t *testing.T) {
	t.Parallel()
	c := newClock()
	p := proxies.New(mustList(t, "a:1"), time.Minute)
	p.SetClock(c.now)
	u, _ := p.Get()
	p.Burn(u)
	c.advance(40 * time.Second)
	p.Burn(u)
	c.advance(40 * time.Second)
	if got := gets(t, p, 1); got != "-" {
		t.Errorf("80s after the first burn, 40s after the second: %q, want none", got)
	}
	c.advance(20 * time.Second)
	if got := gets(t, p, 1); got != "a" {
		t.Errorf("a minute after the second burn: %q, want a", got)
	}
}

func TestPoolEdges(t *testing.T) {
	t.Parallel()
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		p := proxies.New(nil, time.Minute)
		if _, err := p.Get(); !errors.Is(err, proxies.ErrNoProxy) {
			t.Errorf("Get on an empty pool: %v, want ErrNoProxy", err)
		}
		p.Burn(nil)
	})
	t.Run("nil and unknown", func(t *testing.T) {
		t.Parallel()
		p := proxies.New([]*url.URL{nil, {Scheme: "http", Host: "a:1"}}, time.Minute)
		p.Burn(nil)
		p.Burn(&url.URL{Scheme: "http", Host: "z:1"})
		if got, want := gets(t, p, 2), "a a"; got != want {
			t.Errorf("Get %q, want %q", got, want)
		}
	})
	t.Run("list copied", func(t *testing.T) {
		t.Parallel()
		list := mustList(t, "a:1")
		p := proxies.New(list, time.Minute)
		list[0].Host = "changed:1"
		u, _ := p.Get()
		u.Host = "mine:1"
		if got := gets(t, p, 1); got != "a" {
			t.Errorf("Get %q, want a", got)
		}
	})
	t.Run("default cooldown", func(t *testing.T) {
		t.Parallel()
		c := newClock()
		p := proxies.New(mustList(t, "a:1"), 0)
		p.SetClock(c.now)
		u, _ := p.Get()
		p.Burn(u)
		c.advance(proxies.DefaultCooldown - time.Nanosecond)
		if got := gets(t, p, 1); got != "-" {
			t.Errorf("before DefaultCooldown: %q, want none", got)
		}
		c.advance(time.Nanosecond)
		if got := gets(t, p, 1); got != "a" {
			t.Errorf("after DefaultCooldown: %q, want a", got)
		}
	})
}

// TestPoolConcurrent runs Get and Burn from many goroutines (meant for -race)
// and checks that round-robin stays exact while nothing is burned.
func TestPoolConcurrent(t *testing.T) {
	t.Parallel()
	const workers, each = 100, 50
	list := mustList(t, "a:1,b:1,c:1,d:1,e:1")

	p := proxies.New(list, time.Minute)
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			local := map[string]int{}
			for range each {
				u, err := p.Get()
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				local[u.Hostname()]++
			}
			mu.Lock()
			for k, v := range local {
				counts[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, u := range list {
		if got, want := counts[u.Hostname()], workers*each/len(list); got != want {
			t.Errorf("%s handed out %d times, want %d", u.Hostname(), got, want)
		}
	}

	// Burning while others get: a burned proxy is never handed out (the
	// cool-down outlasts the test) and the others keep coming.
	c := newClock()
	p = proxies.New(list, time.Hour)
	p.SetClock(c.now)
	burned := list[0]
	for i := range workers {
		wg.Go(func() {
			for j := range each {
				if i%10 == 0 && j == each/2 {
					p.Burn(burned)
				}
				if _, err := p.Get(); err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				_ = p.Available()
			}
		})
	}
	wg.Wait()
	for range 2 * len(list) {
		if u, err := p.Get(); err != nil || u.String() == burned.String() {
			t.Fatalf("Get after burning %s: %v, %v", burned.Host, u, err)
		}
	}
}
