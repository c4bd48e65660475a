// Package bustest starts in-process NATS servers with JetStream for the
// tests of packages that talk to the bus.
package bustest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options returns the options of a JetStream server on host:port (port -1:
// a free one) that stores under dir and logs nothing.
func Options(host string, port int, dir string) *server.Options {
	return &server.Options{Host: host, Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
}

// Start starts a server with opts and waits until it takes connections. It
// is shut down when t ends, if it has not been before.
func Start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server %s not ready", srv.Name())
	}
	return srv
}

// Server starts a fresh JetStream server on a free loopback port.
func Server(t testing.TB) *server.Server {
	t.Helper()
	return Start(t, Options("127.0.0.1", -1, t.TempDir()))
}

// Connect connects a client to url; the connection is closed when t ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}
