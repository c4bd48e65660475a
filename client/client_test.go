package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/job"
)

func TestErrorIs(t *testing.T) {
	tests := []struct {
		code          int
		notFound, bad bool
	}{
		{404, true, false},
		{400, false, true},
		{500, false, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &client.Error{Code: tt.code, Description: "x"})
			if errors.Is(err, client.ErrNotFound) != tt.notFound || errors.Is(err, client.ErrBadRequest) != tt.bad {
				t.Fatalf("code %d: Is(ErrNotFound) %v, Is(ErrBadRequest) %v", tt.code, errors.Is(err, client.ErrNotFound), errors.Is(err, client.ErrBadRequest))
			}
		})
	}
}

// jobServer starts a server with the job and result streams.
func jobServer(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv := bustest.Server(t)
	b := catalogtest.Connect(t, srv.ClientURL())
	if _, err := b.Ensure(context.Background(), bus.Topology{Subject: "hooks.send", Stream: "HOOKS", Durable: "hookworker",
		ResultSubject: "hooks.result", ResultStream: "HOOKS_RESULTS", AckWait: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	return bustest.Connect(t, srv.ClientURL())
}

func TestPublish(t *testing.T) {
	nc, js := jobServer(t)
	c := client.New(nc)
	ctx := context.Background()
	if _, err := c.Publish(ctx, job.Job{URL: "ftp://example.com"}); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("invalid job: %v", err)
	}
	id, err := c.Publish(ctx, job.Job{ID: "job-1", URL: "https://example.com/hook", Payload: json.RawMessage(`{"a":1}`)})
	if err != nil || id != "job-1" {
		t.Fatalf("publish = %q, %v", id, err)
	}
	if id, err := c.Publish(ctx, job.Job{ID: "job-1", URL: "https://example.com/hook", Payload: json.RawMessage(`{"a":1}`)}); err != nil || id != "job-1" {
		t.Fatalf("repeat = %q, %v", id, err)
	}
	generated, err := c.Publish(ctx, job.Job{URL: "https://example.com/hook", Payload: json.RawMessage(`{}`)})
	if err != nil || generated == "" {
		t.Fatalf("generated = %q, %v", generated, err)
	}
	s, err := js.Stream(ctx, "HOOKS")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("job stream holds %d jobs, want 2", info.State.Msgs)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil || m.Header.Get(nats.MsgIdHdr) != "job-1" {
		t.Fatalf("first job: %v", err)
	}
}

// publishResult publishes a result as the worker does.
func publishResult(t *testing.T, js jetstream.JetStream, id string, outcome string) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"type":"webhook","ok":%v,"outcome":%q,"status":204,"url":null,"attempts":1,"error":null,"response":null,"proxy":null,"started_at":"2026-11-27T12:00:00Z","finished_at":"2026-11-27T12:00:01Z","duration_ms":1000,"meta":null}`,
		id, outcome == "delivered", outcome)
	msg := &nats.Msg{Subject: "hooks.result", Data: []byte(body), Header: nats.Header{
		"Hook-Job-Id": {id}, "Hook-Outcome": {outcome}, nats.MsgIdHdr: {id}}}
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func TestWait(t *testing.T) {
	nc, js := jobServer(t)
	c := client.New(nc)
	publishResult(t, js, "other", "failed")
	publishResult(t, js, "done-before", "delivered")
	publishResult(t, js, "other-2", "failed")

	t.Run("stored before", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := c.Wait(ctx, "done-before")
		if err != nil || r.ID != "done-before" || !r.OK || r.Status != 204 {
			t.Fatalf("Wait = %+v, %v", r, err)
		}
	})
	t.Run("published after", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got := make(chan error, 1)
		go func() {
			r, err := c.Wait(ctx, "later")
			if err == nil && (r.ID != "later" || r.Outcome != "failed") {
				err = fmt.Errorf("result %+v", r)
			}
			got <- err
		}()
		// Publish until the waiter has subscribed and taken it: the
		// result stream drops the repeats.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
				return
			case <-tick.C:
				publishResult(t, js, "later", "failed")
			}
		}
	})
	t.Run("never", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := c.Wait(ctx, "never"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want the deadline", err)
		}
	})
}

func TestLastResult(t *testing.T) {
	nc, js := jobServer(t)
	publishResult(t, js, "other", "failed")
	publishResult(t, js, "twice", "failed")
	// A second result for the same job, with a body of its own: the
	// result stream's duplicate window is keyed on Nats-Msg-Id.
	second := &nats.Msg{Subject: "hooks.result", Data: []byte(`{"id":"twice","outcome":"delivered"}`),
		Header: nats.Header{"Hook-Job-Id": {"twice"}, "Hook-Outcome": {"delivered"}, nats.MsgIdHdr: {"twice-2"}}}
	if _, err := js.PublishMsg(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	publishResult(t, js, "other-2", "failed")

	tests := []struct {
		name     string
		id       string
		lookback time.Duration
		want     string // the stored body; "" for none
	}{
		{"last of two, byte for byte", "twice", time.Minute, string(second.Data)},
		{"unknown job", "never", time.Minute, ""},
		{"stored before the lookback", "twice", -time.Minute, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client.New(nc, client.WithWaitLookback(tt.lookback))
			m, err := c.LastResult(context.Background(), tt.id)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == "" && m != nil:
				t.Fatalf("LastResult = %s, want none", m.Data)
			case tt.want != "" && (m == nil || string(m.Data) != tt.want || m.Header.Get(job.HeaderOutcome) != "delivered"):
				t.Fatalf("LastResult = %v, want %s", m, tt.want)
			}
		})
	}
}

// An attempt reads from the delivery log's record and encodes back to it:
// the fields a record has no value for stay null, not empty strings or 0.
func TestAttemptJSONKeepsNulls(t *testing.T) {
	t.Parallel()
	for _, record := range []string{
		`{"job_id":"j1","event_id":null,"event_type":null,"channel":null,"endpoint":null,"tenant":null,"url":"https://example.com/h","attempt":1,"timestamp":"2026-11-27T12:00:00Z","duration_ms":3,"request_headers":{"content-type":"application/json"},"status":null,"response":null,"error":"dial tcp: refused","outcome":"retry","payload":null}`,
		`{"job_id":"evt_1:ep_1","event_id":"evt_1","event_type":"order.created","channel":"eu","endpoint":"ep_1","tenant":"acme","url":"https://example.com/h","attempt":2,"timestamp":"2026-11-27T12:00:00Z","duration_ms":41,"request_headers":{"webhook-id":"evt_1"},"status":200,"response":{"ok":true},"error":null,"outcome":"delivered","payload":{"order":42}}`,
	} {
		var a client.Attempt
		if err := json.Unmarshal([]byte(record), &a); err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != record {
			t.Errorf("record\n%s\nencoded again as\n%s", record, got)
		}
	}
}
