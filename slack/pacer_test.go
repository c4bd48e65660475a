package slack_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookworker/hookworker/slack"
)

// hook returns a webhook URL with token.
func hook(t *testing.T, token string) *url.URL {
	t.Helper()
	u, err := url.Parse("https://hooks.slack.com/services/T0001/B0001/" + token)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitAll starts n Waits on u at once and returns, in order, how long after
// the start each one was let through.
func waitAll(t *testing.T, p *slack.Pacer, u *url.URL, n int) []time.Duration {
	t.Helper()
	start := time.Now()
	var (
		mu  sync.Mutex
		got []time.Duration
		wg  sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			if err := p.Wait(context.Background(), u); err != nil {
				t.Errorf("Wait: %v", err)
			}
			mu.Lock()
			got = append(got, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	return got
}

// seconds returns the durations of the given seconds.
func seconds(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

func TestPacerBurstThenPace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  slack.PacerConfig
		n    int
		want []time.Duration
	}{
		{"defaults", slack.PacerConfig{}, 6, seconds(0, 0, 1, 2, 3, 4)},
		{"burst 3", slack.PacerConfig{Burst: 3}, 6, seconds(0, 0, 0, 1, 2, 3)},
		{"faster pace", slack.PacerConfig{Interval: 100 * time.Millisecond, Burst: 1}, 4, seconds(0, 0.1, 0.2, 0.3)},
		{"within the burst", slack.PacerConfig{}, 2, seconds(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				p := slack.NewPacer(tt.cfg)
				got := waitAll(t, p, hook(t, "tok"), tt.n)
				if !slices.Equal(got, tt.want) {
					t.Errorf("let through after %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestPacerRefills(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{})
		u := hook(t, "tok")
		if got := waitAll(t, p, u, 4); !slices.Equal(got, seconds(0, 0, 1, 2)) {
			t.Fatalf("first burst let through after %v", got)
		}
		// Two intervals after the last slot the bucket is full again.
		time.Sleep(4 * time.Second)
		if got := waitAll(t, p, u, 3); !slices.Equal(got, seconds(0, 0, 1)) {
			t.Errorf("after a rest let through after %v, want a full burst again", got)
		}
	})
}

func TestPacerWebhooksAreApart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{})
		a, b := hook(t, "a"), hook(t, "b")
		waitAll(t, p, a, 5)
		// b's bucket is untouched by a's backlog.
		if got := waitAll(t, p, b, 2); !slices.Equal(got, seconds(0, 0)) {
			t.Errorf("other webhook let through after %v, want at once", got)
		}
		// The same webhook with a trailing slash is the same bucket.
		slash := *b
		slash.Path += "/"
		if got := waitAll(t, p, &slash, 1); !slices.Equal(got, seconds(1)) {
			t.Errorf("same webhook with a slash let through after %v, want 1s", got)
		}
	})
}

// limited returns a 429 response with Retry-After v (none when empty).
func limited(v string) *http.Response {
	h := http.Header{}
	if v != "" {
		h.Set("Retry-After", v)
	}
	return &http.Response{StatusCode: http.StatusTooManyRequests, Header: h}
}

func TestPacer429Pauses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		cfg        slack.PacerConfig
		want       []time.Duration // of three waits after the 429
	}{
		{"retry-after", "5", slack.PacerConfig{}, seconds(5, 6, 7)},
		{"no retry-after: one interval", "", slack.PacerConfig{}, seconds(1, 2, 3)},
		{"capped", "3600", slack.PacerConfig{MaxBlock: 10 * time.Second}, seconds(10, 11, 12)},
		{"fraction", "0.5", slack.PacerConfig{Interval: 100 * time.Millisecond}, seconds(0.5, 0.6, 0.7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				p := slack.NewPacer(tt.cfg)
				u := hook(t, "tok")
				p.Observe(u, limited(tt.retryAfter))
				if got := waitAll(t, p, u, 3); !slices.Equal(got, tt.want) {
					t.Errorf("let through after %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestPacer429VoidsReservedSlots(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{})
		u := hook(t, "tok")
		// Spend the burst, then two requests wait for slots at 1s and 2s.
		waitAll(t, p, u, 2)
		start := time.Now()
		var (
			mu  sync.Mutex
			got []time.Duration
			wg  sync.WaitGroup
		)
		for range 2 {
			wg.Go(func() {
				if err := p.Wait(context.Background(), u); err != nil {
					t.Errorf("Wait: %v", err)
				}
				mu.Lock()
				got = append(got, time.Since(start))
				mu.Unlock()
			})
		}
		synctest.Wait()
		// A 429 at 0.5s asks for 3s: both move behind it, one a second.
		time.Sleep(500 * time.Millisecond)
		p.Observe(u, limited("3"))
		wg.Wait()
		slices.Sort(got)
		if want := seconds(3.5, 4.5); !slices.Equal(got, want) {
			t.Errorf("let through after %v, want %v", got, want)
		}
	})
}

func TestPacerIgnoresOtherResponses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{})
		u := hook(t, "tok")
		p.Observe(u, nil)
		for _, status := range []int{200, 400, 404, 500, 503} {
			p.Observe(u, &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {"30"}}})
		}
		if got := waitAll(t, p, u, 3); !slices.Equal(got, seconds(0, 0, 1)) {
			t.Errorf("let through after %v, want the plain pace", got)
		}
	})
}

func TestPacerCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{})
		u := hook(t, "tok")
		waitAll(t, p, u, 2)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := p.Wait(ctx, u)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v, want the context's deadline", err)
		}
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Errorf("Wait returned after %v, want at the deadline", d)
		}
		// The slot at 1s was given back: the next request takes it.
		if got := waitAll(t, p, u, 1); !slices.Equal(got, seconds(0.7)) {
			t.Errorf("next request let through after %v, want 0.7s", got)
		}
	})
}

func TestPacerCancelDuringPause(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{})
		u := hook(t, "tok")
		p.Observe(u, limited("30"))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- p.Wait(ctx, u) }()
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case err := <-errc:
			t.Fatalf("Wait returned %v during the pause", err)
		default:
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
	})
}

func TestPacerFreeSlotTakenWithEndedContext(t *testing.T) {
	t.Parallel()
	p := slack.NewPacer(slack.PacerConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx, hook(t, "tok")); err != nil {
		t.Fatalf("Wait with a free slot = %v, want nil", err)
	}
}

// countWaits counts PaceWait calls.
type countWaits struct{ n, total atomic.Int64 }

func (c *countWaits) PaceWait(d time.Duration) {
	c.n.Add(1)
	c.total.Add(int64(d))
}

func TestPacerObserver(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		obs := &countWaits{}
		p := slack.NewPacer(slack.PacerConfig{Observer: obs})
		waitAll(t, p, hook(t, "tok"), 4)
		if n, total := obs.n.Load(), time.Duration(obs.total.Load()); n != 2 || total != 3*time.Second {
			t.Errorf("observer saw %d waits of %v in all, want 2 of 3s", n, total)
		}
	})
}

func TestPacerForgetsIdleWebhooks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{MaxBuckets: 100})
		for i := range 50 {
			waitAll(t, p, hook(t, "tok"+string(rune('a'+i%26))+string(rune('a'+i/26))), 1)
		}
		if n := p.Len(); n != 50 {
			t.Fatalf("Len = %d, want 50", n)
		}
		// A webhook with a backlog is kept; the idle ones go at the next
		// sweep, a minute on.
		busy := hook(t, "busy")
		waitAll(t, p, busy, 4)
		time.Sleep(2 * time.Minute)
		p.Observe(busy, limited("600"))
		waitAll(t, p, hook(t, "new"), 1)
		if n := p.Len(); n != 2 {
			t.Errorf("Len after the sweep = %d, want 2 (the paused webhook and the new one)", n)
		}
		// Capped: past MaxBuckets, the ones nobody waits on go.
		q := slack.NewPacer(slack.PacerConfig{MaxBuckets: 10})
		for i := range 30 {
			waitAll(t, q, hook(t, "x"+string(rune('a'+i%26))+string(rune('a'+i/26))), 1)
		}
		if n := q.Len(); n > 10 {
			t.Errorf("Len = %d past MaxBuckets 10", n)
		}
	})
}

func TestPacerMaxWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{MaxWait: 1500 * time.Millisecond})
		u := hook(t, "tok")
		start := time.Now()
		type outcome struct {
			after time.Duration
			err   error
		}
		got := make([]outcome, 6)
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				err := p.Wait(context.Background(), u)
				got[i] = outcome{time.Since(start), err}
			})
			synctest.Wait() // each asks after the one before
		}
		wg.Wait()
		// The burst of two at once, the third within MaxWait; the others
		// are told to come back one interval apart, from the first slot
		// beyond MaxWait.
		want := []time.Duration{0, 0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}
		for i, o := range got {
			var busy *slack.BusyError
			switch {
			case i < 3 && (o.err != nil || o.after != want[i]):
				t.Errorf("request %d: %v after %s, want through after %s", i, o.err, o.after, want[i])
			case i >= 3 && (!errors.As(o.err, &busy) || busy.RetryIn() != want[i] || o.after != 0):
				t.Errorf("request %d: %v after %s, want a BusyError of %s at once", i, o.err, o.after, want[i])
			}
		}
		// Told 2s: at 2s the slot is free at once, nothing was reserved
		// for the requests turned away.
		time.Sleep(2*time.Second - time.Since(start))
		before := time.Now()
		if err := p.Wait(context.Background(), u); err != nil || time.Since(before) != 0 {
			t.Errorf("request at 2s: %v after %s, want through at once", err, time.Since(before))
		}
	})
}

func TestPacerMaxWaitAfter429(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := slack.NewPacer(slack.PacerConfig{MaxWait: 1500 * time.Millisecond})
		u := hook(t, "tok")
		waitAll(t, p, u, 2)
		errc := make(chan error, 1)
		go func() { errc <- p.Wait(context.Background(), u) }()
		synctest.Wait() // waiting for its slot at 1s
		p.Observe(u, &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"5"}}})
		var busy *slack.BusyError
		if err := <-errc; !errors.As(err, &busy) || busy.RetryIn() != 5*time.Second {
			t.Errorf("a waiter after a 429 of 5s: %v, want a BusyError of 5s", err)
		}
	})
}
