package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Duration is a time.Duration that reads from JSON as a Go duration string
// ("15s", "1m30s") or a number of seconds (15, 1.5), and writes as a string.
type Duration time.Duration

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(data []byte) error {
	v, err := parseDuration(data)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string such as "15s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// String returns the duration as time.Duration formats it.
func (d Duration) String() string { return time.Duration(d).String() }

var errDuration = errors.New("must be a duration such as \"15s\" or a number of seconds")

func parseDuration(data []byte) (time.Duration, error) {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := jsonString(data, &s); err != nil {
			return 0, errDuration
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errDuration
		}
		return d, nil
	}
	secs, err := strconv.ParseFloat(string(data), 64)
	if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, errDuration
	}
	ns := secs * float64(time.Second)
	switch {
	case ns >= math.MaxInt64:
		return time.Duration(math.MaxInt64), nil
	case ns <= math.MinInt64:
		return time.Duration(math.MinInt64), nil
	}
	return time.Duration(ns), nil
}

// MaxScheduleLen is the most entries a retry schedule may hold.
const MaxScheduleLen = 50

// Waits returns a retry schedule as the waits a worker follows: one retry
// per entry, each after its wait, then none, leaving out the entries past
// maxSpan (their waits summed); zero maxSpan keeps them all. It is never
// nil. A job's retry_schedule and an endpoint's are cut by this one rule.
func Waits(schedule []Duration, maxSpan time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(schedule))
	var sum time.Duration
	for _, w := range schedule {
		if sum += time.Duration(w); maxSpan > 0 && sum > maxSpan {
			break
		}
		out = append(out, time.Duration(w))
	}
	return out
}

func decodeSchedule(raw json.RawMessage) ([]Duration, error) {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, errors.New("retry_schedule: must be an array of durations")
	}
	if len(list) > MaxScheduleLen {
		return nil, fmt.Errorf("retry_schedule: at most %d entries, got %d", MaxScheduleLen, len(list))
	}
	out := make([]Duration, len(list))
	for i, e := range list {
		d, err := parseDuration(e)
		if err != nil {
			return nil, fmt.Errorf("retry_schedule[%d]: %w", i, err)
		}
		if d < 0 {
			return nil, fmt.Errorf("retry_schedule[%d]: must not be negative, got %s", i, d)
		}
		out[i] = Duration(d)
	}
	return out, nil
}
