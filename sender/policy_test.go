package sender

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     int
		asked    bool
		want     verdict
		failover bool
	}{
		{200, false, deliver, false},
		{204, false, deliver, false},
		{299, false, deliver, false},
		{429, true, waitAsked, false},
		{429, false, backOff, false},
		{408, false, backOff, false},
		{425, false, backOff, false},
		{500, false, backOff, true},
		{503, true, waitAsked, true},
		{503, false, backOff, true},
		{502, true, backOff, true}, // only a 429 or a 503 is asked for a wait
		{599, false, backOff, true},
		{301, false, fail, false},
		{304, false, fail, false},
		{400, false, fail, false},
		{404, false, fail, false},
		{410, false, fail, false},
		{100, false, fail, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			t.Parallel()
			v, failover := policy(tt.code, tt.asked)
			if v != tt.want || failover != tt.failover {
				t.Errorf("policy(%d, %v) = %d, %v, want %d, %v", tt.code, tt.asked, v, failover, tt.want, tt.failover)
			}
		})
	}
}

// A Request's Schedule replaces the budget and the waits; its Sign signs
// every attempt; OnAttempt hears of every attempt with its outcome.
func TestSendHooks(t *testing.T) {
	t.Parallel()
	var sigs []string
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		sigs = append(sigs, r.Header.Get("Webhook-Signature"))
		if n < 3 {
			reply(w, 503, `{"n":`+string(rune('0'+n))+`}`)
			return
		}
		reply(w, 200, `{"ok":true}`)
	})
	s := newSender(t, Config{AllowPrivateNetworks: true, SigningSecret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("a 24-byte signing key..."))})
	var (
		mu       sync.Mutex
		attempts []Attempt
	)
	req := Request{
		ID: "hooked", URLs: []string{rc.URL + "/hook?token=s3cret"}, Body: []byte(`{}`),
		Schedule: []time.Duration{time.Millisecond, 2 * time.Millisecond},
		Sign:     func(id, ts string, body []byte) (string, error) { return "v1,by-endpoint-" + id, nil },
		OnAttempt: func(a Attempt) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, a)
		},
	}
	res := s.Send(context.Background(), req)
	if !res.OK || res.Attempts != 3 || res.Retries != 2 {
		t.Fatalf("got %s attempts %d retries %d error %q, want delivered on the third attempt", res.Outcome, res.Attempts, res.Retries, res.Error)
	}
	for i, sig := range sigs {
		if sig != "v1,by-endpoint-hooked" {
			t.Errorf("attempt %d signature %q, want the request's own", i+1, sig)
		}
	}
	wantOutcomes := []AttemptOutcome{AttemptRetry, AttemptRetry, AttemptDelivered}
	if len(attempts) != len(wantOutcomes) {
		t.Fatalf("%d attempts heard of, want %d", len(attempts), len(wantOutcomes))
	}
	for i, a := range attempts {
		if a.Number != i+1 || a.Outcome != wantOutcomes[i] || a.ID != "hooked" || a.Header.Get("Webhook-Id") != "hooked" {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
		if strings.Contains(a.URL, "s3cret") || !strings.Contains(a.URL, "/hook") {
			t.Errorf("attempt %d url %q, want it redacted", i+1, a.URL)
		}
	}
	if attempts[0].Status != 503 || string(attempts[0].Response) != `{"n":1}` || attempts[2].Status != 200 {
		t.Errorf("statuses %d, %d, response %s", attempts[0].Status, attempts[2].Status, attempts[0].Response)
	}

	// The schedule runs out: the next failure is terminal.
	attempts = nil
	req.Prior = Progress{Attempts: 3, Retries: 2}
	rc2 := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 503, "") })
	req.URLs = []string{rc2.URL}
	res = s.Send(context.Background(), req)
	if res.Outcome != Failed || res.Attempts != 4 || !strings.Contains(res.Error, "retries exhausted: 2") {
		t.Errorf("got %s attempts %d error %q, want failed when the schedule is spent", res.Outcome, res.Attempts, res.Error)
	}
	if len(attempts) != 1 || attempts[0].Outcome != AttemptFailed || attempts[0].Number != 4 {
		t.Errorf("attempts heard of: %+v, want one failed, number 4", attempts)
	}
}

// An attempt cut short by the end of the delivery's context is heard of as
// a retry: the job is handed back, so another attempt follows. Its Start
// is when it was sent.
func TestOnAttemptInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	arrived := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server sees the client go
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	go func() {
		<-arrived
		cancel()
	}()
	s := newSender(t, Config{AllowPrivateNetworks: true})
	var heard []Attempt
	before := time.Now()
	res := s.Send(ctx, Request{ID: "cut", URLs: []string{rc.URL}, Body: []byte(`{}`),
		OnAttempt: func(a Attempt) { heard = append(heard, a) }})
	if res.Outcome != Interrupted {
		t.Fatalf("got %s (%s), want interrupted", res.Outcome, res.Error)
	}
	if len(heard) != 1 || heard[0].Outcome != AttemptRetry || heard[0].Number != 1 {
		t.Fatalf("heard %+v, want one attempt, a retry", heard)
	}
	if a := heard[0]; a.Start.Before(before) || a.Start.After(time.Now()) || a.Error == "" {
		t.Errorf("start %s (sent after %s), error %q, want the send's time and a cause", a.Start, before, a.Error)
	}
}

// A Sign that fails fails the delivery with nothing sent, on the first
// attempt as on a retry: a request meant to be signed never goes out
// unsigned.
func TestSignErrorSendsNothing(t *testing.T) {
	t.Parallel()
	for _, failOn := range []int{1, 2} {
		t.Run(strconv.Itoa(failOn), func(t *testing.T) {
			t.Parallel()
			var unsigned atomic.Int32
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if r.Header.Get("Webhook-Signature") == "" {
					unsigned.Add(1)
				}
				reply(w, 503, "")
			})
			s := newSender(t, Config{AllowPrivateNetworks: true})
			calls := 0
			res := s.Send(context.Background(), Request{
				ID: "msg_1", URLs: []string{rc.URL}, Body: []byte(`{}`),
				Schedule: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond},
				Sign: func(id, ts string, body []byte) (string, error) {
					if calls++; calls == failOn {
						return "", errors.New("endpoint ep_1 secret: must start with \"whsec_\"")
					}
					return "v1,ok", nil
				},
			})
			if res.Outcome != Failed || !strings.Contains(res.Error, "sign: endpoint ep_1 secret") || !strings.Contains(res.Error, "nothing sent") {
				t.Fatalf("got %s %q, want failed naming the signing error", res.Outcome, res.Error)
			}
			if got, want := rc.Hits(), failOn-1; got != want || res.Attempts != want {
				t.Fatalf("receiver got %d requests, result counts %d attempts; want %d", got, res.Attempts, want)
			}
			if unsigned.Load() != 0 {
				t.Fatalf("%d requests went out unsigned", unsigned.Load())
			}
		})
	}
}

// Check runs before every attempt of a Send but its first; an error fails
// the delivery with that error and sends nothing more.
func TestCheckBeforeRetry(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) { reply(w, 503, "") })
	s := newSender(t, Config{AllowPrivateNetworks: true})
	checks := 0
	res := s.Send(context.Background(), Request{
		ID: "msg_1", URLs: []string{rc.URL}, Body: []byte(`{}`),
		Schedule: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond},
		Check: func(context.Context) error {
			if checks++; checks == 2 {
				return errors.New("endpoint ep_1 was deleted; no retry sent")
			}
			return nil
		},
	})
	if res.Outcome != Failed || res.Error != "endpoint ep_1 was deleted; no retry sent" {
		t.Fatalf("got %s %q, want failed with the check's error", res.Outcome, res.Error)
	}
	if checks != 2 || rc.Hits() != 2 || res.Attempts != 2 {
		t.Fatalf("%d checks, %d requests, %d attempts; want 2, 2, 2", checks, rc.Hits(), res.Attempts)
	}
}
