package consumer_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
)

// A slow host's jobs beyond its share wait for it parked, apart from the
// worker's slots, instead of going back to the server: none is delivered
// twice by the server, the host never gets more than its share at once,
// and a fast host's jobs behind them are delivered meanwhile. With parking
// off, the same jobs are handed back.
func TestSlowHostJobsParked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		maxParked int
		handBacks bool
	}{
		{"parked", 0, false},
		{"parking off", -1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 5*time.Second)
			var inFlight, peak atomic.Int64
			slow := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(40 * time.Millisecond)
				w.WriteHeader(http.StatusNoContent)
			})
			fast := newReceiver(t, nil)
			const slowJobs, fastJobs = 12, 4
			for i := range slowJobs {
				e.publishAsync(fmt.Sprintf(`{"id":"slow-%d","url":%q,"payload":{}}`, i, slow.URL))
			}
			for i := range fastJobs {
				e.publishAsync(fmt.Sprintf(`{"id":"fast-%d","url":%q,"payload":{}}`, i, fast.URL))
			}
			e.publishWait()
			e.startWorker(workerOpts{concurrency: 4, hostConcurrency: 1, maxParked: tt.maxParked})
			fastDone := -1
			results := e.waitResults(slowJobs + fastJobs)
			for i, r := range results {
				if r.Outcome != job.Delivered || r.Attempts != 1 {
					t.Errorf("result = %+v, want delivered at the first attempt", r)
				}
				if r.ID[:4] == "fast" {
					fastDone = i
				}
			}
			if fastDone >= len(results)-1 {
				t.Errorf("the fast host's last job finished last of all (%d of %d), want before the slow host's", fastDone+1, len(results))
			}
			if p := peak.Load(); p != 1 {
				t.Errorf("the slow host had %d requests at once, want 1 (HostConcurrency)", p)
			}
			if got := slow.total.Load(); got != slowJobs {
				t.Errorf("slow host got %d requests, want %d", got, slowJobs)
			}
			cons, err := e.js.Consumer(t.Context(), e.topo.Stream, e.topo.Durable)
			if err != nil {
				t.Fatal(err)
			}
			ci, err := cons.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			// Every delivery takes a consumer sequence: those beyond the
			// jobs are redeliveries.
			again := ci.Delivered.Consumer - slowJobs - fastJobs
			if handedBack := again > 0; handedBack != tt.handBacks {
				t.Errorf("%d deliveries again by the server, want hand-backs %v", again, tt.handBacks)
			}
		})
	}
}

// A worker that stops hands its parked jobs back at once, without waiting
// for its jobs in flight: another worker delivers them while the first
// still waits on its stuck request, and every job has one result.
func TestStopHandsBackParkedJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	release := make(chan struct{})
	firstIn := make(chan struct{})
	var requests atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if requests.Add(1) == 1 {
			close(firstIn)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ids := e.publishJobs("stuck", 4, rc.URL)
	e.publishWait()
	a := e.startWorker(workerOpts{concurrency: 4, hostConcurrency: 1, shutdown: time.Minute})
	<-firstIn
	cons, err := e.js.Consumer(t.Context(), e.topo.Stream, e.topo.Durable)
	if err != nil {
		t.Fatal(err)
	}
	// The three behind the stuck one leave the host's line within its
	// patience for a host not measured yet, and are parked.
	time.Sleep(1500 * time.Millisecond)
	if ci, err := cons.Info(t.Context()); err != nil || ci.NumAckPending != 4 || ci.NumRedelivered != 0 {
		t.Fatalf("consumer info %+v, %v: want all 4 jobs with the worker, none handed back", ci, err)
	}
	stopped := make(chan struct{})
	go func() {
		a.cancel()
		<-a.done
		close(stopped)
	}()
	e.startWorker(workerOpts{concurrency: 4})
	got := e.waitResults(3)
	select {
	case <-stopped:
		t.Fatal("the stopping worker returned while its request was stuck")
	default:
	}
	for _, r := range got {
		if r.Outcome != job.Delivered || r.Attempts != 1 {
			t.Errorf("result = %+v, want delivered at the first attempt by the second worker", r)
		}
	}
	close(release)
	<-stopped
	e.waitResults(1)
	e.expectStoredOnce(ids...)
}
