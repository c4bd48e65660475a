package consumer_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/job"
)

// resultHook is a worker's JetStream that calls after with the job id of
// every result it publishes, once the stream has stored it.
type resultHook struct {
	jetstream.JetStream
	after func(id string)
}

func (h resultHook) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := h.JetStream.PublishMsg(ctx, msg, opts...)
	if err == nil {
		h.after(msg.Header.Get(job.HeaderJobID))
	}
	return ack, err
}

// TestResultStoredBeforeCrashNotSentAgain kills a worker after it stored
// the results of two jobs and before it acknowledged them (one delivered
// at once, one after a retry, its progress recorded), while a third job's
// first attempt is in flight. The next worker does not send the two again:
// their stored results are the only ones and count every request the
// receiver saw. The third, which has no result, is sent again and its
// lost attempt counted.
func TestResultStoredBeforeCrashNotSentAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	const stored, retried, midAttempt = "stored-before-crash", "retried-before-crash", "killed-mid-attempt"
	midIn := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch id := r.Header.Get("webhook-id"); {
		case id == midAttempt && n == 1:
			close(midIn)
			hang(r)
		case id == retried && n == 1:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})

	// Worker a dies as kill -9 would between storing a result and the
	// acknowledgement: once both results are stored and the third job's
	// request is in, its connection goes before either job is
	// acknowledged.
	var published sync.WaitGroup
	published.Add(2)
	killed := make(chan struct{})
	a := e.startWorker(workerOpts{concurrency: 3, shutdown: 50 * time.Millisecond, afterResult: func(id string) {
		if id == stored || id == retried {
			published.Done()
			<-killed
		}
	}})
	for _, id := range []string{stored, retried, midAttempt} {
		e.publishJob(map[string]any{"id": id, "url": rc.URL, "payload": map[string]any{}})
	}
	published.Wait()
	<-midIn
	a.bus.Conn().Close()
	close(killed)
	a.kill(t)

	e.startWorker(workerOpts{concurrency: 3})
	// Every job is acknowledged, after its result was stored: the work
	// queue is empty.
	eventually(t, "every job acknowledged", func() bool {
		s, err := e.js.Stream(t.Context(), e.topo.Stream)
		return err == nil && s.CachedInfo().State.Msgs == 0
	})

	results := e.expectStoredOnce(stored, retried, midAttempt)
	for id, want := range map[string]int{stored: 1, retried: 2, midAttempt: 2} {
		r, n := results[id], rc.count(id)
		if n != want {
			t.Errorf("receiver got %s %d times, want %d", id, n, want)
		}
		if r.Outcome != job.Delivered || r.Status != http.StatusNoContent || r.Attempts != n {
			t.Errorf("stored result of %s = %+v, want delivered with 204 after %d attempts, as the receiver saw", id, r, n)
		}
	}
}
