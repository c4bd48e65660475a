package consumer_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
)

// A backlog to a host whose first answers are slow (a receiver starting
// cold) is parked while the worker has yet to measure the host, not handed
// back: the server delivers none of the jobs twice, and once the host
// answers fast they follow at its pace, on the slots it may lend beyond its
// share as well as its own. Handed back, they would come again
// spaced as if every request took a second: minutes for a backlog the host
// takes in seconds.
func TestColdHostBacklogParked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30*time.Second)
	const hostSlots, jobs = 4, 200
	var requests, inFlight, peak atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		if requests.Add(1) <= hostSlots {
			time.Sleep(300 * time.Millisecond) // the first answers: slow
		} else {
			n := inFlight.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(20 * time.Millisecond) // then fast
			inFlight.Add(-1)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for i := range jobs {
		e.publishJob(map[string]any{"id": fmt.Sprintf("cold-%03d", i), "url": rc.URL + "/hook", "payload": map[string]any{}})
	}
	e.startWorker(workerOpts{concurrency: 4 * hostSlots, hostConcurrency: hostSlots})
	for _, r := range e.waitResults(jobs) {
		if r.Outcome != job.Delivered || r.Attempts != 1 {
			t.Errorf("result = %+v, want delivered at the first attempt", r)
		}
	}
	cons, err := e.js.Consumer(t.Context(), e.topo.Stream, e.topo.Durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Delivered.Consumer != jobs || info.NumRedelivered != 0 {
		t.Errorf("the server made %d deliveries of %d jobs (%d redelivered), want each once", info.Delivered.Consumer, jobs, info.NumRedelivered)
	}
	if n := rc.total.Load(); n != jobs {
		t.Errorf("receiver got %d requests, want %d", n, jobs)
	}
	// Warm, the host is fast: its parked jobs take the slots it may lend
	// beyond its share, as a fast host's jobs do, not one per release.
	if p := peak.Load(); p <= hostSlots {
		t.Errorf("the host had at most %d requests at once once warm, want more than its share (%d)", p, hostSlots)
	}
}
