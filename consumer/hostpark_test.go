package consumer

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// parkable returns a delivery to host, as park takes one.
func parkable(host string) *delivery { return &delivery{host: host} }

// A job whose host is busy and would keep it waiting long is parked, and the
// parked jobs take the host's released slots in the order they came, before
// any job that comes after them.
func TestHostParkingServesInOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHostLimiter(1, 4)
		if !h.tryAcquire("a:443") {
			t.Fatal("free slot refused")
		}
		h.hosts["a:443"].hold = time.Second
		first, second := parkable("a:443"), parkable("a:443")
		for _, d := range []*delivery{first, second} {
			if got := h.park(d, 100); got != parked {
				t.Fatalf("park = %v, want parked", got)
			}
		}
		if h.parked != 2 || h.parkedBytes != 200 {
			t.Errorf("parked %d jobs of %d bytes, want 2 of 200", h.parked, h.parkedBytes)
		}
		if h.tryAcquire("a:443") {
			t.Error("a job took the host's slot ahead of its parked jobs")
		}
		if h.acquire(t.Context(), "a:443", func() { t.Error("a job waited in line ahead of the parked jobs") }, func() {}) {
			t.Error("a job got a slot ahead of the parked jobs")
		}
		// Hand-backs come after the parked jobs: two holds (a second each,
		// one slot) and their own.
		if d := h.queue("a:443", time.Now()); d < 3*time.Second {
			t.Errorf("a hand-back comes again after %s, want 3s or more: behind the parked jobs", d)
		}
		if got := h.release("a:443", time.Second); got != first {
			t.Fatalf("released slot went to %p, want the first parked job %p", got, first)
		}
		if got := h.release("a:443", time.Second); got != second {
			t.Fatalf("released slot went to %p, want the second parked job %p", got, second)
		}
		if h.parked != 0 || h.parkedBytes != 0 {
			t.Errorf("parked %d jobs of %d bytes after both went, want none", h.parked, h.parkedBytes)
		}
		if got := h.release("a:443", time.Second); got != nil {
			t.Errorf("released slot went to %p with no job parked", got)
		}
		if !h.tryAcquire("a:443") {
			t.Error("the host's free slot refused once its parked jobs went")
		}
	})
}

// A job is not parked beyond the bounds: their number, their size, and a
// wait longer than maxParkWait; nor once the worker stops. One whose host
// freed a slot meanwhile takes it.
func TestHostParkingBounds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// busy takes the host's one slot, the host known to hold a slot
		// for hold.
		busy := func(h *hostLimiter, hold time.Duration) {
			t.Helper()
			if !h.tryAcquire("a:443") {
				t.Fatal("free slot refused")
			}
			h.hosts["a:443"].hold = hold
		}
		h := newHostLimiter(1, 4)
		h.maxParked = 1
		busy(h, time.Second)
		if got := h.park(parkable("a:443"), 10); got != parked {
			t.Fatalf("park = %v, want parked", got)
		}
		if got := h.park(parkable("a:443"), 10); got != notParked {
			t.Errorf("park beyond MaxParked = %v, want not parked", got)
		}

		h = newHostLimiter(1, 4)
		h.maxParkedBytes = 150
		busy(h, time.Second)
		if got := h.park(parkable("a:443"), 100); got != parked {
			t.Fatalf("park = %v, want parked", got)
		}
		if got := h.park(parkable("a:443"), 100); got != notParked {
			t.Errorf("park beyond MaxParkedBytes = %v, want not parked", got)
		}
		if got := h.park(parkable("b:443"), 10); got != parkGot {
			t.Errorf("park of an idle host's job = %v, want its free slot taken", got)
		}

		// A fast host keeps its jobs in line or hands them back: its
		// slots may be lent beyond its share.
		h = newHostLimiter(1, 4)
		busy(h, maxQueueWait)
		if got := h.park(parkable("a:443"), 10); got == parked {
			t.Errorf("a job of a host holding a slot %s was parked", maxQueueWait)
		}
		// A host not measured yet parks them, however long its first job
		// has been out: it may be slow to answer only at first.
		h = newHostLimiter(1, 4)
		busy(h, 0)
		time.Sleep(40 * time.Second)
		for range 2 {
			if got := h.park(parkable("a:443"), 10); got != parked {
				t.Errorf("park for a host not measured yet = %v, want parked", got)
			}
		}

		// A host that holds a slot 40 s: the first parked job waits 40 s,
		// the next would wait 80.
		h = newHostLimiter(1, 4)
		busy(h, 40*time.Second)
		if got := h.park(parkable("a:443"), 10); got != parked {
			t.Fatalf("park = %v, want parked", got)
		}
		if got := h.park(parkable("a:443"), 10); got != notParked {
			t.Errorf("park for a wait of 80s = %v, want not parked (at most %s)", got, maxParkWait)
		}

		h = newHostLimiter(1, 4)
		busy(h, time.Second)
		p := parkable("a:443")
		h.park(p, 10)
		if all := h.unpark(); !slices.Equal(all, []*delivery{p}) {
			t.Errorf("unpark returned %v, want the parked job", all)
		}
		if h.parked != 0 || h.parkedBytes != 0 {
			t.Errorf("parked %d jobs of %d bytes after unpark, want none", h.parked, h.parkedBytes)
		}
		if got := h.park(parkable("a:443"), 10); got != notParked {
			t.Errorf("park once the worker stops = %v, want not parked", got)
		}
		if got := h.release("a:443", time.Second); got != nil {
			t.Errorf("a released slot went to %p after unpark", got)
		}
	})
}

// A parked job that has not got a slot after parkExpiry is handed back;
// the jobs parked after it stay until theirs.
func TestHostParkingExpires(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHostLimiter(1, 4)
		var (
			mu      sync.Mutex
			expired []*delivery
		)
		h.expired = func(ds []*delivery) {
			mu.Lock()
			defer mu.Unlock()
			expired = append(expired, ds...)
		}
		got := func() []*delivery {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(expired)
		}
		if !h.tryAcquire("a:443") {
			t.Fatal("free slot refused")
		}
		h.hosts["a:443"].hold = time.Second
		early := parkable("a:443")
		h.park(early, 10)
		time.Sleep(time.Second)
		late := parkable("a:443")
		h.park(late, 10)
		// The checks come every parkCheckEvery from the first park: the
		// one at parkExpiry hands back the first job only.
		time.Sleep(parkExpiry)
		synctest.Wait()
		if e := got(); !slices.Equal(e, []*delivery{early}) {
			t.Fatalf("handed back %v after %s, want the job parked first only (%p)", e, parkExpiry, early)
		}
		time.Sleep(parkCheckEvery)
		synctest.Wait()
		if e := got(); !slices.Equal(e, []*delivery{early, late}) {
			t.Fatalf("handed back %v, want both parked jobs once each", e)
		}
		if h.parked != 0 || h.check != nil {
			t.Errorf("%d jobs parked, check armed %v, after both were handed back; want none and no check armed", h.parked, h.check != nil)
		}
		h.release("a:443", time.Second) // the bubble ends with no timer armed
	})
}
