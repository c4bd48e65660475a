package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/syncbuf"
)

// Sizes of a cluster run: two workers of workerSlots jobs at once each.
const (
	workerSlots   = 4
	clusterJobs   = 240
	clusterEvents = 60
	endpointID    = "ep_cluster"
)

// process is hookworker run in a process of its own (the test binary, see
// TestMain), with its own environment.
type process struct {
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	health string        // its /readyz
	done   chan struct{} // closed when it has exited
}

// startProcess starts a worker with the given HOOKWORKER_ variables and no
// other. It is killed when t ends; its log is shown when t failed.
func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "HOOKWORKER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, workerProcess+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, stderr: &syncbuf.Buffer{}, health: "http://" + env["HOOKWORKER_HTTP_ADDR"] + "/readyz", done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill() // what it did is checked by now; its way out is not
		if t.Failed() {
			t.Logf("worker %d log:\n%s", cmd.Process.Pid, p.stderr.String())
		}
	})
	return p
}

// kill kills the process as a crash would: no shutdown, nothing handed back.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ready reports whether its /readyz answers 200.
func (p *process) ready() bool {
	resp, err := http.Get(p.health)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// logged reports whether the worker logged a line with message msg.
func (p *process) logged(msg string) bool {
	return strings.Contains(p.stderr.String(), `"msg":"`+msg+`"`)
}

// servers returns, in order, the NATS servers the worker logged connecting
// and reconnecting to.
func (p *process) servers() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		var line struct{ Msg, Server string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && (line.Msg == "nats connected" || line.Msg == "nats reconnected") {
			out = append(out, line.Server)
		}
	}
	return out
}

// slowReceiver counts the requests for each webhook-id and answers 204
// after a while, so that at any moment of a run the workers have jobs in
// flight. Until it is opened, requests wait: the run starts once every
// job and event is sent.
type slowReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	seen   map[string]int
	total  atomic.Int64
	opened chan struct{}
}

func newSlowReceiver(t *testing.T) *slowReceiver {
	t.Helper()
	r := &slowReceiver{seen: map[string]int{}, opened: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		select {
		case <-r.opened:
		case <-req.Context().Done():
			return
		}
		r.mu.Lock()
		r.seen[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		r.total.Add(1)
		select {
		case <-time.After(40 * time.Millisecond):
		case <-req.Context().Done():
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *slowReceiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.seen)
}

// clusterRun is a three-server cluster, two workers with three replicas
// and a receiver, with jobs and events on their way.
type clusterRun struct {
	c       *bustest.Cluster
	workers []*process
	recv    *slowReceiver
	js      jetstream.JetStream
	// want lists the id of every job whose result must be stored: plain
	// jobs and the event jobs of the fan-out. webhook maps each to the
	// webhook-id its requests carry.
	want    []string
	webhook map[string]string
	// fault is when the fault was made.
	fault time.Time
}

// startClusterRun starts the cluster and the workers, makes an endpoint
// on the receiver, then publishes clusterJobs jobs and sends clusterEvents
// events to it.
func startClusterRun(t *testing.T) *clusterRun {
	t.Helper()
	run := &clusterRun{c: bustest.NewCluster(t, 3), recv: newSlowReceiver(t), webhook: map[string]string{}}
	secret := newSecret(t)
	for range 2 {
		run.workers = append(run.workers, startProcess(t, map[string]string{
			"HOOKWORKER_NATS_URL":         run.c.URLs(),
			"HOOKWORKER_REPLICAS":         "3",
			"HOOKWORKER_HTTP_ADDR":        freeAddr(t),
			"HOOKWORKER_ALLOWED_NETWORKS": "127.0.0.1/32",
			"HOOKWORKER_SIGNING_SECRET":   secret,
			"HOOKWORKER_CONCURRENCY":      fmt.Sprint(workerSlots),
			"HOOKWORKER_HOST_CONCURRENCY": fmt.Sprint(workerSlots),
			"HOOKWORKER_ACK_WAIT":         "2s",
			"HOOKWORKER_BACKOFF_MIN":      "10ms",
			"HOOKWORKER_BACKOFF_MAX":      "50ms",
			"HOOKWORKER_SHUTDOWN_TIMEOUT": "5s",
			"HOOKWORKER_LOG_FORMAT":       "json",
		}))
	}
	// Faults come once both run, not while they set up.
	awaitCond(t, "both workers running", 30*time.Second, func() bool {
		return run.workers[0].logged("worker running") && run.workers[1].logged("worker running")
	})

	nc, js := bustest.Connect(t, run.c.URLs())
	run.js = js
	api := client.New(nc)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := api.PutEventType(ctx, client.EventType{Name: "order.created", Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PutEndpoint(ctx, client.Endpoint{ID: endpointID, URL: run.recv.URL + "/events"}, newSecret(t)); err != nil {
		t.Fatal(err)
	}
	for i := range clusterJobs {
		id := fmt.Sprintf("job-%03d", i)
		run.want, run.webhook[id] = append(run.want, id), id
		data := fmt.Sprintf(`{"id":%q,"url":%q,"payload":{"n":%d}}`, id, run.recv.URL+"/jobs", i)
		if _, err := js.PublishAsync("hooks.send", []byte(data), jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("jobs not stored")
	}
	for i := range clusterEvents {
		id := fmt.Sprintf("evt-%03d", i)
		sent, err := api.SendEvent(ctx, client.Event{ID: id, Type: "order.created", Payload: json.RawMessage(`{}`)})
		if err != nil || sent.Endpoints != 1 {
			t.Fatalf("send event %s: %+v, %v; want it sent to 1 endpoint", id, sent, err)
		}
		job := id + ":" + endpointID
		run.want, run.webhook[job] = append(run.want, job), id
	}
	close(run.recv.opened)
	return run
}

// midRun waits until a quarter of the deliveries are made.
func (run *clusterRun) midRun(t *testing.T) {
	t.Helper()
	awaitCond(t, "a quarter of the deliveries", 30*time.Second, func() bool {
		return run.recv.total.Load() >= int64(len(run.want)/4)
	})
}

// check waits until every job has a stored result, then checks that each
// has exactly one, delivered, that the receiver saw every delivery, and
// that no more than inFlight were made twice.
func (run *clusterRun) check(t *testing.T, inFlight int) {
	t.Helper()
	var stored map[string][]string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if storedCount(t, run.js) >= len(run.want) {
			var err error
			if stored, err = readResults(t, run.js); err == nil && len(stored) >= len(run.want) {
				break
			}
		}
		if time.Now().After(deadline) {
			run.explainMissing(t)
			t.Fatal("timed out waiting for a result for every job")
		}
	}
	for _, id := range run.want {
		switch outcomes := stored[id]; {
		case len(outcomes) != 1:
			t.Errorf("job %s has %d stored results %v, want 1", id, len(outcomes), outcomes)
		case outcomes[0] != "delivered":
			t.Errorf("job %s: %s, want delivered", id, outcomes[0])
		}
	}
	if extra := len(stored) - len(run.want); extra != 0 {
		t.Errorf("%d results of jobs never sent", extra)
	}
	seen := run.recv.counts()
	twice := 0
	for _, id := range run.want {
		n := seen[run.webhook[id]]
		if n == 0 {
			t.Errorf("receiver never saw %s", id)
		}
		twice += max(n-1, 0)
	}
	if twice > inFlight {
		t.Errorf("%d deliveries made again, want at most %d (the jobs in flight)", twice, inFlight)
	}
	t.Logf("%d jobs and events, %d deliveries made again; all stored %s after the fault", len(run.want), twice,
		time.Since(run.fault).Round(time.Millisecond))
}

// explainMissing logs what is known of the jobs that have no stored
// result yet: the job consumer's state, how often the receiver saw each,
// and the lines of every worker's log that name them or warn.
func (run *clusterRun) explainMissing(t *testing.T) {
	t.Helper()
	stored, err := readResults(t, run.js)
	if err != nil {
		t.Logf("read results: %v", err)
	}
	seen := run.recv.counts()
	var missing []string
	for _, id := range run.want {
		if len(stored[id]) == 0 {
			missing = append(missing, id)
		}
	}
	t.Logf("%d of %d jobs have no result", len(missing), len(run.want))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if c, err := run.js.Consumer(ctx, "HOOKS", "hookworker"); err == nil {
		i := c.CachedInfo()
		t.Logf("job consumer: %d pending, %d acks pending, %d redelivered, %d pull requests waiting",
			i.NumPending, i.NumAckPending, i.NumRedelivered, i.NumWaiting)
	}
	for _, id := range missing[:min(len(missing), 5)] {
		t.Logf("%s: receiver saw it %d times", id, seen[run.webhook[id]])
	}
	for n, p := range run.workers {
		var lines []string
		for line := range strings.Lines(p.stderr.String()) {
			named := slices.ContainsFunc(missing[:min(len(missing), 5)], func(id string) bool {
				return strings.Contains(line, `"`+id+`"`)
			})
			if named || strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
				lines = append(lines, line)
			}
		}
		t.Logf("worker %d (running %v), its lines of those jobs and its warnings:\n%s", n, p.running(), strings.Join(lines[:min(len(lines), 60)], ""))
	}
}

// storedCount returns how many results the result stream holds, 0 when it
// cannot tell.
func storedCount(t *testing.T, js jetstream.JetStream) int {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "HOOKS_RESULTS")
	if err != nil {
		return 0
	}
	return int(s.CachedInfo().State.Msgs)
}

// readResults reads the result stream message by message: the outcomes
// stored for each job id.
func readResults(t *testing.T, js jetstream.JetStream) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "HOOKS_RESULTS")
	if err != nil {
		return nil, err
	}
	st := s.CachedInfo().State
	out := map[string][]string{}
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var r result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("stored result %s: %v", m.Data, err)
		}
		out[r.ID] = append(out[r.ID], r.Outcome)
	}
	return out, nil
}

// awaitCond polls cond until it holds, failing the test after within.
func awaitCond(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterJobLeaderLost runs two workers with HOOKWORKER_REPLICAS=3 on a
// three-server cluster, and stops the server that leads the job stream and
// the result stream (made the one the first worker is connected to) while
// jobs and events are in flight, then starts it again. The stream elects another leader,
// the worker reconnects to another server by itself, without a restart,
// and every job ends with exactly one stored result; no delivery is lost,
// and none is made twice but of the jobs in flight.
func TestClusterJobLeaderLost(t *testing.T) {
	t.Parallel()
	run := startClusterRun(t)
	first := run.workers[0]
	servers := first.servers()
	if len(servers) == 0 {
		t.Fatal("the worker logged no connection")
	}
	node := run.c.NameOf(servers[len(servers)-1])
	run.midRun(t)
	for _, stream := range []string{"HOOKS", "HOOKS_RESULTS"} {
		run.c.Lead(stream, node)
		if leader := run.c.StreamLeader(stream); leader != node {
			t.Fatalf("%s led by %q, want %s", stream, leader, node)
		}
	}
	leader := node
	run.c.Stop(leader)
	run.fault = time.Now()
	t.Logf("stopped %s, the job and result streams' leader, after %d of %d deliveries", leader, run.recv.total.Load(), len(run.want))
	awaitCond(t, "the worker to reconnect to another server", 30*time.Second, func() bool {
		s := first.servers()
		return len(s) > len(servers) && run.c.NameOf(s[len(s)-1]) != leader
	})
	run.c.Restart(leader)

	run.check(t, 2*workerSlots)
	if !first.running() || !first.ready() {
		t.Errorf("the worker whose server went away is running %v, ready %v; want both", first.running(), first.ready())
	}
}

// TestClusterWorkerKilled runs the same as TestClusterJobLeaderLost, but
// kills a worker (SIGKILL) instead of a server: the other worker takes
// over its jobs once their AckWait is over, and every job ends with
// exactly one stored result; the deliveries made again are at most the
// killed worker's jobs in flight.
func TestClusterWorkerKilled(t *testing.T) {
	t.Parallel()
	run := startClusterRun(t)
	run.midRun(t)
	run.workers[0].kill()
	run.fault = time.Now()
	t.Logf("killed a worker after %d of %d deliveries", run.recv.total.Load(), len(run.want))
	run.check(t, workerSlots)
	if slices.ContainsFunc(run.workers[1:], func(p *process) bool { return !p.running() }) {
		t.Error("the other worker exited")
	}
}
