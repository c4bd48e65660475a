package consumer_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

func TestDuplicatePublishDeliveredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	rc := newReceiver(t, nil)
	data := []byte(`{"id":"dup-1","url":"` + rc.URL + `","payload":{}}`)
	e.publish(data, "dup-1")
	e.publish(data, "dup-1")
	e.publish([]byte(`{"id":"after","url":"`+rc.URL+`","payload":{}}`), "after")
	e.startWorker(workerOpts{concurrency: 1})
	e.waitResults(2)
	if n := rc.count("dup-1"); n != 1 {
		t.Errorf("receiver saw dup-1 %d times, want 1", n)
	}
	e.expectStoredOnce("dup-1", "after")
}

func TestWorkerKilledMidDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	firstIn := make(chan struct{})
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			close(firstIn)
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	a := e.startWorker(workerOpts{concurrency: 1})
	e.publishJob(map[string]any{"id": "killed", "url": rc.URL, "payload": map[string]any{}})
	<-firstIn
	// Worker a dies: its connection goes without acknowledging anything.
	a.bus.Conn().Close()
	e.startWorker(workerOpts{concurrency: 1})
	r := e.waitResults(1)[0]
	if r.ID != "killed" || r.Outcome != job.Delivered || r.Attempts < 1 {
		t.Errorf("result = %+v", r)
	}
	if n := rc.count("killed"); n != 2 {
		t.Errorf("receiver saw the job %d times, want 2 (the lost delivery and the redelivery)", n)
	}
	e.expectStoredOnce("killed")
}

func TestThreeWorkersShareTheConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	rc := newReceiver(t, nil)
	for range 3 {
		e.startWorker(workerOpts{concurrency: 16})
	}
	const n = 300
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("job-%03d", i)
		e.publish([]byte(`{"id":"`+ids[i]+`","url":"`+rc.URL+`","payload":{"i":`+fmt.Sprint(i)+`}}`), ids[i])
	}
	results := e.waitResults(n)
	seen := map[string]bool{}
	for _, r := range results {
		if seen[r.ID] {
			t.Errorf("job %s has two results", r.ID)
		}
		seen[r.ID] = true
		if r.Outcome != job.Delivered {
			t.Errorf("job %s: %+v", r.ID, r)
		}
	}
	e.expectStoredOnce(ids...)
	for _, id := range ids {
		if c := rc.count(id); c != 1 {
			t.Errorf("receiver saw %s %d times", id, c)
		}
	}
}

func TestPanicBecomesFailedResult(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	e.startWorker(workerOpts{concurrency: 1, send: func(_ context.Context, req sender.Request) sender.Result {
		if req.ID == "boom" {
			panic("sender exploded")
		}
		now := time.Now()
		return sender.Result{OK: true, Outcome: sender.Delivered, Status: 200, Attempts: 1, StartedAt: now, FinishedAt: now}
	}})
	e.publishJob(map[string]any{"id": "boom", "url": "https://example.com/hook", "payload": map[string]any{}})
	e.publishJob(map[string]any{"id": "next", "url": "https://example.com/hook", "payload": map[string]any{}})
	got := map[string]job.Result{}
	for _, r := range e.waitResults(2) {
		got[r.ID] = r
	}
	if r := got["boom"]; r.Outcome != job.Failed || r.OK || !contains(r.Error, "sender exploded") {
		t.Errorf("panicking job result = %+v", r)
	}
	if r := got["next"]; r.Outcome != job.Delivered {
		t.Errorf("next job result = %+v", r)
	}
	e.expectStoredOnce("boom", "next")
}

func TestConsumerDeletedIsBoundAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	rc := newReceiver(t, nil)
	e.startWorker(workerOpts{concurrency: 2})
	e.publishJob(map[string]any{"id": "before", "url": rc.URL, "payload": map[string]any{}})
	e.waitResults(1)
	// Wait for the acknowledgement: the work queue is empty.
	for {
		s, err := e.js.Stream(t.Context(), e.topo.Stream)
		if err != nil {
			t.Fatal(err)
		}
		if s.CachedInfo().State.Msgs == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.js.DeleteConsumer(t.Context(), e.topo.Stream, e.topo.Durable); err != nil {
		t.Fatal(err)
	}
	e.publishJob(map[string]any{"id": "after", "url": rc.URL, "payload": map[string]any{}})
	if r := e.waitResults(1)[0]; r.ID != "after" || r.Outcome != job.Delivered {
		t.Errorf("result = %+v", r)
	}
	e.expectStoredOnce("before", "after")
}
