package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// ackMsg is a job message that records how it was settled. Nothing real
// fits: a JetStream message cannot tell which verb settled it, nor with
// what delay.
type ackMsg struct {
	jetstream.Msg
	data []byte

	mu     sync.Mutex
	verbs  []string
	delays []time.Duration
}

func (m *ackMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: 1, Stream: "HOOKS", Sequence: jetstream.SequencePair{Stream: 7}}, nil
}
func (m *ackMsg) Data() []byte         { return m.data }
func (m *ackMsg) Subject() string      { return "hooks.send" }
func (m *ackMsg) Headers() nats.Header { return nats.Header{} }
func (m *ackMsg) InProgress() error    { return nil }
func (m *ackMsg) DoubleAck(context.Context) error {
	m.record("ack", 0)
	return nil
}
func (m *ackMsg) Nak() error { m.record("nak", 0); return nil }
func (m *ackMsg) NakWithDelay(d time.Duration) error {
	m.record("nak", d)
	return nil
}

func (m *ackMsg) record(verb string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.verbs = append(m.verbs, verb)
	m.delays = append(m.delays, d)
}

// memPub keeps published results, or fails with err.
type memPub struct {
	err  error
	msgs []*nats.Msg
}

func (p *memPub) PublishMsg(_ context.Context, m *nats.Msg, _ ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if p.err != nil {
		return nil, p.err
	}
	p.msgs = append(p.msgs, m)
	return &jetstream.PubAck{}, nil
}

// memState is a state bucket in memory.
type memState struct{ m map[string][]byte }

type memEntry struct {
	jetstream.KeyValueEntry
	v []byte
}

func (e memEntry) Value() []byte { return e.v }

func (s *memState) Get(_ context.Context, key string) (jetstream.KeyValueEntry, error) {
	v, ok := s.m[key]
	if !ok {
		return nil, jetstream.ErrKeyNotFound
	}
	return memEntry{v: v}, nil
}

func (s *memState) Put(_ context.Context, key string, v []byte) (uint64, error) {
	s.m[key] = v
	return 1, nil
}

func (s *memState) Delete(_ context.Context, key string, _ ...jetstream.KVDeleteOpt) error {
	delete(s.m, key)
	return nil
}

// settleWorker is a Worker over in-memory parts, delivering webhook jobs
// with send.
func settleWorker(t *testing.T, send func(context.Context, sender.Request) sender.Result) (*Worker, *memPub, *memState) {
	t.Helper()
	w := newWorker(Options{
		AckWait: time.Minute, Concurrency: 4, ResultSubject: "hooks.result",
		Deliverers: map[job.Type]Deliverer{
			job.Webhook: func(*job.Job) (func(context.Context, sender.Request) sender.Result, error) { return send, nil },
		},
	})
	pub, st := &memPub{}, &memState{m: map[string][]byte{}}
	w.pub, w.state = pub, st
	return w, pub, st
}

const settleJob = `{"id":"j1","url":"http://example.com/hook","payload":{}}`

func TestSettle(t *testing.T) {
	t.Parallel()
	result := job.Result{ID: "j1", Type: job.Webhook, Outcome: job.Failed, Error: "status 400 Bad Request"}
	tests := []struct {
		name      string
		disp      disposition
		pubErr    error
		verbs     []string
		delay     time.Duration
		published int
		state     bool // the bucket keeps state for the job
	}{
		{name: "store", disp: ack(result), verbs: []string{"ack"}, published: 1},
		{name: "store fails", disp: ack(result), pubErr: errors.New("no responders"), verbs: []string{"nak"}, delay: time.Second, state: true},
		{name: "hand back later", disp: handBack(30*time.Second, "deferred"), verbs: []string{"nak"}, delay: 30 * time.Second, state: true},
		{name: "hand back now", disp: handBack(0, "interrupted"), verbs: []string{"nak"}, state: true},
		{name: "confirm a stored result", disp: confirmed(result), verbs: []string{"ack"}},
		{name: "drop", disp: disposition{kind: drop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, pub, st := settleWorker(t, nil)
			pub.err = tt.pubErr
			msg := &ackMsg{}
			d := &delivery{msg: msg, job: job.Job{ID: "j1"}, stateKey: "j1", start: time.Now()}
			stopped := false
			w.settle(d, tt.disp, func() { stopped = true })

			if len(msg.verbs) != len(tt.verbs) || (len(tt.verbs) > 0 && (msg.verbs[0] != tt.verbs[0] || msg.delays[0] != tt.delay)) {
				t.Errorf("settled with %v %v, want %v after %s", msg.verbs, msg.delays, tt.verbs, tt.delay)
			}
			if len(pub.msgs) != tt.published {
				t.Errorf("%d results published, want %d", len(pub.msgs), tt.published)
			}
			if _, ok := st.m["j1"]; ok != tt.state {
				t.Errorf("state kept: %v, want %v", ok, tt.state)
			}
			if len(tt.verbs) > 0 && !stopped {
				t.Error("keep-alive not stopped")
			}
			if tt.pubErr != nil {
				var s state
				if err := json.Unmarshal(st.m["j1"], &s); err != nil || s.Result == nil || s.Result.Error != result.Error {
					t.Errorf("state %s, want the result kept for the next delivery", st.m["j1"])
				}
			}
		})
	}
}

// A send that ends as the shutdown grace period runs out (the job's context
// ends while the result comes back) is settled by its outcome: a terminal
// failure is stored and acknowledged, not handed back to be sent again; a
// deferral is handed back after the receiver's wait, not at once.
func TestShutdownRaceSettlesByOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		res    sender.Result
		verb   string
		delay  time.Duration
		stored bool
	}{
		{name: "4xx failure", res: sender.Result{Outcome: sender.Failed, Status: 400, Attempts: 1, Error: "status 400 Bad Request"}, verb: "ack", stored: true},
		{name: "deferral", res: sender.Result{Outcome: sender.Deferred, Status: 429, Attempts: 1, Retries: 1, Defer: 30 * time.Second}, verb: "nak", delay: 30*time.Second + deferMargin},
		{name: "interruption", res: sender.Result{Outcome: sender.Interrupted, Attempts: 1}, verb: "nak"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, interrupt := context.WithCancel(context.Background())
			defer interrupt()
			w, pub, st := settleWorker(t, func(context.Context, sender.Request) sender.Result {
				interrupt() // the grace period ends as the result comes back
				r := tt.res
				r.StartedAt, r.FinishedAt = time.Now(), time.Now()
				return r
			})
			msg := &ackMsg{data: []byte(settleJob)}
			w.working <- struct{}{}
			if token, _ := w.handle(ctx, msg); token {
				<-w.working
			}

			if len(msg.verbs) != 1 || msg.verbs[0] != tt.verb || msg.delays[0] != tt.delay {
				t.Fatalf("settled with %v %v, want %s after %s", msg.verbs, msg.delays, tt.verb, tt.delay)
			}
			if stored := len(pub.msgs) == 1; stored != tt.stored {
				t.Fatalf("result stored: %v, want %v", stored, tt.stored)
			}
			if tt.stored {
				var r job.Result
				if err := json.Unmarshal(pub.msgs[0].Data, &r); err != nil || r.Outcome != job.Failed || r.Status != 400 {
					t.Errorf("stored %s, want the failed result", pub.msgs[0].Data)
				}
				return
			}
			var s state
			if err := json.Unmarshal(st.m["j1"], &s); err != nil || s.Progress.Attempts != 1 || s.HandedBack != 1 {
				t.Errorf("state %s, want the progress and one hand-back", st.m["j1"])
			}
		})
	}
}

// A job its Deliverer refuses is rejected before it takes a host slot.
func TestRejectedBeforeHostSlot(t *testing.T) {
	t.Parallel()
	w, pub, _ := settleWorker(t, nil)
	w.deliverers[job.Discord] = discord.New(nil, discord.Config{}).Prepare
	w.hosts = newHostLimiter(1, 1)
	if !w.hosts.tryAcquire("discord.com:443") {
		t.Fatal("host slot not taken")
	}
	msg := &ackMsg{data: []byte(`{"id":"d1","type":"discord","url":"https://discord.com/api/webhooks/1/t","discord":{"content":5}}`)}
	w.working <- struct{}{}
	if token, _ := w.handle(context.Background(), msg); token {
		<-w.working
	}
	if len(msg.verbs) != 1 || msg.verbs[0] != "ack" || len(pub.msgs) != 1 {
		t.Fatalf("settled with %v, %d results, want one rejection acknowledged (not handed back as host busy)", msg.verbs, len(pub.msgs))
	}
	var r job.Result
	if err := json.Unmarshal(pub.msgs[0].Data, &r); err != nil || r.Outcome != job.Rejected {
		t.Errorf("stored %s, want rejected", pub.msgs[0].Data)
	}
}

// Options.OnAttempt reaches the request of every job.
func TestOnAttemptReachesTheRequest(t *testing.T) {
	t.Parallel()
	var (
		heard []sender.Attempt
		jobs  []string
	)
	w, pub, _ := settleWorker(t, func(_ context.Context, req sender.Request) sender.Result {
		if req.OnAttempt != nil {
			req.OnAttempt(sender.Attempt{ID: req.ID, Number: 1, Status: 204, Outcome: sender.AttemptDelivered})
		}
		return sender.Result{OK: true, Outcome: sender.Delivered, Status: 204, Attempts: 1}
	})
	w.cfg.OnAttempt = func(j *job.Job, a sender.Attempt) {
		jobs = append(jobs, j.ID)
		heard = append(heard, a)
	}
	msg := &ackMsg{data: []byte(settleJob)}
	w.working <- struct{}{}
	if token, _ := w.handle(context.Background(), msg); token {
		<-w.working
	}
	if len(heard) != 1 || heard[0].ID != "j1" || len(pub.msgs) != 1 {
		t.Errorf("heard %+v, %d results, want one attempt of j1 and its result", heard, len(pub.msgs))
	}
	if len(jobs) != 1 || jobs[0] != "j1" {
		t.Errorf("heard of jobs %v, want the attempt's job j1", jobs)
	}
}
