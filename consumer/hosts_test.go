package consumer

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
)

// stepClock is a clock tests move by hand.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time      { return c.t }
func (c *stepClock) add(d time.Duration) { c.t = c.t.Add(d) }
func limiterAt(limit int) (*hostLimiter, *stepClock) {
	c := &stepClock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	h := newHostLimiter(limit, limit)
	h.now, h.lastSweep = c.now, c.t
	return h, c
}

func TestHostLimiterBoundsAndPaces(t *testing.T) {
	t.Parallel()
	h, c := limiterAt(2)
	for i := range 2 {
		if !h.tryAcquire("a:443") {
			t.Fatalf("slot %d of a host limited to 2 was refused", i+1)
		}
	}
	if h.tryAcquire("a:443") {
		t.Fatal("a third job took a slot of a host limited to 2")
	}
	if !h.tryAcquire("b:443") {
		t.Fatal("another host was refused")
	}
	// Nothing held a slot yet: a job comes again after as long as the
	// host's first jobs have been out, at least minHostWait, and is not
	// lined up behind the others at a guessed pace.
	if w := h.queue("a:443", c.now()); w != minHostWait {
		t.Errorf("wait with the first jobs just out = %s, want %s", w, minHostWait)
	}
	c.add(300 * time.Millisecond)
	w1, w2 := h.queue("a:443", c.now()), h.queue("a:443", c.now())
	if w1 != 300*time.Millisecond || w2 != 300*time.Millisecond {
		t.Errorf("queued waits %s, %s with the first jobs out 300ms, want 300ms each", w1, w2)
	}
	h.release("a:443", 100*time.Millisecond)
	if !h.tryAcquire("a:443") {
		t.Error("a released slot was not free")
	}
	if w := h.queue("a:443", c.now().Add(time.Hour)); w != 50*time.Millisecond {
		t.Errorf("wait after a 100ms hold = %s, want 50ms (the hold over 2 slots)", w)
	}
	if w := h.queue("unknown:443", c.now()); w != minHostWait {
		t.Errorf("wait for an unknown host = %s, want %s", w, minHostWait)
	}
}

// Hosts with nothing in flight are forgotten: at once when nothing of
// theirs is queued, else by the sweep once their queue has run.
func TestHostLimiterForgetsIdleHosts(t *testing.T) {
	t.Parallel()
	h, c := limiterAt(1)
	const hosts = 100
	for i := range hosts {
		host := fmt.Sprintf("h%d:443", i)
		if !h.tryAcquire(host) {
			t.Fatal("slot refused")
		}
		if i%2 == 0 {
			h.hosts[host].hold = time.Second // measured
			h.queue(host, c.now())           // a hand-back due later
		}
		h.release(host, time.Second)
	}
	if n := h.len(); n != hosts/2 {
		t.Fatalf("%d hosts known after release, want %d (the ones with a hand-back due)", n, hosts/2)
	}
	c.add(hostSweepEvery)
	if !h.tryAcquire("new:443") {
		t.Fatal("slot refused")
	}
	if n := h.len(); n != 1 {
		t.Errorf("%d hosts known after the sweep, want 1 (the one in flight)", n)
	}
}

func TestHostOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		job  job.Job
		want string
	}{
		{job.Job{URLs: []string{"https://Example.com/hook"}}, "example.com:443"},
		{job.Job{URLs: []string{"http://example.com/hook"}}, "example.com:80"},
		{job.Job{URLs: []string{"http://example.com:8080/hook"}}, "example.com:8080"},
		{job.Job{URLs: []string{"https://[::1]:9/x", "https://b.example"}}, "[::1]:9"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := hostOf(&tt.job); got != tt.want {
				t.Errorf("hostOf = %q, want %q", got, tt.want)
			}
		})
	}
}
