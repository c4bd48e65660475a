// Package bustest starts in-process NATS servers with JetStream for the
// tests of packages that talk to the bus.
package bustest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/freeport"
)

// Options returns the options of a JetStream server on host:port that
// stores under dir and logs nothing. Port -1 is a free one, picked as
// freeport picks them: a server stopped and started again with the same
// options finds it free again.
func Options(host string, port int, dir string) *server.Options {
	if port == -1 {
		if ports, err := freeport.Ports(1); err == nil {
			port = ports[0]
		}
	}
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
	errs := &errorLog{}
	srv.SetLoggerV2(errs, false, false, false)
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats server %s not ready: %s", srv.Name(), errs)
	}
	return srv
}

// errorLog keeps the errors a server logs, to tell why it did not start.
type errorLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *errorLog) Errorf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, v...))
}

func (l *errorLog) Fatalf(format string, v ...any) { l.Errorf(format, v...) }
func (l *errorLog) Noticef(string, ...any)         {}
func (l *errorLog) Warnf(string, ...any)           {}
func (l *errorLog) Debugf(string, ...any)          {}
func (l *errorLog) Tracef(string, ...any)          {}

func (l *errorLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return "no error logged"
	}
	return strings.Join(l.errs, "; ")
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
