package consumer_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
)

func TestSlowJobKeptAlive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		t := time.NewTimer(2500 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	})
	e.startWorker(workerOpts{concurrency: 2})
	e.startWorker(workerOpts{concurrency: 2})
	e.publishJob(map[string]any{"id": "slow", "url": rc.URL, "payload": map[string]any{}})
	r := e.waitResults(1)[0]
	if r.Outcome != job.Delivered || r.Attempts != 1 {
		t.Errorf("result = %+v", r)
	}
	if n := rc.count("slow"); n != 1 {
		t.Errorf("receiver saw the slow job %d times, want 1", n)
	}
	e.expectStoredOnce("slow")
}

// TestWaitingOnDestinationFreesWork checks that jobs waiting on their
// destination do not count against Working: with Working 2 the worker
// still holds all 12 of its slots in flight at the receiver.
func TestWaitingOnDestinationFreesWork(t *testing.T) {
	t.Parallel()
	const n = 12
	e := newEnv(t, 5*time.Second)
	var inFlight atomic.Int64
	all := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if inFlight.Add(1) == n {
			close(all)
		}
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-all:
			w.WriteHeader(http.StatusNoContent)
		case <-t.C:
			// Never n at once: fail the job (400 is not retried).
			w.WriteHeader(http.StatusBadRequest)
		case <-r.Context().Done():
		}
	})
	e.startWorker(workerOpts{concurrency: n, working: 2})
	for i := range n {
		e.publishJob(map[string]any{"id": fmt.Sprintf("wait-%d", i), "url": rc.URL, "payload": map[string]any{}})
	}
	for _, r := range e.waitResults(n) {
		if r.Outcome != job.Delivered {
			t.Errorf("job %s: outcome %s, status %d; want delivered with all %d jobs at the receiver at once", r.ID, r.Outcome, r.Status, n)
		}
	}
}

func TestDeferral(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	e.startWorker(workerOpts{concurrency: 1, deferAfter: 200 * time.Millisecond})
	e.publishJob(map[string]any{"id": "deferred", "url": rc.URL, "payload": map[string]any{}})
	r := e.waitResults(1)[0]
	if r.Outcome != job.Delivered || r.Attempts != 2 || r.Status != 204 {
		t.Errorf("result = %+v, want delivered after 2 attempts", r)
	}
	// The redelivery comes after the 1s wait; started_at is the first
	// delivery's.
	if !r.FinishedAt.After(r.StartedAt.Add(900 * time.Millisecond)) {
		t.Errorf("result spans %s .. %s, want started_at from the first delivery", r.StartedAt, r.FinishedAt)
	}
	e.expectStoredOnce("deferred")
}

func TestShutdownHandsBackInterruptedJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	firstIn := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			close(firstIn)
			<-r.Context().Done() // hangs until the worker gives up
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	a := e.startWorker(workerOpts{concurrency: 1, shutdown: 200 * time.Millisecond})
	e.publishJob(map[string]any{"id": "interrupted", "url": rc.URL, "payload": map[string]any{}})
	<-firstIn
	a.stop(t)
	e.startWorker(workerOpts{concurrency: 1})
	r := e.waitResults(1)[0]
	if r.ID != "interrupted" || r.Outcome != job.Delivered || r.Attempts != 2 {
		t.Errorf("result = %+v, want delivered with the interrupted attempt counted", r)
	}
	e.expectStoredOnce("interrupted")
}

func TestSaturatedHostDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	release := make(chan struct{})
	stuck := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	})
	healthy := newReceiver(t, nil)
	// Two slots, one per host: the stuck host may hold only one of them.
	e.startWorker(workerOpts{concurrency: 2, hostConcurrency: 1})
	for i := range 5 {
		e.publishJob(map[string]any{"id": fmt.Sprintf("stuck-%d", i), "url": stuck.URL, "payload": map[string]any{}})
	}
	for i := range 3 {
		e.publishJob(map[string]any{"id": fmt.Sprintf("healthy-%d", i), "url": healthy.URL, "payload": map[string]any{}})
	}
	// The healthy jobs are delivered while the stuck host still holds its job.
	got := map[string]bool{}
	for _, r := range e.waitResults(3) {
		got[r.ID] = true
		if r.Outcome != job.Delivered {
			t.Errorf("result = %+v", r)
		}
	}
	for i := range 3 {
		if id := fmt.Sprintf("healthy-%d", i); !got[id] {
			t.Errorf("no result for %s before the stuck host answered (got %v)", id, got)
		}
	}
	if n := stuck.total.Load(); n != 1 {
		t.Errorf("stuck host got %d requests at once, want 1 (HostConcurrency)", n)
	}
	close(release)
	rest := e.waitResults(5)
	for _, r := range rest {
		if r.Outcome != job.Delivered || r.Attempts != 1 {
			t.Errorf("result = %+v, want delivered at the first attempt", r)
		}
	}
	ids := []string{"healthy-0", "healthy-1", "healthy-2"}
	for i := range 5 {
		ids = append(ids, fmt.Sprintf("stuck-%d", i))
	}
	e.expectStoredOnce(ids...)
}

func TestDiscordDeferral(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	var calls atomic.Int64
	fakeDiscord := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"message":"You are being rate limited.","retry_after":1.0,"global":false}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer fakeDiscord.Close()
	e.startWorker(workerOpts{concurrency: 1, deferAfter: 200 * time.Millisecond})
	e.publishJob(map[string]any{
		"id": "discord-deferred", "type": "discord", "url": fakeDiscord.URL + "/api/webhooks/1/tok",
		"discord": map[string]any{"content": "later"},
	})
	r := e.waitResults(1)[0]
	if r.Outcome != job.Delivered || r.Attempts != 2 || r.Status != 204 {
		t.Errorf("result = %+v, want delivered after 2 attempts", r)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("fake Discord got %d requests, want 2", n)
	}
	e.expectStoredOnce("discord-deferred")
}
