package sender

import (
	"testing"
	"time"
)

// draw takes n waits from s's backoff of req; stopped counts the draws that
// found no retry left.
func draw(t *testing.T, s *Sender, req Request, n int) (waits []time.Duration, stopped int) {
	t.Helper()
	b := s.newBackoff(&req)
	for range n {
		w, stop := b.Next()
		if stop {
			stopped++
			continue
		}
		waits = append(waits, w)
	}
	return waits, stopped
}

// Each delivery draws its waits from one exponential backoff: doubled for
// every retry from BackoffMin, capped at BackoffMax, with 25% jitter, never
// outside [BackoffMin, BackoffMax].
func TestExponentialBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for range 20 {
		b := exponential(time.Second, 10*time.Second)
		for n, w := range want {
			got, stop := b.Next()
			lo, hi := max(w*3/4, time.Second), min(w*5/4, 10*time.Second)
			if stop || got < lo || got > hi {
				t.Fatalf("retry %d: %s, stop %v, want %s..%s", n, got, stop, lo, hi)
			}
		}
	}
	b := exponential(time.Second, 10*time.Second)
	for range 1 << 20 {
		b.Next()
	}
	if got, stop := b.Next(); stop || got < 7500*time.Millisecond || got > 10*time.Second {
		t.Errorf("a very late retry: %s, stop %v, want the cap", got, stop)
	}
}

// A delivery that resumes a job draws the waits the job would have drawn in
// one delivery: the backoff is built again and advanced past the retries
// already used, and the budget counts them.
func TestBackoffResumes(t *testing.T) {
	t.Parallel()
	s := newSender(t, Config{BackoffMin: time.Second, BackoffMax: time.Hour, MaxRetries: 3})
	schedule := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	tests := []struct {
		name    string
		req     Request
		waits   []time.Duration // nil: exponential, checked by range
		retries int             // left
	}{
		{"schedule", Request{Schedule: schedule}, schedule, 3},
		{"schedule resumed", Request{Schedule: schedule, Prior: Progress{Retries: 2}}, schedule[2:], 1},
		{"schedule spent", Request{Schedule: schedule, Prior: Progress{Retries: 3}}, nil, 0},
		{"schedule overspent", Request{Schedule: schedule, Prior: Progress{Retries: 7}}, nil, 0},
		{"empty schedule", Request{Schedule: []time.Duration{}}, nil, 0},
		{"budget", Request{}, nil, 3},
		{"budget resumed", Request{Prior: Progress{Retries: 1}}, nil, 2},
		{"own budget resumed", Request{MaxRetries: 5, Prior: Progress{Retries: 2}}, nil, 3},
		{"no retries", Request{MaxRetries: -1}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			waits, stopped := draw(t, s, tt.req, 8)
			if len(waits) != tt.retries || stopped != 8-tt.retries {
				t.Fatalf("%d waits and %d stops, want %d retries left", len(waits), stopped, tt.retries)
			}
			if tt.waits != nil {
				for i, w := range waits {
					if w != tt.waits[i] {
						t.Errorf("wait %d: %s, want %s", i, w, tt.waits[i])
					}
				}
				return
			}
			for i, w := range waits {
				// The exponential wait of the job's retry number n.
				n := tt.req.Prior.Retries + i
				lo := max(time.Second<<n*3/4, time.Second)
				hi := time.Second << n * 5 / 4
				if w < lo || w > hi {
					t.Errorf("retry %d: %s, want %s..%s", n, w, lo, hi)
				}
			}
		})
	}
}
