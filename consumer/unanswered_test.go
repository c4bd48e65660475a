package consumer_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/job"
)

// TestUnansweredRequestsSentAgain loses, on the worker's connection, its
// first result and its first acknowledgement, as the servers drop what
// reaches a stream or a consumer while it has no leader: nothing answers
// them. The worker sends each again once its try is over, rather than
// wait for an answer until its operation's time is up and hand the job
// back: the job is sent once, its result stored once, and it is
// acknowledged without ever being delivered again.
func TestUnansweredRequestsSentAgain(t *testing.T) {
	t.Parallel()
	// An AckWait longer than the test: only a hand-back redelivers.
	e := newEnv(t, time.Minute)
	lossy := bustest.Lose(
		func(subject string, _ []byte) bool { return subject == e.topo.ResultSubject },
		func(subject string, data []byte) bool {
			return strings.HasPrefix(subject, "$JS.ACK.") && string(data) == "+ACK"
		},
	)
	rc := newReceiver(t, nil)
	e.startWorker(workerOpts{connOptions: []nats.Option{nats.SetCustomDialer(lossy)}})
	start := time.Now()
	e.publishJob(map[string]any{"id": "unanswered", "url": rc.URL + "/hook", "payload": map[string]any{}})

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cons, err := e.js.Consumer(ctx, e.topo.Stream, e.topo.Durable)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the job acknowledged", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.AckFloor.Stream == 1 && info.NumAckPending == 0
	})
	t.Logf("acknowledged %s after it was published", time.Since(start).Round(time.Millisecond))
	if lost := lossy.Lost(); len(lost) != 2 || lost[0] != e.topo.ResultSubject || !slices.ContainsFunc(lost, func(s string) bool { return strings.HasPrefix(s, "$JS.ACK.") }) {
		t.Fatalf("lost %v, want the first result and the first acknowledgement", lost)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || info.Delivered.Consumer != 1 {
		t.Errorf("the job was delivered %d times (%d redelivered), want once", info.Delivered.Consumer, info.NumRedelivered)
	}
	if n := rc.count("unanswered"); n != 1 {
		t.Errorf("receiver saw the job %d times, want 1", n)
	}
	e.expectStoredOnce("unanswered")
}

// TestUnansweredStateWriteSentAgain loses the worker's first write to the
// state bucket: that of a job it hands back to wait for a Retry-After. The
// worker writes it again once its try is over, so the redelivery finds
// what the first delivery spent: the result counts both attempts from the
// first delivery's start.
func TestUnansweredStateWriteSentAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 30*time.Second)
	lossy := bustest.Lose(func(subject string, _ []byte) bool { return strings.HasPrefix(subject, "$KV.") })
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	e.startWorker(workerOpts{concurrency: 1, deferAfter: 200 * time.Millisecond, connOptions: []nats.Option{nats.SetCustomDialer(lossy)}})
	e.publishJob(map[string]any{"id": "deferred", "url": rc.URL, "payload": map[string]any{}})
	r := e.waitResults(1)[0]
	if lost := lossy.Lost(); len(lost) != 1 {
		t.Fatalf("lost %v, want the first state write", lost)
	}
	if r.Outcome != job.Delivered || r.Attempts != 2 {
		t.Errorf("result = %+v, want delivered after 2 attempts", r)
	}
	// The state holds the first delivery's start: without it the result
	// would start with the redelivery, after the Retry-After.
	if !r.FinishedAt.After(r.StartedAt.Add(900 * time.Millisecond)) {
		t.Errorf("result spans %s .. %s, want started_at from the first delivery", r.StartedAt, r.FinishedAt)
	}
	e.expectStoredOnce("deferred")
}
