package endpoint_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/ratelimit"
	"github.com/hookworker/hookworker/job"
)

// TestRateLimitAcrossWorkers: two workers deliver to an endpoint limited
// to 10 requests a second; it gets at most 11 in any second, every job
// ends delivered, and an endpoint without a limit that receives the same
// events is not held back: the jobs waiting for their slot hold none of
// the workers' (four each).
func TestRateLimitAcrossWorkers(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 2, 4, 30*time.Second, []time.Duration{})
	limited := newLogReceiver(t, nil)
	free := newLogReceiver(t, nil)
	f.putEndpoint(t, catalog.Endpoint{ID: "limited", URL: limited.URL, RateLimit: 10})
	f.putEndpoint(t, catalog.Endpoint{ID: "free", URL: free.URL})
	start := time.Now()
	ids := f.send(t, 30)

	f.waitResults(t, "free", ids, 10*time.Second)
	freeDone := time.Since(start)
	for _, r := range f.waitResults(t, "limited", ids, 20*time.Second) {
		if r.Outcome != job.Delivered || r.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts (%s), want delivered at the first", r.ID, r.Outcome, r.Attempts, r.Error)
		}
	}
	limitedDone := time.Since(start)
	got := limited.arrivals()
	if len(got) != len(ids) {
		t.Errorf("limited endpoint got %d requests, want %d", len(got), len(ids))
	}
	if most := ratelimit.MostInOneSecond(arrivalTimes(got)); most > 11 {
		t.Errorf("limited endpoint got %d requests in one second, want at most 11", most)
	}
	workers := map[string]bool{}
	for _, a := range got {
		workers[a.worker] = true
	}
	t.Logf("limited endpoint: %d requests from %d workers in %s; free endpoint done in %s", len(got), len(workers), limitedDone, freeDone)
	if freeDone > limitedDone/2 {
		t.Errorf("the endpoint without a limit was done after %s, the limited one after %s: held back", freeDone, limitedDone)
	}
}

// arrivalTimes returns when each of got came.
func arrivalTimes(got []arrival) []time.Time {
	at := make([]time.Time, len(got))
	for i, a := range got {
		at[i] = a.at
	}
	return at
}

// TestOrderedAcrossWorkers: two workers deliver the events of an ordered
// endpoint one at a time, in the order they were stored, a head that fails
// twice holding back its own endpoint until its retry is delivered; an
// unordered endpoint of the same events is not held back by it.
func TestOrderedAcrossWorkers(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 2, 8, 30*time.Second, []time.Duration{200 * time.Millisecond, 200 * time.Millisecond})
	var mu sync.Mutex
	failures := 0
	ordered := newLogReceiver(t, func(a arrival, _ int) int {
		mu.Lock()
		defer mu.Unlock()
		if a.event == "evt_005" && failures < 2 {
			failures++
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	unordered := newLogReceiver(t, nil)
	f.putEndpoint(t, catalog.Endpoint{ID: "fifo", URL: ordered.URL, Ordered: true})
	f.putEndpoint(t, catalog.Endpoint{ID: "any", URL: unordered.URL})
	ids := f.send(t, 30)

	f.waitResults(t, "any", ids, 10*time.Second)
	for _, r := range f.waitResults(t, "fifo", ids, 20*time.Second) {
		if r.Outcome != job.Delivered {
			t.Errorf("%s: %s (%s), want delivered", r.ID, r.Outcome, r.Error)
		}
	}
	got := ordered.arrivals()
	checkOrder(t, got, ids)
	workers := map[string]int{}
	for _, a := range got {
		workers[a.worker]++
	}
	t.Logf("ordered endpoint: %d requests, by worker %v", len(got), workers)
	if len(workers) != 2 {
		t.Errorf("requests by worker %v, want both workers to deliver", workers)
	}
}

// TestOrderedSurvivesWorkerCrash: the worker whose job to an ordered
// endpoint hangs dies; the other delivers that job again once it is
// redelivered (AckWait), then the rest, in order.
func TestOrderedSurvivesWorkerCrash(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 2, 8, 2*time.Second, []time.Duration{100 * time.Millisecond})
	hung := make(chan string, 1)
	release := make(chan struct{})
	var once sync.Once
	ordered := newLogReceiver(t, func(a arrival, _ int) int {
		hang := false
		if a.event == "evt_008" {
			once.Do(func() { hang = true })
		}
		if hang {
			hung <- a.worker
			<-release
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	f.putEndpoint(t, catalog.Endpoint{ID: "fifo", URL: ordered.URL, Ordered: true})
	ids := f.send(t, 20)

	var holder string
	select {
	case holder = <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("the eighth event never arrived")
	}
	dead := f.workers[0]
	if holder == "worker-1" {
		dead = f.workers[1]
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		close(release)
	}()
	dead.kill()
	t.Cleanup(func() {
		if t.Failed() {
			for _, a := range ordered.arrivals() {
				t.Logf("%s %s from %s", a.at.Format("15:04:05.000"), a.event, a.worker)
			}
		}
	})
	for _, r := range f.waitResults(t, "fifo", ids, 30*time.Second) {
		if r.Outcome != job.Delivered {
			t.Errorf("%s: %s (%s), want delivered", r.ID, r.Outcome, r.Error)
		}
	}
	got := ordered.arrivals()
	checkOrder(t, got, ids)
	for _, a := range got {
		if a.worker == holder && a.event > "evt_008" {
			t.Errorf("%s delivered by the worker that died", a.event)
		}
	}
}

// TestOrderedSubject: only a job marked ordered comes on an ordered
// endpoint's subject, and only on its own endpoint's; anything else there,
// or marked ordered elsewhere, is rejected with nothing sent.
func TestOrderedSubject(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 1, 4, 30*time.Second, []time.Duration{})
	rc := newLogReceiver(t, nil)
	f.putEndpoint(t, catalog.Endpoint{ID: "fifo", URL: rc.URL, Ordered: true})
	publish := func(subject, id, endpoint string, ordered bool) {
		t.Helper()
		j := map[string]any{"id": id, "url": rc.URL, "payload": map[string]any{}, "endpoint": endpoint,
			"event": map[string]any{"id": "evt_x", "type": "a.b"}, "ordered": ordered}
		body, _ := json.Marshal(j)
		if _, err := f.js.Publish(context.Background(), subject, body); err != nil {
			t.Fatal(err)
		}
	}
	endpoints := bus.EndpointSubject(f.topo.Subject)
	publish(bus.OrderedSubject(endpoints, "fifo"), "unmarked", "fifo", false)
	publish(endpoints, "marked-on-the-endpoint-subject", "fifo", true)
	publish(bus.OrderedSubject(endpoints, "other"), "another-endpoints-line", "fifo", true)
	publish(bus.OrderedSubject(endpoints, "fifo"), "evt_x:fifo", "fifo", true)
	for _, id := range []string{"unmarked", "marked-on-the-endpoint-subject", "another-endpoints-line"} {
		if r := f.waitResult(t, id); r.Outcome != job.Rejected {
			t.Errorf("%s: %s (%s), want rejected", id, r.Outcome, r.Error)
		}
	}
	if r := f.waitResult(t, "evt_x:fifo"); r.Outcome != job.Delivered {
		t.Errorf("ordered job on its endpoint's subject: %s (%s), want delivered", r.Outcome, r.Error)
	}
	if n := len(rc.arrivals()); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
}
