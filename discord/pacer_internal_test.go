package discord

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the Pacer.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func webhookURL(t *testing.T, i int) *url.URL {
	t.Helper()
	u, err := url.Parse(fmt.Sprintf("https://discord.com/api/webhooks/%d/token%d", i, i))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func emptyFor(resetAfter string) *http.Response {
	h := make(http.Header)
	h.Set("X-RateLimit-Limit", "5")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset-After", resetAfter)
	return &http.Response{StatusCode: http.StatusNoContent, Header: h}
}

func TestPacerMemoryBound(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := NewPacer(PacerConfig{ProbeWait: time.Hour, MaxBuckets: 4, IdleTimeout: time.Minute})
	p.now = clock.now

	// A bucket someone waits on is never forgotten.
	busy := webhookURL(t, 1)
	p.mu.Lock()
	p.bucket(bucketKey(busy), clock.now()).waiters++
	p.mu.Unlock()
	p.Observe(busy, emptyFor("3600"))

	for i := range 20 {
		u := webhookURL(t, i+2)
		if err := p.Wait(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		p.Observe(u, emptyFor("3600"))
		if n := p.Len(); n > 4 {
			t.Fatalf("%d buckets remembered, cap 4", n)
		}
	}
	p.mu.Lock()
	_, kept := p.buckets[bucketKey(busy)]
	p.mu.Unlock()
	if !kept {
		t.Error("the bucket being waited on was forgotten")
	}

	// Idle buckets whose reset passed are forgotten after IdleTimeout.
	clock.add(2 * time.Hour)
	if err := p.Wait(context.Background(), webhookURL(t, 100)); err != nil {
		t.Fatal(err)
	}
	if n := p.Len(); n != 2 {
		t.Errorf("%d buckets remembered after all went idle, want 2 (the busy one and the new one)", n)
	}
}

func TestPacerIgnoresLateResponsesOfAnEndedWindow(t *testing.T) {
	t.Parallel()
	for _, named := range []bool{true, false} {
		t.Run(fmt.Sprint("X-RateLimit-Reset sent: ", named), func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			p := NewPacer(PacerConfig{ProbeWait: time.Hour})
			p.now = clock.now
			u := webhookURL(t, 1)
			resp := func(remaining int, resetAfter string) *http.Response {
				r := emptyFor(resetAfter)
				r.Header.Set("X-RateLimit-Remaining", fmt.Sprint(remaining))
				if named {
					r.Header.Set("X-RateLimit-Reset", "1700000002.000")
				}
				return r
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			// Window 1: five requests.
			if err := p.Wait(ctx, u); err != nil {
				t.Fatal(err)
			}
			p.Observe(u, resp(4, "2.000"))
			for range 4 {
				if err := p.Wait(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			// Window 2 starts: five more go.
			clock.add(2100 * time.Millisecond)
			for range 5 {
				if err := p.Wait(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			// Window 1's last response comes back late: it must not end
			// window 2 early.
			p.Observe(u, resp(0, "0.001"))
			clock.add(50 * time.Millisecond)
			if err := p.Wait(ctx, u); err == nil {
				t.Error("a late response of the ended window reopened the bucket")
			}
		})
	}
}
