package ordering_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/ordering"
)

// line is a job stream on a fresh server holding the jobs of ordered
// endpoint "ep", and a way to reach it from another connection.
type line struct {
	t      testing.TB
	js     jetstream.JetStream
	stream jetstream.Stream
	url    string
	seq    map[string]uint64 // by job
}

func newLine(t testing.TB, jobs ...string) *line {
	t.Helper()
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	ctx := context.Background()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Retention: jetstream.WorkQueuePolicy,
		Subjects: []string{"hooks.send", "hooks.send.endpoint", "hooks.send.endpoint.*"}})
	if err != nil {
		t.Fatal(err)
	}
	l := &line{t: t, js: js, stream: s, url: srv.ClientURL(), seq: map[string]uint64{}}
	for _, id := range jobs {
		l.publish(id)
	}
	return l
}

func (l *line) publish(id string) {
	l.t.Helper()
	ack, err := l.js.Publish(context.Background(), bus.OrderedSubject("hooks.send.endpoint", "ep"), []byte(`{}`), jetstream.WithMsgID(id))
	if err != nil {
		l.t.Fatal(err)
	}
	l.seq[id] = ack.Sequence
}

// remove removes job id from the stream, as its acknowledgement does.
func (l *line) remove(id string) {
	l.t.Helper()
	m, err := l.stream.GetMsg(context.Background(), 1, jetstream.WithGetMsgSubject(bus.OrderedSubject("hooks.send.endpoint", "ep")))
	if err != nil {
		l.t.Fatal(err)
	}
	if got := m.Header.Get(nats.MsgIdHdr); got != id {
		l.t.Fatalf("first job %s, want %s", got, id)
	}
	if err := l.stream.DeleteMsg(context.Background(), m.Sequence); err != nil {
		l.t.Fatal(err)
	}
}

// gate returns a gate on its own connection, as a worker's.
func (l *line) gate(cfg ordering.Config) *ordering.Gate {
	l.t.Helper()
	nc, js := bustest.Connect(l.t, l.url)
	s, err := js.Stream(context.Background(), "HOOKS")
	if err != nil {
		l.t.Fatal(err)
	}
	cfg.Stream, cfg.EndpointSubject, cfg.Conn = s, "hooks.send.endpoint", nc
	g, err := ordering.New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(g.Close)
	if err := nc.Flush(); err != nil {
		l.t.Fatal(err)
	}
	return g
}

// turn runs Turn in the background and returns where its error comes.
func (l *line) turn(g *ordering.Gate, job string) <-chan error {
	ch := make(chan error, 1)
	seq := l.seq[job]
	go func() { ch <- g.Turn(context.Background(), "ep", job, seq) }()
	return ch
}

func waitTurn(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still waiting", what)
	}
}

func notYet(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s: turn came (%v) before the job ahead was over", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestTurnsInOrder: the first job goes at once; the second waits until
// the first finished (its acknowledgement still on its way), on this
// worker or another.
func TestTurnsInOrder(t *testing.T) {
	t.Parallel()
	l := newLine(t, "e1", "e2", "e3")
	a := l.gate(ordering.Config{MaxWait: 5 * time.Second})
	b := l.gate(ordering.Config{MaxWait: 5 * time.Second})
	waitTurn(t, l.turn(a, "e1"), "first job")
	second := l.turn(b, "e2")
	notYet(t, second, "second job")
	a.Finished("ep", "e1") // told by the other worker
	waitTurn(t, second, "second job after the first finished")
	third := l.turn(a, "e3")
	notYet(t, third, "third job")
	l.remove("e1")
	l.remove("e2") // acknowledged, no notice: found by polling
	waitTurn(t, third, "third job after the second was acknowledged")
}

// TestDeferredHead: the jobs behind a deferred head are turned away until
// its retry is due.
func TestDeferredHead(t *testing.T) {
	t.Parallel()
	l := newLine(t, "e1", "e2")
	a := l.gate(ordering.Config{MaxWait: time.Second})
	b := l.gate(ordering.Config{MaxWait: time.Second})
	waitTurn(t, l.turn(a, "e1"), "first job")
	a.Deferred("ep", "e1", time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := b.Turn(context.Background(), "ep", "e2", l.seq["e2"])
		var busy *ordering.BusyError
		if errors.As(err, &busy) && busy.RetryIn() > 50*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job behind a head deferred for a minute: %v, want busy for about a minute", err)
		}
		time.Sleep(10 * time.Millisecond) // the notice is on its way
	}
}

// TestWaitingBounded: past MaxWaiting jobs of one endpoint waiting in the
// process, the next is turned away at once, and the further back a job
// turned away is, the later it is told to come back.
func TestWaitingBounded(t *testing.T) {
	t.Parallel()
	jobs := []string{"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"}
	l := newLine(t, jobs...)
	g := l.gate(ordering.Config{MaxWait: 5 * time.Second, MaxWaiting: 2})
	waiting := []<-chan error{l.turn(g, "e2"), l.turn(g, "e3")}
	for _, ch := range waiting {
		notYet(t, ch, "waiting job")
	}
	var waits []time.Duration
	for _, job := range jobs[3:] {
		var busy *ordering.BusyError
		if err := g.Turn(context.Background(), "ep", job, l.seq[job]); !errors.As(err, &busy) {
			t.Fatalf("%s, behind two waiting jobs: %v, want busy", job, err)
		}
		waits = append(waits, busy.RetryIn())
	}
	if first, last := waits[0], waits[len(waits)-1]; last <= first {
		t.Errorf("told to come back in %s, and the last in %s: want later", first, last)
	}
	g.Finished("ep", "e1")
	waitTurn(t, waiting[0], "e2")
	g.Finished("ep", "e2")
	waitTurn(t, waiting[1], "e3")
}

// TestMaxWait: a job whose turn does not come within MaxWait is turned
// away; one whose context ends returns its error.
func TestMaxWait(t *testing.T) {
	t.Parallel()
	l := newLine(t, "e1", "e2")
	g := l.gate(ordering.Config{MaxWait: 100 * time.Millisecond})
	var busy *ordering.BusyError
	if err := g.Turn(context.Background(), "ep", "e2", l.seq["e2"]); !errors.As(err, &busy) {
		t.Fatalf("job behind one not over: %v, want busy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Turn(ctx, "ep", "e2", l.seq["e2"]); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// countingStream counts the reads of the line.
type countingStream struct {
	ordering.Stream
	gets atomic.Int64
}

func (c *countingStream) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	c.gets.Add(1)
	return c.Stream.GetMsg(ctx, seq, opts...)
}

// TestOneReaderPerLine: when a job finishes, the first of the jobs waiting
// behind it reads the line, and the one that takes its place as first; the
// others do not read it at all.
func TestOneReaderPerLine(t *testing.T) {
	t.Parallel()
	jobs := []string{"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10"}
	l := newLine(t, jobs...)
	nc, js := bustest.Connect(t, l.url)
	s, err := js.Stream(context.Background(), "HOOKS")
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStream{Stream: s}
	// A poll slower than the test, so that only news makes a job read.
	g, err := ordering.New(ordering.Config{Stream: cs, EndpointSubject: "hooks.send.endpoint", Conn: nc,
		MaxWait: 10 * time.Second, Poll: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	waitTurn(t, l.turn(g, "e1"), "first job")
	var waiting []<-chan error
	for _, job := range jobs[1:] {
		waiting = append(waiting, l.turn(g, job))
	}
	for range 4 {
		notYet(t, waiting[len(waiting)-1], "last job") // every job is in line
	}
	before := cs.gets.Load()
	g.Finished("ep", "e1")
	waitTurn(t, waiting[0], "e2")
	notYet(t, waiting[1], "e3")
	// e2 and then e3 read past e1 (finished, still stored): two requests
	// each. Every waiting job reading would be nine or more.
	if reads := cs.gets.Load() - before; reads > 4 {
		t.Errorf("the line was read %d times after the first job finished, want at most 4", reads)
	}
}

// TestReaderDoneElsewhere: the first waiting job, which reads the line
// for the others, is done by another worker (redelivered there) while it
// waits here: it leaves, turned away, and the job behind it gets its turn
// at once rather than at the first one's MaxWait.
func TestReaderDoneElsewhere(t *testing.T) {
	t.Parallel()
	l := newLine(t, "e1", "e2", "e3")
	a := l.gate(ordering.Config{MaxWait: 5 * time.Second, Poll: 5 * time.Second})
	b := l.gate(ordering.Config{MaxWait: 5 * time.Second})
	second := l.turn(a, "e2")
	notYet(t, second, "e2 behind e1")
	third := l.turn(a, "e3")
	notYet(t, third, "e3 behind e1 and e2")
	// Another worker delivered e1 and then e2 (redelivered to it); its
	// notice of e2 is the first this worker hears.
	l.remove("e1")
	l.remove("e2")
	b.Finished("ep", "e2")
	waitTurn(t, third, "e3, the first job left")
	select {
	case err := <-second:
		var busy *ordering.BusyError
		if !errors.As(err, &busy) {
			t.Errorf("e2, done elsewhere: %v, want turned away", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("e2, done elsewhere, still waiting")
	}
}
