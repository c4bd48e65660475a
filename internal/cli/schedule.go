package cli

import (
	"time"

	"github.com/hookworker/hookworker/config"
)

// minScheduleSpan is the least a job's own retry schedule may span,
// whatever the worker's schedule.
const minScheduleSpan = 72 * time.Hour

// stateMargin is how much longer than the longest retry schedule a job's
// delivery state is kept: room for the last attempts, a Retry-After, hosts
// that were busy and deliveries lost with a worker.
const stateMargin = 24 * time.Hour

// maxSchedule is how long a job's retry schedule may span, its waits
// summed: the worker's schedule, or minScheduleSpan when that is longer.
func maxSchedule(cfg config.Config) time.Duration {
	return max(cfg.RetrySchedule.Span(), minScheduleSpan)
}

// stateTTL is how long the state bucket keeps a job's progress: longer than
// any retry schedule a job may follow, so that progress outlives it.
func stateTTL(cfg config.Config) time.Duration {
	return maxSchedule(cfg) + stateMargin
}
