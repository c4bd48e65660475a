package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
)

// cluster is a JetStream cluster of in-process servers on loopback.
type cluster struct {
	mu      sync.Mutex
	servers []*server.Server
}

// startCluster starts n clustered JetStream servers, each with its own
// store, and waits until they have elected a meta leader.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	// Route ports must be known before the servers start, so that each one
	// lists all the others: pick free ones.
	ports := make([]int, n)
	routes := make([]*url.URL, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
		routes[i] = &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", ports[i])}
	}
	c := &cluster{}
	for i := range n {
		opts := bustest.Options("127.0.0.1", -1, t.TempDir())
		opts.ServerName = fmt.Sprintf("n%d", i+1)
		opts.Cluster = server.ClusterOpts{Name: "hooks", Host: "127.0.0.1", Port: ports[i]}
		opts.Routes = routes
		c.servers = append(c.servers, bustest.Start(t, opts))
	}
	eventually(t, "a JetStream meta leader", func() bool {
		for _, srv := range c.servers {
			if srv.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return c
}

// urls returns every server's client URL, comma-separated, the one of
// first first.
func (c *cluster) urls(first int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []string{c.servers[first].ClientURL()}
	for i, srv := range c.servers {
		if i != first {
			out = append(out, srv.ClientURL())
		}
	}
	return strings.Join(out, ",")
}

// stop shuts down the server named name and returns it.
func (c *cluster) stop(t *testing.T, name string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, srv := range c.servers {
		if srv.Name() == name {
			srv.Shutdown()
			srv.WaitForShutdown()
			return
		}
	}
	t.Fatalf("no server %s", name)
}

// createReplicated creates the job and result streams and the state bucket
// with three replicas, the way docs/operations.md tells production users to before
// the first worker starts.
func createReplicated(t *testing.T, url string, topo bus.Topology) {
	t.Helper()
	_, js := bustest.Connect(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Right after the meta leader is elected, the first requests may find
	// no one to answer yet.
	retry := func(what string, f func() error) {
		t.Helper()
		for {
			err := f()
			if err == nil {
				return
			}
			if ctx.Err() != nil || !(errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
				errors.Is(err, jetstream.ErrJetStreamNotEnabled) || strings.Contains(err.Error(), "insufficient resources") ||
				strings.Contains(err.Error(), "no suitable peers")) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	retry("job stream", func() error {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: topo.Stream, Subjects: []string{topo.Subject}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Discard: jetstream.DiscardNew, Duplicates: bus.JobDuplicates, Replicas: 3,
		})
		return err
	})
	retry("result stream", func() error {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: topo.ResultStream, Subjects: []string{topo.ResultSubject}, Retention: jetstream.LimitsPolicy,
			Storage: jetstream.FileStorage, MaxAge: topo.ResultMaxAge, Duplicates: topo.ResultMaxAge, Replicas: 3,
		})
		return err
	})
	retry("state bucket", func() error {
		_, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bus.DefaultStateBucket, TTL: time.Hour, Storage: jetstream.FileStorage, Replicas: 3,
		})
		return err
	})
}

// leadStream moves the leadership of stream to the server named node, by
// asking the leader to step down until the new one is node.
func leadStream(t *testing.T, js jetstream.JetStream, stream, node string) {
	t.Helper()
	leader := func() string {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil || s.CachedInfo().Cluster == nil {
			return ""
		}
		return s.CachedInfo().Cluster.Leader
	}
	for range 20 {
		switch leader() {
		case node:
			return
		case "":
			time.Sleep(100 * time.Millisecond) // an election is under way
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil)
		cancel()
		if err != nil {
			t.Logf("step down %s leader: %v", stream, err)
		}
		eventually(t, "a new "+stream+" leader", func() bool { return leader() != "" })
	}
	t.Fatalf("%s is still led by %s, not %s", stream, leader(), node)
}

// TestClusterNodeLostMidRun runs the worker against a three-node cluster
// with replicated streams and state bucket, and shuts down the node the
// worker is connected to, made the job stream's leader first, while jobs are
// in flight: the stream elects another leader, the worker fails over to
// another node, and every job is delivered with exactly one stored result.
func TestClusterNodeLostMidRun(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	e := &env{t: t}
	topo := bus.Topology{
		Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
		ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS",
		ResultMaxAge: time.Hour, AckWait: 2 * time.Second,
	}
	createReplicated(t, c.urls(1), topo)
	// The producer is on another node than the worker.
	e = connectEnv(t, c.urls(1), topo.AckWait)

	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		time.Sleep(5 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	const n = 200
	ids := e.publishJobs("cluster", n, rc.URL)

	// Workers connect to any server of their list; the test follows the one
	// it got.
	e.url = c.urls(0)
	wk := e.startWorker(workerOpts{concurrency: 8})
	eventually(t, "a quarter of the jobs sent", func() bool { return rc.total.Load() >= n/4 })
	node := wk.bus.Conn().ConnectedServerName()
	leadStream(t, e.js, topo.Stream, node)
	c.stop(t, node)

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
