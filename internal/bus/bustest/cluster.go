package bustest

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/hookworker/hookworker/internal/freeport"
)

// Cluster is a JetStream cluster of in-process servers on loopback, named
// n1, n2, …. A server stopped and started again comes back on the same
// client and route ports with the same store, as a restarted process would.
type Cluster struct {
	t       testing.TB
	mu      sync.Mutex
	ports   []int // client ports
	rports  []int // route ports
	routes  []*url.URL
	dirs    []string
	servers []*server.Server
}

// NewCluster starts n clustered JetStream servers, each with its own store,
// and waits until they have elected a meta leader. They are shut down when
// t ends.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	// Route ports must be known before the servers start, so that each one
	// lists all the others.
	ports, err := freeport.Ports(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, ports: ports[:n], rports: ports[n:], servers: make([]*server.Server, n)}
	for _, p := range c.rports {
		c.routes = append(c.routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	for range n {
		c.dirs = append(c.dirs, t.TempDir())
	}
	for i := range n {
		c.servers[i] = Start(t, c.options(i))
	}
	c.await("a JetStream meta leader", func() bool {
		for _, srv := range c.Servers() {
			if srv.JetStreamIsLeader() {
				return true
			}
		}
		return false
	})
	return c
}

// options are the options of server i: the same every time it starts.
func (c *Cluster) options(i int) *server.Options {
	opts := Options("127.0.0.1", c.ports[i], c.dirs[i])
	opts.ServerName = c.name(i)
	opts.Cluster = server.ClusterOpts{Name: "hooks", Host: "127.0.0.1", Port: c.rports[i]}
	opts.Routes = c.routes
	return opts
}

func (c *Cluster) name(i int) string { return fmt.Sprintf("n%d", i+1) }

// Servers returns the servers, running or not, in name order.
func (c *Cluster) Servers() []*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*server.Server(nil), c.servers...)
}

// URL returns the client URL of the server named name.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.ports[c.index(name)])
}

// URLs returns every server's client URL, comma-separated.
func (c *Cluster) URLs() string {
	var out []string
	for i := range c.ports {
		out = append(out, c.URL(c.name(i)))
	}
	return strings.Join(out, ",")
}

// NameOf returns the name of the server whose client URL is u, or "".
func (c *Cluster) NameOf(u string) string {
	for i := range c.ports {
		if c.URL(c.name(i)) == u {
			return c.name(i)
		}
	}
	return ""
}

func (c *Cluster) index(name string) int {
	for i := range c.ports {
		if c.name(i) == name {
			return i
		}
	}
	c.t.Fatalf("no server %s", name)
	return -1
}

// Stop shuts the server named name down and waits until it is down.
func (c *Cluster) Stop(name string) {
	c.t.Helper()
	srv := c.Servers()[c.index(name)]
	srv.Shutdown()
	srv.WaitForShutdown()
}

// Restart starts the server named name again, on its ports and with its
// store, and waits until it takes connections.
func (c *Cluster) Restart(name string) {
	c.t.Helper()
	i := c.index(name)
	srv := Start(c.t, c.options(i))
	c.mu.Lock()
	c.servers[i] = srv
	c.mu.Unlock()
}

// StreamLeader returns the name of the running server that leads stream,
// or "" while none does (an election is under way).
func (c *Cluster) StreamLeader(stream string) string {
	for _, srv := range c.Servers() {
		if srv.Running() && srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return srv.Name()
		}
	}
	return ""
}

// Lead makes the server named name the leader of stream, asking the
// leader to step down until the one elected is name.
func (c *Cluster) Lead(stream, name string) {
	c.t.Helper()
	nc, _ := Connect(c.t, c.URLs())
	defer nc.Close()
	for range 30 {
		var leader string
		c.await("a leader of "+stream, func() bool {
			leader = c.StreamLeader(stream)
			return leader != ""
		})
		if leader == name {
			return
		}
		if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 5*time.Second); err != nil {
			c.t.Logf("step down %s leader %s: %v", stream, leader, err)
		}
		c.await("another leader of "+stream, func() bool {
			now := c.StreamLeader(stream)
			return now != "" && now != leader
		})
	}
	c.t.Fatalf("%s is still not led by %s", stream, name)
}

// await polls cond until it holds, failing the test after 20s.
func (c *Cluster) await(what string, cond func() bool) {
	c.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
