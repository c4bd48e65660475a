package sender

import (
	"time"

	"github.com/sethvargo/go-retry"
)

// backoffJitter is the jitter applied to every exponential wait, in percent.
const backoffJitter = 25

// newBackoff returns the go-retry Backoff of one delivery of req, from which
// every retry draws its wait: the request's Schedule, or the Sender's
// exponential backoff limited to the retry budget. A delivery that resumes
// a job (req.Prior counts retries already used) gets it advanced past
// those retries, so that its next wait is the one the job would have drawn
// had it never been handed back.
func (s *Sender) newBackoff(req *Request) retry.Backoff {
	var b retry.Backoff
	if req.Schedule != nil {
		b = schedule(req.Schedule)
	} else {
		b = exponential(s.cfg.BackoffMin, s.cfg.BackoffMax)
		b = retry.WithMaxRetries(uint64(budget(req.MaxRetries, s.cfg.MaxRetries)), b)
	}
	for range req.Prior.Retries {
		if _, stop := b.Next(); stop {
			break
		}
	}
	return b
}

// exponential is go-retry's exponential backoff from lo, doubled for every
// wait drawn, capped at hi, with 25% jitter, kept within [lo, hi]. It never
// stops: a retry budget around it does.
func exponential(lo, hi time.Duration) retry.Backoff {
	b := retry.WithJitterPercent(backoffJitter, retry.WithCappedDuration(hi, retry.NewExponential(lo)))
	return retry.BackoffFunc(func() (time.Duration, bool) {
		w, stop := b.Next()
		return min(max(w, lo), hi), stop
	})
}

// schedule is a Backoff that draws the waits in turn, one retry each, then
// stops. It is not safe for concurrent use: a delivery draws from its own.
func schedule(waits []time.Duration) retry.Backoff {
	next := 0
	return retry.BackoffFunc(func() (time.Duration, bool) {
		if next >= len(waits) {
			return 0, true
		}
		next++
		return waits[next-1], false
	})
}
