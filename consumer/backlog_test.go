package consumer_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
)

// TestBacklogToOneHostIsNotHandedBack publishes a backlog to one host that
// takes a few milliseconds a request through a worker of 4 slots, 1 per
// host: the jobs wait for the host's slot in the worker, or take the slots
// nobody else wants, instead of going back to the server to come again
// later. Every job is delivered at its first attempt, and (almost) none is
// delivered twice by the server.
func TestBacklogToOneHostIsNotHandedBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		time.Sleep(5 * time.Millisecond) // the receiver's latency
		w.WriteHeader(http.StatusNoContent)
	})
	const n = 60
	for i := range n {
		e.publishAsync(fmt.Sprintf(`{"id":"b-%d","url":%q,"payload":{}}`, i, rc.URL))
	}
	e.publishWait()
	e.startWorker(workerOpts{concurrency: 4, hostConcurrency: 1})
	for _, r := range e.waitResults(n) {
		if r.Outcome != job.Delivered || r.Attempts != 1 {
			t.Errorf("result = %+v, want delivered at the first attempt", r)
		}
	}
	info, err := e.js.Consumer(t.Context(), e.topo.Stream, e.topo.Durable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A worker that handed a busy host's jobs back would redeliver nearly
	// every one; a few may miss their slot on a loaded machine. Every
	// delivery takes a consumer sequence: those beyond the jobs are
	// redeliveries.
	if again := ci.Delivered.Consumer - n; again > n/10 {
		t.Errorf("%d deliveries of %d jobs again by the server, want at most %d", again, n, n/10)
	}
	if got := rc.total.Load(); got != n {
		t.Errorf("receiver got %d requests, want %d", got, n)
	}
}
