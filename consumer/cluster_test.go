package consumer_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
)

// TestClusterNodeLostMidRun runs the worker against a three-node cluster
// whose streams and state bucket the bus created with three replicas, and
// shuts down the node the worker is connected to, made the job stream's
// leader first, while jobs are in flight: the stream elects another leader,
// the worker fails over to another node, and every job is delivered with
// exactly one stored result.
func TestClusterNodeLostMidRun(t *testing.T) {
	t.Parallel()
	c := bustest.NewCluster(t, 3)
	topo := bus.Topology{
		Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
		ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS",
		ResultMaxAge: time.Hour, AckWait: 2 * time.Second,
	}
	b, err := bus.Connect(bus.Config{URL: c.URLs(), Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ensure(t.Context(), topo); err != nil {
		t.Fatal(err)
	}
	b.Close()
	e := connectEnv(t, c.URLs(), topo.AckWait)

	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		time.Sleep(5 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	const n = 200
	ids := e.publishJobs("cluster", n, rc.URL)

	wk := e.startWorker(workerOpts{concurrency: 8})
	eventually(t, "a quarter of the jobs sent", func() bool { return rc.total.Load() >= n/4 })
	node := wk.bus.Conn().ConnectedServerName()
	c.Lead(topo.Stream, node)
	c.Stop(node)

	e.waitStored(ids, 60*time.Second)
	if now := wk.bus.Conn().ConnectedServerName(); now == node || !wk.bus.Connected() {
		t.Errorf("worker on %q (connected %v), want another node than %s", now, wk.bus.Connected(), node)
	}
	for _, id := range ids {
		if c := rc.count(id); c < 1 {
			t.Errorf("receiver never saw %s", id)
		}
	}
}
