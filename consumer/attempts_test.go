package consumer_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
)

// TestFirstAttemptLostInCrashCounted kills a worker during a job's very
// first attempt, before anything about the job was recorded: the
// redelivery that succeeds counts the lost delivery's attempt, as JetStream
// counted the delivery, so the result says two attempts, as the receiver
// saw two requests.
func TestFirstAttemptLostInCrashCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	firstIn := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			close(firstIn)
			hang(r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	a := e.startWorker(workerOpts{concurrency: 1, shutdown: 50 * time.Millisecond})
	e.publishJob(map[string]any{"id": "crash-first", "url": rc.URL, "payload": map[string]any{}})
	<-firstIn
	a.kill(t)

	e.startWorker(workerOpts{concurrency: 1})
	r := e.waitResults(1)[0]
	if r.ID != "crash-first" || r.Outcome != job.Delivered || r.Status != 204 {
		t.Errorf("result = %+v, want delivered with 204", r)
	}
	if n := rc.count("crash-first"); r.Attempts != n || n != 2 {
		t.Errorf("result counts %d attempts, receiver saw %d requests; want 2 and 2", r.Attempts, n)
	}
	e.expectStoredOnce("crash-first")
}

// TestAbandonedJobKeepsItsAccount kills every worker that takes a job
// during its first attempt, until the job has lost more deliveries than
// allowed: its failed result still says where it was sent and how many
// attempts it took (one per lost delivery), not zero and null.
func TestAbandonedJobKeepsItsAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	in := make(chan struct{}, 3)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		in <- struct{}{}
		hang(r)
	})
	const lostAllowed = 2
	opts := workerOpts{concurrency: 1, maxRedeliveries: lostAllowed, shutdown: 50 * time.Millisecond}
	w := e.startWorker(opts)
	e.publishJob(map[string]any{"id": "abandoned", "url": rc.URL + "/hook", "payload": map[string]any{}})
	for range lostAllowed {
		<-in
		w.kill(t)
		w = e.startWorker(opts)
	}
	r := e.waitResults(1)[0]
	if r.Outcome != job.Failed || r.URL != rc.URL+"/hook" || r.Status != 0 {
		t.Errorf("result = %+v, want failed, with the job's url and no status", r)
	}
	if n := rc.count("abandoned"); r.Attempts != n || n != lostAllowed {
		t.Errorf("result counts %d attempts, receiver saw %d requests; want %d", r.Attempts, n, lostAllowed)
	}
	e.expectStoredOnce("abandoned")
}

// TestProgressOverMaxPayloadKept has a job's progress hold a response too
// large for the server's max payload once escaped (a 500 with a body of
// '<'), then kills the worker during the retry: the progress was kept
// without the response, so the abandoned job still reports the status and
// both attempts, and says its response was cut.
func TestProgressOverMaxPayloadKept(t *testing.T) {
	t.Parallel()
	e := newEnvMaxPayload(t, time.Second, 128<<10)
	secondIn := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 2 {
			close(secondIn)
			hang(r)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(strings.Repeat("<", 60_000)))
	})
	opts := workerOpts{concurrency: 1, maxRedeliveries: 1, shutdown: 50 * time.Millisecond}
	w := e.startWorker(opts)
	e.publishJob(map[string]any{"id": "progress", "url": rc.URL, "payload": map[string]any{}})
	<-secondIn
	w.kill(t)
	e.startWorker(opts)
	r := e.waitResults(1)[0]
	if r.Outcome != job.Failed || r.Status != 500 || r.Attempts != 2 || !slices.Equal(r.Truncated, []string{"response"}) {
		t.Errorf("result = %+v, want failed with status 500 after 2 attempts, response truncated", r)
	}
	e.expectStoredOnce("progress")
}
