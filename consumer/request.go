package consumer

import (
	"net/http"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Limits are the worker's maximums for the per-job values; zero Timeout
// means no maximum.
type Limits struct {
	// Timeout is the longest per-attempt timeout a job may ask for.
	Timeout time.Duration
	// MaxRetries is the largest retry budget a job may ask for, and the
	// budget of a job that asks for none.
	MaxRetries int
	// MaxProxyRetries is the largest proxy rotation budget a job may ask
	// for.
	MaxProxyRetries int
	// MaxSchedule is the longest a job's retry schedule may span, its
	// waits summed: the entries past it are cut. Zero means no limit.
	MaxSchedule time.Duration
}

// request builds the delivery of decoded job j. Per-job values are clamped
// to the worker's maximums in limits; a job asking for 0 retries gets none
// (a negative value in the Request). Body is the payload; a Discord or
// Slack job's Deliverer sets its own.
func request(j *job.Job, limits Limits) sender.Request {
	req := sender.Request{ID: j.ID, Body: j.Payload, Destinations: j.Destinations,
		URLs: append([]string(nil), j.URLs...)}
	if len(j.Headers) > 0 {
		req.Header = make(http.Header, len(j.Headers))
		for k, v := range j.Headers {
			req.Header.Set(k, v)
		}
	}
	if t := time.Duration(j.Timeout); t > 0 {
		if limits.Timeout > 0 {
			t = min(t, limits.Timeout)
		}
		req.Timeout = t
	}
	req.MaxRetries = clampCount(j.MaxRetries, limits.MaxRetries)
	req.MaxProxyRetries = clampCount(j.MaxProxyRetries, limits.MaxProxyRetries)
	if j.RetrySchedule != nil {
		req.Schedule = schedule(j.RetrySchedule, limits.MaxSchedule)
	}
	return req
}

// schedule is a job's retry schedule as a sender.Request carries it: one
// retry per entry, each after its wait, then none. The entries past maxSpan
// (their waits summed) are left out; zero maxSpan keeps them all. It is
// never nil.
func schedule(waits []job.Duration, maxSpan time.Duration) []time.Duration {
	return job.Waits(waits, maxSpan)
}

// clampCount turns a per-job budget into the Request's encoding: 0 for the
// worker's own, -1 for none, else the budget capped at limit.
func clampCount(n *int, limit int) int {
	if n == nil {
		return 0
	}
	v := min(*n, limit)
	if v <= 0 {
		return -1
	}
	return v
}
