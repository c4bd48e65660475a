// Package bus connects hookworker to NATS JetStream: to a NATS server, or to
// an embedded one it starts itself, and to the streams, the durable consumer
// and the state bucket the worker needs.
//
// A server that cannot be reached is retried for ever: Connect returns at
// once with a connection that keeps trying, and Ensure waits, with backoff,
// until the server answers. Only a configuration the server refuses, or an
// existing stream that does not capture the configured subject, is an error.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/redact"
)

// Config says where the NATS server is.
type Config struct {
	// URL is the NATS server URL or URLs, comma-separated. Empty starts an
	// embedded server.
	URL string
	// Creds is a credentials file for the connection; empty for none.
	Creds string
	// EmbeddedListen is host:port the embedded server listens on for
	// producers (port 0 picks a free one).
	EmbeddedListen string
	// EmbeddedDir is the embedded server's JetStream store.
	EmbeddedDir string
	// Name is the connection name shown by the server.
	Name string
	// Replicas is the replica count of every stream and bucket the worker
	// creates; 0 means 1. Existing ones keep theirs (see Ensure).
	Replicas int
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Options are more options of the connection, applied after the
	// bus's own (a dialer, say).
	Options []nats.Option
}

// Bus is a NATS connection with JetStream, and the embedded server behind it
// when there is one.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	srv    *server.Server
	log    *slog.Logger
	closed chan struct{}
	bound  atomic.Bool
	// replicas is the replica count of what the worker creates, at least 1.
	replicas int

	linkMu sync.Mutex
	link   context.Context    // see Link
	unlink context.CancelFunc // ends link

	// outMu guards down, when the connection went down (zero while it is
	// up), and outages, the last maxOutages ended, oldest first (see
	// Outage).
	outMu   sync.Mutex
	down    time.Time
	outages []outage
}

// outage is one time the connection was down.
type outage struct{ from, to time.Time }

// maxOutages is how many ended outages a Bus remembers.
const maxOutages = 64

// Connect connects to cfg.URL, or starts an embedded JetStream server when
// cfg.URL is empty and connects to it in-process. An unreachable server is
// not an error: the connection retries for ever in the background (see
// Connected). It fails only on bad options or when the embedded server
// cannot start.
func Connect(cfg Config) (*Bus, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Bus{log: log, replicas: max(cfg.Replicas, 1), closed: make(chan struct{})}
	b.link, b.unlink = context.WithCancel(context.Background())
	name := cfg.Name
	if name == "" {
		name = "hookworker"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, time.Second),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("nats connected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.relink()
			b.wentDown(time.Now())
			if err != nil {
				log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.cameBack(time.Now())
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Debug("nats reconnect attempt failed", "error", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			log.Warn("nats error", "error", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			b.relink()
			close(b.closed)
		}),
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	url := cfg.URL
	if url == "" {
		srv, err := startEmbedded(cfg.EmbeddedListen, cfg.EmbeddedDir)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		log.Info("started embedded nats server", "listen", srv.Addr().String(), "store_dir", cfg.EmbeddedDir)
		opts = append(opts, nats.InProcessServer(srv))
		url = srv.ClientURL()
	}
	nc, err := nats.Connect(url, append(opts, cfg.Options...)...)
	if err != nil {
		b.shutdownServer()
		return nil, fmt.Errorf("connect to nats %s: %w", redact.Servers(url), err)
	}
	if !nc.IsConnected() {
		log.Warn("nats not reachable yet, retrying", "server", redact.Servers(url))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		b.shutdownServer()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.nc, b.js = nc, js
	return b, nil
}

// startEmbedded starts a JetStream server listening on listen (host:port)
// with its store in dir, and waits until it accepts connections.
func startEmbedded(listen, dir string) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded nats listen address %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats store: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "hookworker-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats server: %w", err)
	}
	fatal := &fatalLog{}
	srv.SetLoggerV2(fatal, false, false, false)
	srv.Start()
	// The server reports a failure to listen (the port is in use, say) only
	// to its logger: look for it while waiting, so that the cause is given
	// at once instead of after the timeout.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if srv.ReadyForConnections(50 * time.Millisecond) {
			return srv, nil
		}
		if cause := fatal.cause(); cause != "" {
			srv.Shutdown()
			return nil, fmt.Errorf("embedded nats server on %s: %s", listen, cause)
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			return nil, fmt.Errorf("embedded nats server on %s did not start within 10s", listen)
		}
	}
}

// fatalLog is the embedded server's logger: it keeps the first fatal error
// and drops everything else (the worker logs what matters itself).
type fatalLog struct {
	mu    sync.Mutex
	first string
}

func (l *fatalLog) cause() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// Fatalf keeps the first fatal error.
func (l *fatalLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first == "" {
		l.first = fmt.Sprintf(format, v...)
	}
}

func (*fatalLog) Noticef(string, ...any) {}
func (*fatalLog) Warnf(string, ...any)   {}
func (*fatalLog) Errorf(string, ...any)  {}
func (*fatalLog) Debugf(string, ...any)  {}
func (*fatalLog) Tracef(string, ...any)  {}

// Conn returns the NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream returns the JetStream context of the connection.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Embedded returns the address producers reach the embedded server on, or ""
// when connected to an external server.
func (b *Bus) Embedded() string {
	if b.srv == nil {
		return ""
	}
	return b.srv.Addr().String()
}

// Connected reports whether the connection is up now.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Ready reports whether the connection is up and Ensure has bound the
// consumer: what /readyz answers.
func (b *Bus) Ready() bool { return b.bound.Load() && b.nc.IsConnected() }

// Link returns a context that ends when the connection is lost. A request
// sent before a disconnect may have been lost with it, and its reply will
// never come: an operation whose context derives from Link gives up when
// the connection drops instead of waiting out its timeout, and can be tried
// again. Link called after a disconnect returns the context of the next
// connection, which waits for the reconnect.
func (b *Bus) Link() context.Context {
	b.linkMu.Lock()
	defer b.linkMu.Unlock()
	return b.link
}

// Outage returns the longest the connection has been down since since: the
// longest of its outages that ended after since, and the one under way,
// each counted from since at the earliest. It remembers the last 64
// outages. A worker asks it of a job it kept waiting: an outage longer
// than the job's keep-alive bridges may have let the server hand the job
// to another worker.
func (b *Bus) Outage(since time.Time) time.Duration {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	var longest time.Duration
	span := func(from, to time.Time) {
		if to.After(since) {
			longest = max(longest, to.Sub(later(from, since)))
		}
	}
	for _, o := range b.outages {
		span(o.from, o.to)
	}
	if !b.down.IsZero() {
		span(b.down, time.Now())
	}
	return longest
}

// wentDown records that the connection went down at at.
func (b *Bus) wentDown(at time.Time) {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	if b.down.IsZero() {
		b.down = at
	}
}

// cameBack records that the connection came back at at.
func (b *Bus) cameBack(at time.Time) {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	if b.down.IsZero() {
		return
	}
	if len(b.outages) == maxOutages {
		b.outages = slices.Delete(b.outages, 0, 1)
	}
	b.outages = append(b.outages, outage{from: b.down, to: at})
	b.down = time.Time{}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// relink ends the current Link and starts the next.
func (b *Bus) relink() {
	b.linkMu.Lock()
	defer b.linkMu.Unlock()
	b.unlink()
	b.link, b.unlink = context.WithCancel(context.Background())
}

// Close drains the connection (pending acks and publishes go out), waits for
// it to close, then shuts the embedded server down.
func (b *Bus) Close() {
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-b.closed:
	case <-t.C:
		b.nc.Close()
	}
	b.shutdownServer()
}

func (b *Bus) shutdownServer() {
	if b.srv == nil {
		return
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
	b.log.Info("embedded nats server stopped")
}

// errorsIsAny reports whether err is any of targets.
func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
