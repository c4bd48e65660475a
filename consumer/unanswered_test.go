package consumer_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/bus/bustest"
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
