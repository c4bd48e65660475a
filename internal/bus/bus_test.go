package bus

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
)

// connectServer connects a Bus to a new in-process server; both end with
// the test.
func connectServer(t *testing.T) *Bus {
	t.Helper()
	b, err := Connect(Config{URL: bustest.Server(t).ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func topology() Topology {
	return Topology{
		Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
		ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS",
		ResultMaxAge: time.Hour, AckWait: time.Second,
	}
}

func TestSubjectMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"hooks.send", "hooks.send", true},
		{"hooks.*", "hooks.send", true},
		{"hooks.>", "hooks.send", true},
		{">", "hooks.send", true},
		{"hooks.>", "hooks", false},
		{"hooks.*", "hooks.send.x", false},
		{"hooks.result", "hooks.send", false},
		{"hooks.send.x", "hooks.send", false},
		{"*.send", "hooks.send", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.subject, func(t *testing.T) {
			t.Parallel()
			if got := SubjectMatches(tt.pattern, tt.subject); got != tt.want {
				t.Errorf("SubjectMatches(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
			}
		})
	}
}

func TestEnsureCreatesAndReuses(t *testing.T) {
	t.Parallel()
	b := connectServer(t)
	ctx := t.Context()
	for range 2 { // the second run finds everything in place
		bound, err := b.Ensure(ctx, topology())
		if err != nil {
			t.Fatal(err)
		}
		info, err := bound.Consumer.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.AckPolicy != jetstream.AckExplicitPolicy || info.Config.MaxDeliver != -1 || info.Config.MaxAckPending != -1 ||
			!slices.Equal(info.Config.FilterSubjects, []string{"hooks.send", "hooks.send.endpoint", "hooks.send.endpoint.*"}) {
			t.Errorf("consumer config = %+v", info.Config)
		}
	}
	if !b.Ready() {
		t.Error("Ready() = false after Ensure")
	}
	s, err := b.JetStream().Stream(ctx, "HOOKS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Retention != jetstream.WorkQueuePolicy || cfg.Discard != jetstream.DiscardNew || cfg.Duplicates != JobDuplicates ||
		!slices.Equal(cfg.Subjects, []string{"hooks.send", "hooks.send.endpoint", "hooks.send.endpoint.*"}) {
		t.Errorf("job stream config = %+v", cfg)
	}
	rs, err := b.JetStream().Stream(ctx, "HOOKS_RESULTS")
	if err != nil {
		t.Fatal(err)
	}
	if rc := rs.CachedInfo().Config; rc.Retention != jetstream.LimitsPolicy || rc.MaxAge != time.Hour {
		t.Errorf("result stream config = %+v", rc)
	}
}

// TestEnsureFixesConsumerLimits binds a consumer created with a MaxDeliver
// (the server would drop a job after so many deliveries, without a result)
// and the server's default MaxAckPending (a backlog of deferred jobs would
// stop every other): Ensure lifts both and keeps the rest.
func TestEnsureFixesConsumerLimits(t *testing.T) {
	t.Parallel()
	b := connectServer(t)
	ctx := t.Context()
	if _, err := b.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send"}, Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.JetStream().CreateConsumer(ctx, "HOOKS", jetstream.ConsumerConfig{
		Durable: "hookworker", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 7 * time.Second, MaxDeliver: 3,
	}); err != nil {
		t.Fatal(err)
	}
	bound, err := b.Ensure(ctx, topology())
	if err != nil {
		t.Fatal(err)
	}
	info, err := bound.Consumer.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.MaxDeliver != -1 || c.MaxAckPending != -1 || c.AckWait != 7*time.Second {
		t.Errorf("consumer max_deliver %d max_ack_pending %d ack_wait %s, want -1, -1 and the existing 7s", c.MaxDeliver, c.MaxAckPending, c.AckWait)
	}
}

// TestEnsureAddsEndpointSubject: a job stream and a consumer made before
// fan-out jobs had a subject of their own (the stream captures hooks.send
// alone, the consumer filters on it) are given the endpoint subject and
// the ordered endpoints' subjects; a
// stream and a filter that capture it already (a wildcard) are left as
// they are.
func TestEnsureAddsEndpointSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		subjects, wantSubject []string
		filter                string
		wantFilters           []string
	}{
		{"literal", []string{"hooks.send"}, []string{"hooks.send", "hooks.send.endpoint", "hooks.send.endpoint.*"}, "hooks.send", []string{"hooks.send", "hooks.send.endpoint", "hooks.send.endpoint.*"}},
		{"wildcard", []string{"hooks.send", "hooks.send.>"}, []string{"hooks.send", "hooks.send.>"}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := connectServer(t)
			ctx := t.Context()
			if _, err := b.JetStream().CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: tc.subjects, Retention: jetstream.WorkQueuePolicy}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.JetStream().CreateConsumer(ctx, "HOOKS", jetstream.ConsumerConfig{
				Durable: "hookworker", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: -1, MaxAckPending: -1, FilterSubject: tc.filter,
			}); err != nil {
				t.Fatal(err)
			}
			bound, err := b.Ensure(ctx, topology())
			if err != nil {
				t.Fatal(err)
			}
			info, err := bound.Consumer.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c := info.Config; !slices.Equal(c.FilterSubjects, tc.wantFilters) || c.FilterSubject != tc.filter && tc.wantFilters == nil {
				t.Errorf("consumer filters %q %q, want %q", c.FilterSubject, c.FilterSubjects, tc.wantFilters)
			}
			s, err := b.JetStream().Stream(ctx, "HOOKS")
			if err != nil {
				t.Fatal(err)
			}
			if got := s.CachedInfo().Config.Subjects; !slices.Equal(got, tc.wantSubject) {
				t.Errorf("stream subjects %q, want %q", got, tc.wantSubject)
			}
		})
	}
}

func TestEnsureSubjectMismatch(t *testing.T) {
	t.Parallel()
	b := connectServer(t)
	if _, err := b.JetStream().CreateStream(t.Context(), jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	_, err := b.Ensure(t.Context(), topology())
	var se *SubjectError
	if !errors.As(err, &se) || se.Stream != "HOOKS" || se.Subject != "hooks.send" {
		t.Fatalf("Ensure error = %v, want a SubjectError naming HOOKS and hooks.send", err)
	}
}

func TestEnsureWaitsForServer(t *testing.T) {
	t.Parallel()
	// Reserve a port, start nothing on it yet.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b, err := Connect(Config{URL: "nats://127.0.0.1:" + strconv.Itoa(port)})
	if err != nil {
		t.Fatalf("Connect with no server: %v", err)
	}
	defer b.Close()
	if b.Ready() {
		t.Error("Ready() = true without a server")
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.Ensure(t.Context(), topology())
		done <- err
	}()
	bustest.Start(t, bustest.Options("127.0.0.1", port, t.TempDir()))
	if err := <-done; err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !b.Ready() {
		t.Error("Ready() = false once bound")
	}
}

func TestEmbedded(t *testing.T) {
	t.Parallel()
	b, err := Connect(Config{EmbeddedListen: "127.0.0.1:0", EmbeddedDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ensure(t.Context(), topology()); err != nil {
		t.Fatal(err)
	}
	// A producer reaches the embedded server over TCP.
	_, js := bustest.Connect(t, "nats://"+b.Embedded())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "hooks.send", []byte(`{}`)); err != nil {
		t.Fatalf("publish to embedded server: %v", err)
	}
	b.Close()
}

// TestEmbeddedPortInUse checks that an embedded server that cannot listen
// fails start-up with the cause, the address and nothing left running.
func TestEmbeddedPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	b, err := Connect(Config{EmbeddedListen: addr, EmbeddedDir: t.TempDir()})
	if err == nil {
		b.Close()
		t.Fatal("Connect on a port in use: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || !strings.Contains(msg, "address already in use") {
		t.Fatalf("error %q, want one naming %s and the cause", msg, addr)
	}
	// The port is still the other listener's, free once it closes: the
	// failed server holds nothing.
	ln.Close()
	b, err = Connect(Config{EmbeddedListen: addr, EmbeddedDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Connect once the port is free: %v", err)
	}
	b.Close()
}

// TestConnectionLost checks that Link's context ends when the server goes
// away, and that the next one lives on the new connection; and that
// Outage tells how long the connection was down since a time: nothing
// while it stays up, the outage under way while it is down, and the whole
// outage once it is back, counted from the time asked about at the
// earliest.
func TestConnectionLost(t *testing.T) {
	t.Parallel()
	opts := bustest.Options("127.0.0.1", -1, t.TempDir())
	srv := bustest.Start(t, opts)
	b, err := Connect(Config{URL: srv.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	start := time.Now()
	if out := b.Outage(start.Add(-time.Hour)); out != 0 {
		t.Fatalf("Outage = %s while connected from the first, want 0", out)
	}
	first := b.Link()
	if first.Err() != nil {
		t.Fatalf("Link ended while connected: %v", first.Err())
	}
	port := srv.Addr().(*net.TCPAddr).Port
	stopped := time.Now()
	srv.Shutdown()
	select {
	case <-first.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Link did not end when the server went away")
	}
	next := b.Link()
	if next.Err() != nil {
		t.Fatalf("the next Link has already ended: %v", next.Err())
	}
	time.Sleep(100 * time.Millisecond)
	mid := time.Now() // 100ms at least into the outage
	if out := b.Outage(start); out < 100*time.Millisecond {
		t.Errorf("Outage = %s 100ms into the outage, want that at least", out)
	}
	restarted := *opts
	restarted.Port = port
	bustest.Start(t, &restarted)
	deadline := time.Now().Add(10 * time.Second)
	for !b.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("no reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	back := time.Now()
	if next.Err() != nil {
		t.Errorf("Link of the new connection ended: %v", next.Err())
	}
	out := b.Outage(start)
	if out < 100*time.Millisecond || out > back.Sub(stopped) {
		t.Errorf("Outage = %s once back, want 100ms to %s", out, back.Sub(stopped))
	}
	if got := b.Outage(mid); got > out-100*time.Millisecond || got < out-mid.Sub(stopped) {
		t.Errorf("Outage from 100ms into it = %s, want the outage (%s) counted from then", got, out)
	}
	if got := b.Outage(back); got != 0 {
		t.Errorf("Outage since the reconnect = %s, want 0", got)
	}
}

// TestEnsureGrowsStateTTL checks that an existing state bucket whose TTL is
// shorter than the topology's is made to keep state as long, its values
// kept, and that a longer one is left as it is.
func TestEnsureGrowsStateTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing time.Duration
		want     time.Duration
	}{
		{"shorter grows", 24 * time.Hour, 96 * time.Hour},
		{"longer stays", 200 * time.Hour, 200 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := connectServer(t)
			ctx := t.Context()
			kv, err := b.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: DefaultStateBucket, TTL: tt.existing})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, "job", []byte("progress")); err != nil {
				t.Fatal(err)
			}
			topo := topology()
			topo.StateTTL = 96 * time.Hour
			bound, err := b.Ensure(ctx, topo)
			if err != nil {
				t.Fatal(err)
			}
			st, err := bound.State.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.TTL() != tt.want {
				t.Errorf("state TTL = %s, want %s", st.TTL(), tt.want)
			}
			if e, err := bound.State.Get(ctx, "job"); err != nil || string(e.Value()) != "progress" {
				t.Errorf("state value lost: %v", err)
			}
		})
	}
}

// TestEnsureNamesConfiguredSubjects checks that the streams whose subjects
// are wildcards are named by those, not by the literal subject probed, both
// in the log line of a created stream and in the error of an existing one
// that captures something else.
func TestEnsureNamesConfiguredSubjects(t *testing.T) {
	t.Parallel()
	srv := bustest.Server(t)
	var logs bytes.Buffer
	b, err := Connect(Config{URL: srv.ClientURL(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if _, err := b.EnsureAttempts(t.Context(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "subject=hooks.attempt.>") {
		t.Errorf("log = %q, want the created stream named with subject=hooks.attempt.>", logs.String())
	}
	if strings.Contains(logs.String(), "x.x.x") {
		t.Errorf("log = %q, names the probed subject", logs.String())
	}

	if _, err := b.JetStream().CreateStream(t.Context(), jetstream.StreamConfig{Name: EventStream, Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	_, err = b.EnsureEvents(t.Context(), EventTopology{EventMaxAge: time.Hour})
	var se *SubjectError
	if !errors.As(err, &se) || se.Stream != EventStream || se.Subject != EventSubjects {
		t.Fatalf("EnsureEvents error = %v, want a SubjectError naming %s and %s", err, EventStream, EventSubjects)
	}
}

// TestAttemptStreamPersistsAsync checks that the attempt stream is created
// with asynchronous persistence (the delivery log's records are written in
// batches), and the job and result streams are not: their messages are
// acknowledged only once written.
func TestAttemptStreamPersistsAsync(t *testing.T) {
	t.Parallel()
	srv := bustest.Server(t)
	b, err := Connect(Config{URL: srv.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	s, err := b.EnsureAttempts(t.Context(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.PersistMode != jetstream.AsyncPersistMode {
		t.Errorf("attempt stream persist mode = %v, want async", info.Config.PersistMode)
	}
	topo := topology()
	if _, err := b.Ensure(t.Context(), topo); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{topo.Stream, topo.ResultStream} {
		s, err := b.JetStream().Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if pm := s.CachedInfo().Config.PersistMode; pm != jetstream.DefaultPersistMode {
			t.Errorf("stream %s persist mode = %v, want the default", name, pm)
		}
	}
}

// TestEnsureRatesWaitsForJetStream: the rate bucket is set up like the
// rest, trying again while JetStream is not ready (here: not enabled yet,
// as a cluster's leader for it may not be elected yet) rather than failing
// the worker's start.
func TestEnsureRatesWaitsForJetStream(t *testing.T) {
	t.Parallel()
	opts := bustest.Options("127.0.0.1", -1, t.TempDir())
	opts.JetStream = false
	srv := bustest.Start(t, opts)
	b, err := Connect(Config{URL: srv.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		_, err := b.EnsureRates(t.Context())
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("EnsureRates without JetStream returned at once: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := srv.EnableJetStream(&server.JetStreamConfig{StoreDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("EnsureRates once JetStream is there: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("EnsureRates still waiting 15s after JetStream was enabled")
	}
}
