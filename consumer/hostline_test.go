package consumer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// acquireAsync starts a job that waits for a slot of host; its result comes
// on the returned channel, and waited counts the jobs that started waiting.
func acquireAsync(t *testing.T, ctx context.Context, h *hostLimiter, host string, waited *int) <-chan bool {
	t.Helper()
	got := make(chan bool, 1)
	go func() {
		got <- h.acquire(ctx, host, func() { *waited++ }, func() {})
	}()
	return got
}

// Jobs that find their host busy wait in line and take the released slots
// in the order they came, without a hand-back.
func TestHostLineServesInOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHostLimiter(3, 3)
		for range 3 {
			if !h.tryAcquire("a:443") {
				t.Fatal("free slot refused")
			}
		}
		if h.tryAcquire("a:443") {
			t.Fatal("tryAcquire took a slot of a full host")
		}
		waited := 0
		var line []<-chan bool
		for range 3 {
			line = append(line, acquireAsync(t, t.Context(), h, "a:443", &waited))
			synctest.Wait() // in line before the next one comes
		}
		if waited != 3 {
			t.Fatalf("%d jobs waited, want 3", waited)
		}
		if !h.tryAcquire("b:443") {
			t.Error("another host's free slot refused while a's jobs wait")
		}
		if h.tryAcquire("a:443") {
			t.Error("tryAcquire jumped the line")
		}
		for i, got := range line {
			time.Sleep(time.Millisecond)
			h.release("a:443", time.Millisecond)
			synctest.Wait()
			for j, other := range line[i+1:] {
				select {
				case <-other:
					t.Fatalf("job %d got a slot before job %d", i+j+2, i+1)
				default:
				}
			}
			if ok := <-got; !ok {
				t.Fatalf("job %d in line was turned away", i+1)
			}
		}
		h.mu.Lock()
		busy := h.hosts["a:443"].busy
		h.mu.Unlock()
		if busy != 3 {
			t.Errorf("a holds %d slots after the line ran, want 3", busy)
		}
	})
}

// While none of a host's jobs has finished, the jobs in its line beyond its
// share of the slots wait minHostWait at most, and none joins them once the
// host has held its slots that long: a host slow to answer its first
// requests does not keep every slot of the worker waiting for it (the
// worker would take no job of any other host meanwhile). The first jobs in
// line wait defaultHold.
func TestHostLineOfAnUnmeasuredHostIsBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHostLimiter(2, 16)
		for range 2 {
			h.tryAcquire("a:443")
		}
		start := time.Now()
		waited := 0
		var line []<-chan bool
		for range 2 {
			line = append(line, acquireAsync(t, t.Context(), h, "a:443", &waited))
			synctest.Wait() // in line before the next one comes
		}
		// The host has just started: a job beyond its share waits too, but
		// not for long.
		beyond := acquireAsync(t, t.Context(), h, "a:443", &waited)
		if <-beyond {
			t.Fatal("a job beyond the share got a slot nobody released")
		}
		if d := time.Since(start); d != minHostWait {
			t.Errorf("the job beyond the share waited %s, want %s", d, minHostWait)
		}
		if h.acquire(t.Context(), "a:443", func() { t.Error("a job waited behind a full line of a host slow to start") }, func() {}) {
			t.Fatal("a job beyond the line got a slot")
		}
		// The first in line have waited for a slot all along.
		time.Sleep(50 * time.Millisecond)
		h.release("a:443", 50*time.Millisecond+minHostWait)
		if !<-line[0] {
			t.Fatal("the first in line did not get the released slot")
		}
		if waited != 3 {
			t.Fatalf("%d jobs waited, want 3", waited)
		}
		h.release("a:443", time.Millisecond)
		if !<-line[1] {
			t.Fatal("the second in line did not get a released slot")
		}
	})
}

// A job whose wait would be long is turned away at once: the host's jobs
// hold their slots long (a slow host), or have held them long without one
// coming free (a dead host), or the line is deep.
func TestHostLineRefusesLongWaits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// hold is how long each of two earlier jobs held a slot (0: none
		// released yet); stale is how long the slots are then held since.
		hold, stale time.Duration
		// inLine is the number of jobs waiting already.
		inLine int
		want   bool
	}{
		{"fresh host", 0, 0, 0, true},
		{"fast host", 10 * time.Millisecond, 0, 0, true},
		{"fast host, line of 3", 10 * time.Millisecond, 0, 3, true},
		{"fast host, deep line", 10 * time.Millisecond, 0, 30, false},
		{"slow host", 300 * time.Millisecond, 0, 0, false},
		{"dead host", 0, time.Second, 0, false},
		{"fast host gone dead", 10 * time.Millisecond, time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				const limit = 2
				h := newHostLimiter(limit, limit)
				for range limit {
					h.tryAcquire("a:443")
				}
				if tt.hold > 0 {
					time.Sleep(tt.hold)
					for range limit {
						h.release("a:443", tt.hold)
						h.tryAcquire("a:443")
					}
				}
				time.Sleep(tt.stale)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				waited := 0
				for range tt.inLine {
					acquireAsync(t, ctx, h, "a:443", &waited)
					synctest.Wait()
				}
				waited = 0
				got := acquireAsync(t, ctx, h, "a:443", &waited)
				synctest.Wait()
				if tt.want {
					if waited != 1 {
						t.Fatal("the job did not wait in line")
					}
					for range tt.inLine + 1 {
						h.release("a:443", tt.hold)
					}
				}
				if ok := <-got; ok != tt.want {
					t.Errorf("acquire = %v, want %v", ok, tt.want)
				}
				if !tt.want && waited != 0 {
					t.Error("a job turned away waited first")
				}
			})
		})
	}
}

// A job that gets no slot within maxQueueWait (defaultHold while none of
// the host's jobs has finished), or whose context ends, leaves the line and
// holds nothing: the next slot released goes to the job behind it, and the
// host's count of jobs in flight is right.
func TestHostLineGivesUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// measured has a job of the host finish before.
		measured bool
		want     time.Duration
	}{
		{"host measured", true, maxQueueWait},
		{"host starting", false, defaultHold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHostLimiter(1, 1)
				h.tryAcquire("a:443")
				waited := 0
				if tt.measured {
					took := acquireAsync(t, t.Context(), h, "a:443", &waited)
					synctest.Wait()
					time.Sleep(10 * time.Millisecond)
					h.release("a:443", 10*time.Millisecond)
					if !<-took {
						t.Fatal("the job in line did not get the released slot")
					}
				}
				ctx, cancel := context.WithCancel(t.Context())
				first := acquireAsync(t, ctx, h, "a:443", &waited)
				synctest.Wait()
				cancel()
				if ok := <-first; ok {
					t.Fatal("a job whose context ended got a slot")
				}
				start := time.Now()
				second := acquireAsync(t, t.Context(), h, "a:443", &waited)
				if ok := <-second; ok {
					t.Fatal("a job got a slot nobody released")
				}
				if d := time.Since(start); d != tt.want {
					t.Errorf("the job waited %s, want %s", d, tt.want)
				}
				h.mu.Lock()
				line := len(h.hosts["a:443"].line)
				h.mu.Unlock()
				if line != 0 {
					t.Errorf("%d jobs left in line, want 0", line)
				}
				h.release("a:443", 10*time.Millisecond)
				if h.len() != 0 {
					t.Error("the host is still known with nothing in flight or in line")
				}
				if !h.tryAcquire("a:443") {
					t.Error("the released slot is not free")
				}
			})
		})
	}
}

// A host whose slots move fast takes the slots nobody else wants, all of
// the worker's but limit; it does not while its jobs have not been measured
// yet, once its slots stop moving, or while another host's job waits.
func TestHostLimiterLendsIdleSlots(t *testing.T) {
	t.Parallel()
	const limit, total = 2, 8
	// fill takes slots of host until one is refused and returns how many
	// it took.
	fill := func(h *hostLimiter, host string) int {
		n := 0
		for h.tryAcquire(host) {
			n++
		}
		return n
	}
	// measured is a limiter whose host a held its slots for 10ms, freed
	// one and took what it could.
	measured := func() *hostLimiter {
		h := newHostLimiter(limit, total)
		fill(h, "a:443")
		time.Sleep(10 * time.Millisecond)
		h.release("a:443", 10*time.Millisecond)
		fill(h, "a:443")
		return h
	}
	tests := []struct {
		name string
		// setup returns the limiter after what went before.
		setup func(t *testing.T) *hostLimiter
		want  int
	}{
		{"not measured yet", func(*testing.T) *hostLimiter { return newHostLimiter(limit, total) }, limit},
		{"fast host", func(*testing.T) *hostLimiter { return measured() }, total - limit},
		{"slow host", func(*testing.T) *hostLimiter {
			h := newHostLimiter(limit, total)
			fill(h, "a:443")
			time.Sleep(time.Second)
			h.release("a:443", time.Second)
			return h
		}, limit},
		{"fast host gone quiet", func(*testing.T) *hostLimiter {
			h := measured()
			for range total - limit - 1 {
				h.release("a:443", 10*time.Millisecond)
			}
			time.Sleep(2 * maxQueueWait)
			return h
		}, limit},
		{"another host's job in line", func(t *testing.T) *hostLimiter {
			h := measured()
			for range total - limit - 1 {
				h.release("a:443", 10*time.Millisecond)
			}
			fill(h, "b:443")
			waited := 0
			acquireAsync(t, t.Context(), h, "b:443", &waited)
			synctest.Wait()
			if waited != 1 {
				t.Fatal("b's job did not wait in line")
			}
			return h
		}, limit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := tt.setup(t)
				h.mu.Lock()
				busy := 0
				if s := h.hosts["a:443"]; s != nil {
					busy = s.busy
				}
				h.mu.Unlock()
				if got := busy + fill(h, "a:443"); got != tt.want {
					t.Errorf("host a holds %d slots, want %d", got, tt.want)
				}
			})
		})
	}
}

// A job keeps its place in a line that moves, however long it waits in all.
func TestHostLineKeepsPlaceWhileItMoves(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHostLimiter(1, 1)
		h.tryAcquire("a:443")
		waited := 0
		// One job held the slot 10ms: the host is measured.
		first := acquireAsync(t, t.Context(), h, "a:443", &waited)
		synctest.Wait()
		time.Sleep(10 * time.Millisecond)
		h.release("a:443", 10*time.Millisecond)
		if !<-first {
			t.Fatal("the job in line did not get the released slot")
		}
		var line []<-chan bool
		for range 3 {
			line = append(line, acquireAsync(t, t.Context(), h, "a:443", &waited))
			synctest.Wait()
		}
		start := time.Now()
		for i, got := range line {
			time.Sleep(maxQueueWait * 3 / 4)
			h.release("a:443", maxQueueWait/10)
			if !<-got {
				t.Fatalf("job %d in line was handed back after %s in a moving line", i+1, time.Since(start))
			}
		}
		if d := time.Since(start); d <= maxQueueWait {
			t.Fatalf("the last job waited %s, want more than maxQueueWait to show anything", d)
		}
	})
}
