package discord_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookworker/hookworker/discord"
)

// hook returns the URL of a webhook on discord.com.
func hook(t testing.TB, id string) *url.URL {
	t.Helper()
	u, err := url.Parse("https://discord.com/api/v10/webhooks/" + id + "/token-" + id + "?wait=true")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// response builds a response with rate-limit headers; kv are header
// name/value pairs.
func response(status int, kv ...string) *http.Response {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return &http.Response{StatusCode: status, Header: h}
}

// limits is a 2xx response saying remaining slots and seconds to the reset.
func limits(remaining int, resetAfter string) *http.Response {
	return response(http.StatusNoContent,
		"X-RateLimit-Limit", "5",
		"X-RateLimit-Remaining", fmt.Sprint(remaining),
		"X-RateLimit-Reset-After", resetAfter,
		"X-RateLimit-Bucket", "abcd")
}

// cancelled is a context that has ended: Wait with it succeeds only when a
// slot is free at once.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// freeSlots counts how many of n concurrent Waits get a slot at once.
func freeSlots(p *discord.Pacer, u *url.URL, n int) int {
	var got atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if p.Wait(cancelled(), u) == nil {
				got.Add(1)
			}
		})
	}
	wg.Wait()
	return int(got.Load())
}

func TestPacerReservesRemainingSlots(t *testing.T) {
	t.Parallel()
	for _, k := range []int{0, 1, 3, 5} {
		t.Run(fmt.Sprint("remaining ", k), func(t *testing.T) {
			t.Parallel()
			p := discord.NewPacer(discord.PacerConfig{ProbeWait: time.Hour})
			u := hook(t, "1")
			if err := p.Wait(cancelled(), u); err != nil {
				t.Fatalf("first request of an unknown bucket: %v", err)
			}
			p.Observe(u, limits(k, "3600"))
			if got := freeSlots(p, u, 10); got != k {
				t.Errorf("%d of 10 concurrent requests let through, want %d", got, k)
			}
		})
	}
}

func TestPacerFirstRequestGoesAlone(t *testing.T) {
	t.Parallel()
	p := discord.NewPacer(discord.PacerConfig{ProbeWait: time.Hour})
	u := hook(t, "1")
	if got := freeSlots(p, u, 10); got != 1 {
		t.Fatalf("%d requests let through before any response, want 1", got)
	}
	// The others go once the first response tells the limits.
	p.Observe(u, limits(4, "3600"))
	if got := freeSlots(p, u, 10); got != 4 {
		t.Errorf("%d requests let through after the first response, want 4", got)
	}
	// Another webhook has a bucket of its own.
	if got := freeSlots(p, hook(t, "2"), 10); got != 1 {
		t.Errorf("%d requests to another webhook, want 1", got)
	}
}

// TestPacerProbeBound: the first request to a bucket never gets a response
// (a connection error), so the next one is held back until ProbeWait has
// passed, and goes then. It runs on synctest's clock, with the default
// ProbeWait.
func TestPacerProbeBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := discord.NewPacer(discord.PacerConfig{})
		u := hook(t, "1")
		first := time.Now()
		if err := p.Wait(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		early, cancel := context.WithTimeout(context.Background(), discord.DefaultProbeWait-time.Millisecond)
		defer cancel()
		if err := p.Wait(early, u); err == nil {
			t.Fatalf("second request let through %s after the first, before ProbeWait (%s)", time.Since(first), discord.DefaultProbeWait)
		}
		if err := p.Wait(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(first); got != discord.DefaultProbeWait {
			t.Errorf("second request let through %s after the first, want ProbeWait (%s)", got, discord.DefaultProbeWait)
		}
	})
}

func TestPacerWaitsForReset(t *testing.T) {
	t.Parallel()
	rec := &waitRecorder{}
	p := discord.NewPacer(discord.PacerConfig{ProbeWait: time.Hour, Observer: rec})
	u := hook(t, "1")
	if err := p.Wait(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	p.Observe(u, limits(0, "0.05"))
	if err := p.Wait(cancelled(), u); err == nil {
		t.Fatal("empty bucket let a request through")
	}
	if err := p.Wait(context.Background(), u); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
	if rec.n.Load() < 1 {
		t.Errorf("waits reported: %d", rec.n.Load())
	}
	// After the reset, a full window is assumed until a response says more.
	if got := freeSlots(p, u, 10); got != 4 {
		t.Errorf("%d requests let through in the new window, want 4 (5 less the one sent)", got)
	}
}

func TestPacerTooManyRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		resp        *http.Response
		otherBlocks bool // another webhook is held back too
	}{
		{"bucket", response(http.StatusTooManyRequests, "X-RateLimit-Reset-After", "3600", "X-RateLimit-Scope", "user"), false},
		{"shared", response(http.StatusTooManyRequests, "Retry-After", "3600", "X-RateLimit-Scope", "shared"), false},
		{"no headers", response(http.StatusTooManyRequests), false},
		{"global", response(http.StatusTooManyRequests, "Retry-After", "3600", "X-RateLimit-Global", "true"), true},
		{"global scope", response(http.StatusTooManyRequests, "Retry-After", "3600", "X-RateLimit-Scope", "global"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := discord.NewPacer(discord.PacerConfig{ProbeWait: time.Hour})
			u, other := hook(t, "1"), hook(t, "2")
			if err := p.Wait(cancelled(), u); err != nil {
				t.Fatal(err)
			}
			p.Observe(u, limits(3, "3600"))
			p.Observe(u, tt.resp)
			if err := p.Wait(cancelled(), u); err == nil {
				t.Error("request let through after a 429")
			}
			if err := p.Wait(cancelled(), other); (err != nil) != tt.otherBlocks {
				t.Errorf("other webhook: %v, want held back %v", err, tt.otherBlocks)
			}
		})
	}
}

func TestPacerLearnsFromResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		then *http.Response
		want int // slots free afterwards (of 10 asked)
	}{
		{"lower remaining wins", limits(1, "3600"), 1},
		{"higher remaining does not undo reservations", limits(4, "3600"), 2},
		{"a new bucket id starts afresh", response(http.StatusOK,
			"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "9", "X-RateLimit-Reset-After", "3600", "X-RateLimit-Bucket", "other"), 9},
		{"a response without limits changes nothing", response(http.StatusOK), 2},
		{"an error without limits changes nothing", response(http.StatusBadGateway), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := discord.NewPacer(discord.PacerConfig{ProbeWait: time.Hour})
			u := hook(t, "1")
			if err := p.Wait(cancelled(), u); err != nil {
				t.Fatal(err)
			}
			p.Observe(u, limits(4, "3600"))
			// Two requests reserve two of the four slots.
			if got := freeSlots(p, u, 2); got != 2 {
				t.Fatalf("reserved %d, want 2", got)
			}
			p.Observe(u, tt.then)
			if got := freeSlots(p, u, 10); got != tt.want {
				t.Errorf("%d free, want %d", got, tt.want)
			}
		})
	}
}

func TestPacerNoLimitHeaders(t *testing.T) {
	t.Parallel()
	p := discord.NewPacer(discord.PacerConfig{ProbeWait: time.Hour})
	u := hook(t, "1")
	if err := p.Wait(cancelled(), u); err != nil {
		t.Fatal(err)
	}
	p.Observe(u, response(http.StatusNoContent))
	if got := freeSlots(p, u, 10); got != 10 {
		t.Errorf("%d of 10 let through to a webhook without limits, want 10", got)
	}
}

func TestPacerWaitCancelled(t *testing.T) {
	t.Parallel()
	rec := &waitRecorder{}
	p := discord.NewPacer(discord.PacerConfig{ProbeWait: time.Hour, Observer: rec})
	u := hook(t, "1")
	if err := p.Wait(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	p.Observe(u, limits(0, "3600"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Wait(ctx, u) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
	if n := rec.n.Load(); n != 1 {
		t.Errorf("%d waits reported, want 1", n)
	}
}
