package sender

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// errPacer answers every Wait with err, and counts the responses observed.
type errPacer struct {
	err      error
	observed int
}

func (p *errPacer) Wait(context.Context, *url.URL) error { return p.err }
func (p *errPacer) Observe(*url.URL, *http.Response)     { p.observed++ }

// busyError is a pacer's error that asks the delivery to come back later.
type busyError time.Duration

func (e busyError) Error() string          { return "webhook busy" }
func (e busyError) RetryIn() time.Duration { return time.Duration(e) }

func TestPacerErrors(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, "") })
	t.Cleanup(func() { // after the parallel subtests
		if n := rc.Hits(); n != 0 {
			t.Errorf("receiver got %d requests, want none", n)
		}
	})
	tests := []struct {
		name      string
		deferAt   time.Duration // Config.DeferAfter
		err       error
		want      Outcome
		wantDefer time.Duration
		wantError string
	}{
		{name: "busy", deferAt: 10 * time.Second, err: busyError(3 * time.Second), want: Deferred, wantDefer: 3 * time.Second, wantError: "webhook busy"},
		{name: "busy wrapped, never defer", err: errors.Join(busyError(time.Minute)), want: Deferred, wantDefer: time.Minute, wantError: "webhook busy"},
		{name: "busy now", err: busyError(0), want: Deferred, wantDefer: minProxyWait, wantError: "webhook busy"},
		{name: "other error", err: errors.New("broken"), want: Failed, wantError: "pacing: broken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSender(t, Config{AllowPrivateNetworks: true, DeferAfter: tt.deferAt})
			p := &errPacer{err: tt.err}
			res := send(t, s, Request{URLs: []string{rc.URL}, Pacer: p, Prior: Progress{Attempts: 2, Retries: 1}})
			if res.Outcome != tt.want || res.Defer != tt.wantDefer || !strings.Contains(res.Error, tt.wantError) {
				t.Errorf("got %s, defer %s, error %q; want %s, defer %s, error with %q",
					res.Outcome, res.Defer, res.Error, tt.want, tt.wantDefer, tt.wantError)
			}
			if res.Attempts != 2 || res.Retries != 1 || p.observed != 0 {
				t.Errorf("attempts %d, retries %d, %d responses: want the prior 2 and 1, and nothing sent", res.Attempts, res.Retries, p.observed)
			}
		})
	}
}
