package consumer_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/sender"
)

// kill stops w the way a crash would: its connection goes first, so that
// nothing it does afterwards (a hand-back, a result, a state write) reaches
// the server; then its in-flight jobs are interrupted.
func (w *worker) kill(t *testing.T) {
	t.Helper()
	w.bus.Conn().Close()
	w.stop(t)
}

// publishAsync publishes a job without waiting for the server's
// acknowledgement; publishWait waits for them all.
func (e *env) publishAsync(data string) {
	e.t.Helper()
	if _, err := e.js.PublishAsync(e.topo.Subject, []byte(data)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) publishWait() {
	e.t.Helper()
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		e.t.Fatal("jobs not acknowledged by the server")
	}
}

// hang blocks a receiver's handler until the client gives up.
func hang(r *http.Request) { <-r.Context().Done() }

// TestAttemptsCountedAcrossCrash kills a worker during its retries: the
// redelivery goes on with the attempts and retries the dead worker spent,
// so the result counts every request the receiver saw and the job's retry
// budget holds across both workers.
func TestAttemptsCountedAcrossCrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	thirdIn := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 3 {
			close(thirdIn)
			hang(r)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})
	a := e.startWorker(workerOpts{concurrency: 1, shutdown: 50 * time.Millisecond})
	e.publishJob(map[string]any{"id": "crash-retry", "url": rc.URL, "payload": map[string]any{}, "max_retries": 3})
	<-thirdIn // two 500s, two retries used; the second retry is in flight
	a.kill(t)

	e.startWorker(workerOpts{concurrency: 1})
	r := e.waitResults(1)[0]
	// The second worker makes two more attempts: its first (not a retry:
	// the lost one was), then the third and last retry.
	const wantAttempts = 5
	if r.ID != "crash-retry" || r.Outcome != sender.Failed || r.Status != 500 || r.Error != "status 500 Internal Server Error (retries exhausted: 3)" {
		t.Errorf("result = %+v, want failed with status 500 after 3 retries", r)
	}
	if n := rc.count("crash-retry"); r.Attempts != n || n != wantAttempts {
		t.Errorf("result counts %d attempts, receiver saw %d requests; want %d and %d", r.Attempts, n, wantAttempts, wantAttempts)
	}
	e.expectStoredOnce("crash-retry")
}

// TestDeadHostBacklogDoesNotStarveOthers puts many jobs to a host that never
// answers ahead of jobs to a healthy one, more than the server would hand
// out unacknowledged by default: the healthy jobs are all delivered while
// the dead host still holds its slots and every one of its jobs is
// pending.
func TestDeadHostBacklogDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	dead := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) { hang(r) })
	healthy := newReceiver(t, nil)
	const nDead, nHealthy = 1500, 100
	for i := range nDead {
		e.publishAsync(fmt.Sprintf(`{"id":"dead-%d","url":%q,"payload":{}}`, i, dead.URL))
	}
	for i := range nHealthy {
		e.publishAsync(fmt.Sprintf(`{"id":"healthy-%d","url":%q,"payload":{}}`, i, healthy.URL))
	}
	e.publishWait()
	const hostConcurrency = 4
	e.startWorker(workerOpts{concurrency: 2 * hostConcurrency, hostConcurrency: hostConcurrency, shutdown: 50 * time.Millisecond})

	got := map[string]bool{}
	for _, r := range e.waitResults(nHealthy) {
		if !strings.HasPrefix(r.ID, "healthy-") || r.Outcome != sender.Delivered || got[r.ID] {
			t.Errorf("result = %+v, want each healthy job delivered once", r)
		}
		got[r.ID] = true
	}
	if n := dead.total.Load(); n != hostConcurrency {
		t.Errorf("dead host got %d requests, want %d (HostConcurrency, still hanging)", n, hostConcurrency)
	}
	if n := healthy.total.Load(); n != nHealthy {
		t.Errorf("healthy host got %d requests, want %d", n, nHealthy)
	}
}
