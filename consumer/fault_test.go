package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/job"
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

// publishJobs publishes n jobs to url, with ids prefix-000, prefix-001, …,
// and waits for the server to store them; it returns the ids.
func (e *env) publishJobs(prefix string, n int, url string) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%03d", prefix, i)
		e.publishAsync(fmt.Sprintf(`{"id":%q,"url":%q,"payload":{}}`, ids[i], url))
	}
	e.publishWait()
	return ids
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
	if r.ID != "crash-retry" || r.Outcome != job.Failed || r.Status != 500 || r.Error != "status 500 Internal Server Error (retries exhausted: 3)" {
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
		if !strings.HasPrefix(r.ID, "healthy-") || r.Outcome != job.Delivered || got[r.ID] {
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

// waitStored waits until the result stream holds a result for every id and
// returns them by id, failing on a second result for any job. Unlike
// storedResults it rides out a server that is away for a while.
func (e *env) waitStored(ids []string, within time.Duration) map[string]job.Result {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		// A whole read only once the stream holds enough results.
		byID, n, err := map[string]job.Result(nil), 0, error(nil)
		if e.storedCount() >= len(ids) {
			byID, n, err = e.readStored()
		}
		if err == nil && len(byID) >= len(ids) {
			if n != len(byID) {
				e.t.Errorf("result stream holds %d results for %d jobs", n, len(byID))
			}
			for _, id := range ids {
				if _, ok := byID[id]; !ok {
					e.t.Errorf("job %s has no stored result", id)
				}
			}
			return byID
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("result stream holds results for %d of %d jobs (last error: %v)", len(byID), len(ids), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// storedCount returns how many results the result stream holds, 0 when
// it cannot tell.
func (e *env) storedCount() int {
	ctx, cancel := context.WithTimeout(e.t.Context(), 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, e.topo.ResultStream)
	if err != nil {
		return 0
	}
	return int(s.CachedInfo().State.Msgs)
}

// readStored reads the whole result stream: results by job id, and how many
// it holds. It reads message by message, each read bounded by a timeout,
// so that a server going away in the middle fails the read (to be tried
// again) rather than holding it.
func (e *env) readStored() (map[string]job.Result, int, error) {
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, e.topo.ResultStream)
	if err != nil {
		return nil, 0, err
	}
	byID := map[string]job.Result{}
	n := 0
	st := s.CachedInfo().State
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return byID, n, err
		}
		var r job.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			e.t.Fatalf("stored result is not JSON: %v", err)
		}
		n++
		byID[r.ID] = r
	}
	return byID, n, nil
}

// TestNATSRestartMidRun stops the NATS server while jobs are in flight and
// starts it again on the same port with the same store: the worker
// reconnects by itself, and every job ends with exactly one stored result,
// each webhook having reached the receiver at least once.
func TestNATSRestartMidRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := bustest.Options("127.0.0.1", -1, dir)
	opts.ServerName = "restarted"
	srv := bustest.Start(t, opts)
	e := connectEnv(t, srv.ClientURL(), 2*time.Second)

	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		time.Sleep(5 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	const n = 200
	ids := e.publishJobs("restart", n, rc.URL)
	wk := e.startWorker(workerOpts{concurrency: 8})

	eventually(t, "a quarter of the jobs sent", func() bool { return rc.total.Load() >= n/4 })
	port := srv.Addr().(*net.TCPAddr).Port
	srv.Shutdown()
	srv.WaitForShutdown()
	eventually(t, "the worker to see the server gone", func() bool { return !wk.bus.Connected() })
	restarted := *opts
	restarted.Port = port
	bustest.Start(t, &restarted)

	e.waitStored(ids, 60*time.Second)
	if !wk.bus.Connected() {
		t.Error("worker not connected after the restart")
	}
	for _, id := range ids {
		if c := rc.count(id); c < 1 {
			t.Errorf("receiver never saw %s", id)
		}
	}
	// Stop the worker while the restarted server is up: cleanups run last
	// first, and the server's was registered after the worker's.
	wk.stop(t)
}

// eventually polls cond until it holds, failing after 30s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReceiverRefusesThenReturns takes the receiver away (its port refuses
// connections) and brings it back on the same port: jobs with retries left
// are delivered once it is back, and a job without retries fails with the
// real cause.
func TestReceiverRefusesThenReturns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5*time.Second)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: connections are refused

	refused := &refusals{}
	// Retries 200ms..1s apart: the receiver comes back (within microseconds
	// of the last refusal the test waits for) long before they run out.
	e.startWorker(workerOpts{concurrency: 8, maxRetries: 5, backoffMin: 200 * time.Millisecond, backoffMax: time.Second, observer: refused})
	const nPatient, nImpatient = 4, 2
	var ids []string
	for i := range nPatient {
		id := fmt.Sprintf("patient-%d", i)
		ids = append(ids, id)
		e.publishJob(map[string]any{"id": id, "url": "http://" + addr + "/hook", "payload": map[string]any{}})
	}
	for i := range nImpatient {
		id := fmt.Sprintf("impatient-%d", i)
		ids = append(ids, id)
		e.publishJob(map[string]any{"id": id, "url": "http://" + addr + "/hook", "payload": map[string]any{}, "max_retries": 0})
	}
	got := map[string]job.Result{}
	for _, r := range e.waitResults(nImpatient) {
		got[r.ID] = r
	}
	eventually(t, "every job to meet a refusal", func() bool { return refused.n.Load() >= nPatient+nImpatient })

	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	rc := newReceiver(t, nil)
	rc.Close()
	back := httptest.NewUnstartedServer(rc.Config.Handler)
	back.Listener = l
	back.Start()
	t.Cleanup(back.Close)

	for _, r := range e.waitResults(nPatient) {
		got[r.ID] = r
	}
	retried := 0
	for i := range nImpatient {
		r := got[fmt.Sprintf("impatient-%d", i)]
		if r.Outcome != job.Failed || r.Status != 0 || r.Attempts != 1 || !strings.Contains(r.Error, "connection refused") {
			t.Errorf("impatient job result = %+v, want failed by the refused connection", r)
		}
	}
	for i := range nPatient {
		id := fmt.Sprintf("patient-%d", i)
		r := got[id]
		if r.Outcome != job.Delivered || r.Attempts < 2 || r.Attempts > 6 || r.Error != "" {
			t.Errorf("patient job result = %+v, want delivered after refusals, within 1+5 attempts", r)
		}
		retried += r.Attempts - 1
		if c := rc.count(id); c != 1 {
			t.Errorf("receiver saw %s %d times, want 1", id, c)
		}
	}
	// Every refused attempt is counted in a result.
	if n := int(refused.n.Load()); n != nImpatient+retried {
		t.Errorf("%d refused attempts, results count %d", n, nImpatient+retried)
	}
	e.expectStoredOnce(ids...)
}

// refusals is a sender.Observer counting attempts without a response.
type refusals struct{ n atomic.Int64 }

func (r *refusals) Attempt(status int) {
	if status == 0 {
		r.n.Add(1)
	}
}
func (r *refusals) Retry()       {}
func (r *refusals) ProxyBurned() {}

// TestJobThatKeepsKillingItsWorkerFails defers a job once (a hand-back, not
// a lost delivery), then kills the worker that has it twice: the next
// delivery, past the two lost deliveries allowed, fails the job with the
// last status and every attempt counted, and sends nothing more.
func TestJobThatKeepsKillingItsWorkerFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	in := make(chan struct{}, 3)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		in <- struct{}{}
		hang(r)
	})
	const lostAllowed = 2
	opts := workerOpts{concurrency: 1, deferAfter: 200 * time.Millisecond, maxRedeliveries: lostAllowed, shutdown: 50 * time.Millisecond}
	w := e.startWorker(opts)
	e.publishJob(map[string]any{"id": "killer", "url": rc.URL, "payload": map[string]any{}})
	for range lostAllowed {
		<-in
		w.kill(t)
		w = e.startWorker(opts)
	}
	r := e.waitResults(1)[0]
	if r.ID != "killer" || r.Outcome != job.Failed || r.Status != 429 || r.URL != rc.URL ||
		r.Error != fmt.Sprintf("abandoned after %d deliveries without completion", lostAllowed) {
		t.Errorf("result = %+v, want failed as abandoned, with the last status and url", r)
	}
	if n := rc.count("killer"); r.Attempts != n || n != 1+lostAllowed {
		t.Errorf("result counts %d attempts, receiver saw %d requests; want %d", r.Attempts, n, 1+lostAllowed)
	}
	e.expectStoredOnce("killer")
}
