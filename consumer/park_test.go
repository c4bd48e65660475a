package consumer_test

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/metrics"
	"github.com/hookworker/hookworker/job"
)

// A slow host's jobs beyond its share wait for it parked, apart from the
// worker's slots, instead of going back to the server: once the worker
// has measured the host slow, none of the host's jobs is delivered twice
// by the server, the host never gets more than its share at once, and a
// fast host's jobs behind them are delivered meanwhile, while the last of
// them wait longer than AckWait. With parking off, the same jobs are handed
// back.
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
			// The last parked jobs wait longer than AckWait: the worker
			// keeps them alive meanwhile.
			e := newEnv(t, time.Second)
			var inFlight, peak, requests atomic.Int64
			secondIn, published := make(chan struct{}), make(chan struct{})
			slow := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				if requests.Add(1) == 2 {
					// The host is measured slow and busy: the test
					// publishes the rest now.
					close(secondIn)
					<-published
				}
				time.Sleep(150 * time.Millisecond)
				w.WriteHeader(http.StatusNoContent)
			})
			fast := newReceiver(t, nil)
			const slowJobs, fastJobs = 10, 4
			e.publishJobs("first", 2, slow.URL)
			e.publishWait()
			e.startWorker(workerOpts{concurrency: 4, hostConcurrency: 1, maxParked: tt.maxParked})
			<-secondIn
			cons, err := e.js.Consumer(t.Context(), e.topo.Stream, e.topo.Durable)
			if err != nil {
				t.Fatal(err)
			}
			before, err := cons.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			e.publishJobs("slow", slowJobs, slow.URL)
			e.publishJobs("fast", fastJobs, fast.URL)
			e.publishWait()
			eventually(t, "the worker to take the jobs", func() bool {
				ci, err := cons.Info(t.Context())
				return err == nil && ci.Delivered.Consumer >= before.Delivered.Consumer+slowJobs+fastJobs
			})
			close(published)
			fastDone := -1
			results := e.waitResults(2 + slowJobs + fastJobs)
			for i, r := range results {
				if r.Outcome != job.Delivered || r.Attempts != 1 {
					t.Errorf("result = %+v, want delivered at the first attempt", r)
				}
				if strings.HasPrefix(r.ID, "fast") {
					fastDone = i
				}
			}
			if fastDone >= len(results)-slowJobs/2 {
				t.Errorf("the fast host's last job finished %d of %d, want before most of the slow host's", fastDone+1, len(results))
			}
			if p := peak.Load(); p != 1 {
				t.Errorf("the slow host had %d requests at once, want 1 (HostConcurrency)", p)
			}
			if got := slow.total.Load(); got != 2+slowJobs {
				t.Errorf("slow host got %d requests, want %d", got, 2+slowJobs)
			}
			after, err := cons.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			// Every delivery takes a consumer sequence: those beyond the
			// jobs published meanwhile are redeliveries.
			again := after.Delivered.Consumer - before.Delivered.Consumer - slowJobs - fastJobs
			if handedBack := again > 0; handedBack != tt.handBacks {
				t.Errorf("%d deliveries again by the server, want hand-backs %v", again, tt.handBacks)
			}
		})
	}
}

// slowThenStuck is a receiver that answers its first request after 150 ms,
// so that its host is measured slow, and holds the second until release
// is closed; stuckIn is closed when the second comes. The others are
// answered at once.
func slowThenStuck(t *testing.T, release <-chan struct{}) (rc *receiver, stuckIn <-chan struct{}) {
	t.Helper()
	stuck := make(chan struct{})
	var requests atomic.Int64
	rc = newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		switch requests.Add(1) {
		case 1:
			time.Sleep(150 * time.Millisecond)
		case 2:
			close(stuck)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return rc, stuck
}

// parkedGauge is a worker's metrics that keep the count of parked jobs.
type parkedGauge struct {
	*metrics.Metrics
	n atomic.Int64
}

func (g *parkedGauge) Parked(delta int) { g.n.Add(int64(delta)) }

// A worker that stops hands its parked jobs back at once, without waiting
// for its jobs in flight: another worker delivers them while the first
// still waits on its stuck request, and every job has one result.
func TestStopHandsBackParkedJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	release := make(chan struct{})
	rc, stuckIn := slowThenStuck(t, release)
	ids := e.publishJobs("first", 2, rc.URL)
	gauge := &parkedGauge{Metrics: metrics.New()}
	a := e.startWorker(workerOpts{concurrency: 4, hostConcurrency: 1, shutdown: time.Minute, metrics: gauge})
	<-stuckIn
	cons, err := e.js.Consumer(t.Context(), e.topo.Stream, e.topo.Durable)
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, e.publishJobs("parked", 3, rc.URL)...)
	// The first job's acknowledgement may still be on its way when the
	// others are taken: its slot went to the second before it settled.
	eventually(t, "the worker to park the jobs and the first to be acknowledged", func() bool {
		ci, err := cons.Info(t.Context())
		return err == nil && gauge.n.Load() == 3 && ci.NumAckPending <= 4
	})
	if ci, err := cons.Info(t.Context()); err != nil || ci.NumAckPending != 4 || ci.Delivered.Consumer != 5 {
		t.Fatalf("consumer info %+v, %v: want the 4 jobs left with the worker, none handed back", ci, err)
	}
	stopped := make(chan struct{})
	go func() {
		a.cancel()
		<-a.done
		close(stopped)
	}()
	e.startWorker(workerOpts{concurrency: 4})
	var got []job.Result
	for len(got) < 4 {
		got = append(got, e.waitResults(1)...)
	}
	select {
	case <-stopped:
		t.Fatal("the stopping worker returned while its request was stuck")
	default:
	}
	parked := 0
	for _, r := range got {
		if r.Outcome != job.Delivered || r.Attempts != 1 {
			t.Errorf("result = %+v, want delivered at the first attempt", r)
		}
		if strings.HasPrefix(r.ID, "parked") {
			parked++
		}
	}
	if parked != 3 {
		t.Errorf("results %+v came before the stuck job's, want the 3 parked jobs among them", got)
	}
	close(release)
	<-stopped
	e.waitResults(1)
	e.expectStoredOnce(ids...)
}

// A worker whose server goes away for longer than AckWait while it has
// jobs parked gets them again from the restarted server, which took them
// for lost: the copies it kept parked are left to the server, not sent, so
// that each job reaches the receiver once. A worker not told of its
// outages sends both copies (the positive control).
func TestParkedJobsNotSentTwiceAfterOutage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		blind bool
	}{
		{"told of outages", false},
		{"blind to outages", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := bustest.Options("127.0.0.1", -1, t.TempDir())
			srv := bustest.Start(t, opts)
			e := connectEnv(t, srv.ClientURL(), time.Second)
			release := make(chan struct{}) // after the outage
			rc, stuckIn := slowThenStuck(t, release)
			ids := e.publishJobs("first", 2, rc.URL)
			gauge := &parkedGauge{Metrics: metrics.New()}
			wk := e.startWorker(workerOpts{concurrency: 8, hostConcurrency: 1, metrics: gauge, blindToOutages: tt.blind})
			<-stuckIn
			parked := e.publishJobs("parked", 3, rc.URL)
			ids = append(ids, parked...)
			eventually(t, "the worker to park the jobs", func() bool { return gauge.n.Load() == 3 })

			// The server goes away for longer than AckWait, and comes back
			// with the same store: it delivers the jobs again, to the same
			// worker, which parks the new copies behind the old.
			port := srv.Addr().(*net.TCPAddr).Port
			srv.Shutdown()
			srv.WaitForShutdown()
			eventually(t, "the worker to see the server gone", func() bool { return !wk.bus.Connected() })
			time.Sleep(1500 * time.Millisecond)
			restarted := *opts
			restarted.Port = port
			bustest.Start(t, &restarted)
			eventually(t, "the parked jobs delivered again", func() bool { return gauge.n.Load() >= 6 })
			close(release)

			e.waitStored(ids, 30*time.Second)
			twice := 0
			for _, id := range parked {
				if rc.count(id) > 1 {
					twice++
				}
			}
			if tt.blind && twice == 0 {
				t.Error("no parked job reached the receiver twice with the worker blind to its outage: the test shows nothing")
			}
			if !tt.blind && twice > 0 {
				t.Errorf("%d parked jobs reached the receiver twice", twice)
			}
			wk.stop(t)
		})
	}
}
