package cli

import (
	"testing"
	"time"

	"github.com/hookworker/hookworker/config"
)

// TestStateOutlivesSchedules checks that job state is kept longer than any
// retry schedule a job may follow: the worker's, or a job's own within
// maxSchedule.
func TestStateOutlivesSchedules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		schedule config.Schedule
		wantMax  time.Duration
	}{
		{"the default schedule", config.Schedule{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
			5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}, 75*time.Hour + 35*time.Minute + 5*time.Second},
		{"a short schedule", config.Schedule{time.Second}, minScheduleSpan},
		{"a week", config.Schedule{48 * time.Hour, 48 * time.Hour, 72 * time.Hour}, 168 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Config{RetrySchedule: tt.schedule}
			if got := maxSchedule(cfg); got != tt.wantMax {
				t.Errorf("maxSchedule = %s, want %s", got, tt.wantMax)
			}
			ttl := stateTTL(cfg)
			if ttl < tt.schedule.Span()+stateMargin || ttl < maxSchedule(cfg)+stateMargin {
				t.Errorf("stateTTL = %s, shorter than the schedule (%s) or a job's longest (%s) plus %s",
					ttl, tt.schedule.Span(), maxSchedule(cfg), stateMargin)
			}
		})
	}
}
