package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSendDeferral(t *testing.T) {
	t.Parallel()

	t.Run("long retry_after defers, the re-send completes", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
			if n == 1 {
				reply(w, 429, `{"retry_after":30}`)
				return
			}
			reply(w, 200, `{"n":2}`)
		})
		obs := &counter{}
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3, DeferAfter: time.Second, Observer: obs})
		req := Request{URLs: []string{rc.URL}}

		first := send(t, s, req)
		if first.Defer != 30*time.Second || first.Outcome != Deferred || first.Attempts != 1 || first.Retries != 1 || first.Status != 429 {
			t.Fatalf("first: defer %s outcome %s attempts %d retries %d status %d, want 30s failed 1 1 429",
				first.Defer, first.Outcome, first.Attempts, first.Retries, first.Status)
		}

		req.Prior = first.Progress()
		second := send(t, s, req)
		if !second.OK || second.Defer != 0 || second.Attempts != 2 || second.Retries != 1 || string(second.Response) != `{"n":2}` {
			t.Errorf("second: %s defer %s attempts %d retries %d response %s, want delivered after 2 attempts in all",
				second.Outcome, second.Defer, second.Attempts, second.Retries, second.Response)
		}
		if a, r, _ := obs.counts(); a != 2 || r != 1 {
			t.Errorf("observer: %d attempts, %d retries, want 2, 1", a, r)
		}
	})

	t.Run("long backoff defers", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 503, "") })
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3, DeferAfter: time.Second, BackoffMin: 5 * time.Second, BackoffMax: time.Minute})
		res := send(t, s, Request{URLs: []string{rc.URL}, Prior: Progress{Attempts: 4, Retries: 2}})
		// The third retry backs off 5s·2² = 20s, ±25%.
		if res.Defer < 15*time.Second || res.Defer > 25*time.Second || res.Attempts != 5 || res.Retries != 3 {
			t.Errorf("defer %s attempts %d retries %d, want 15s..25s, 5, 3", res.Defer, res.Attempts, res.Retries)
		}
	})

	t.Run("spent budget makes the next failure terminal", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 429, `{"retry_after":30}`) })
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 2, DeferAfter: time.Second})
		res := send(t, s, Request{URLs: []string{rc.URL}, Prior: Progress{Attempts: 3, Retries: 2, Status: 429}})
		if res.Defer != 0 || res.Outcome != Failed || res.Attempts != 4 || res.Status != 429 || !strings.Contains(res.Error, "retries exhausted") {
			t.Errorf("defer %s outcome %s attempts %d status %d error %q, want terminal failure after 4 attempts",
				res.Defer, res.Outcome, res.Attempts, res.Status, res.Error)
		}
	})

	t.Run("prior response survives a send without response", func(t *testing.T) {
		t.Parallel()
		s := newSender(t, Config{AllowPrivateNetworks: true})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		prior := Progress{Attempts: 1, Retries: 1, Status: 429, Response: json.RawMessage(`{"retry_after":30}`)}
		res := s.Send(ctx, Request{ID: "j", URLs: []string{"http://127.0.0.1:9/"}, Prior: prior})
		if res.Outcome != Interrupted || res.Status != 429 || string(res.Response) != `{"retry_after":30}` || res.Attempts != 1 {
			t.Errorf("got %s status %d response %s attempts %d, want the prior's", res.Outcome, res.Status, res.Response, res.Attempts)
		}
		if !strings.Contains(res.Error, "cancelled before the first attempt") {
			t.Errorf("error = %q", res.Error)
		}
	})
}

func TestSendCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 429, `{"retry_after":60}`) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The retry is scheduled after the first attempt: cancel then, so the
	// Sender is (about to be) waiting 60s for the next one.
	obs := &counter{onRetry: cancel}
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3, Observer: obs})

	res := s.Send(ctx, Request{ID: "j", URLs: []string{rc.URL}})

	if res.Outcome != Interrupted || res.Attempts != 1 || res.Status != 429 || res.Defer != 0 {
		t.Errorf("got %s attempts %d status %d defer %s, want interrupted after 1 attempt with 429", res.Outcome, res.Attempts, res.Status, res.Defer)
	}
	if !strings.Contains(res.Error, "cancelled while waiting to retry") || !strings.Contains(res.Error, context.Canceled.Error()) {
		t.Errorf("error = %q, want it to name the cancellation", res.Error)
	}
}

func TestSendCancelledDuringAttempt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
		cancel()
		awaitDisconnect(r)
	})
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3})
	res := s.Send(ctx, Request{ID: "j", URLs: []string{rc.URL}})
	if res.Outcome != Interrupted || res.Attempts != 1 || !strings.Contains(res.Error, "cancelled during an attempt") {
		t.Errorf("got %s attempts %d error %q", res.Outcome, res.Attempts, res.Error)
	}
}

// awaitDisconnect blocks until the client of r goes away. The server only
// notices once the request body has been read.
func awaitDisconnect(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func TestSendBeforeRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		prior Progress
		// want is the progress BeforeRetry is told of, one per call.
		want []Progress
		// attempts is the Result's Attempts.
		attempts int
	}{
		{
			name: "first delivery: not called before the first attempt",
			want: []Progress{
				{Attempts: 2, Retries: 1, Status: 503},
				{Attempts: 3, Retries: 2, Status: 503},
			},
			attempts: 3,
		},
		{
			name:  "redelivery: called before every attempt",
			prior: Progress{Attempts: 2, Retries: 1, Status: 429},
			want: []Progress{
				{Attempts: 3, Retries: 1, Status: 429},
				{Attempts: 4, Retries: 2, Status: 503},
				{Attempts: 5, Retries: 3, Status: 503},
			},
			attempts: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
				if n < 3 {
					reply(w, 503, "")
					return
				}
				reply(w, 204, "")
			})
			s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
			var got []Progress
			hitsBefore := []int{}
			res := send(t, s, Request{ID: "j", URLs: []string{rc.URL}, Prior: tt.prior, BeforeRetry: func(p Progress) {
				p.Response = nil
				if p.URL != rc.URL {
					t.Errorf("BeforeRetry told url %q, want %q", p.URL, rc.URL)
				}
				p.URL = ""
				got = append(got, p)
				hitsBefore = append(hitsBefore, rc.Hits())
			}})
			if !res.OK || res.Attempts != tt.attempts {
				t.Fatalf("result %s after %d attempts, want delivered after %d", res.Outcome, res.Attempts, tt.attempts)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("BeforeRetry told %v, want %v", got, tt.want)
			}
			// Each call comes before the attempt it counts is sent.
			for i, h := range hitsBefore {
				if want := got[i].Attempts - 1 - tt.prior.Attempts; h != want {
					t.Errorf("call %d: receiver had %d requests, want %d", i, h, want)
				}
			}
		})
	}
}
