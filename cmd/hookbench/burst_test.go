package main

import (
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name     string
		arrivals []time.Duration
		want     windowStats
	}{
		{"none", nil, windowStats{}},
		{"all within the first second", ms(10, 500, 999), windowStats{}},
		// Windows 1.0–1.1 s (2 results), 1.1–1.2 s (none: a stall) and
		// 1.2–1.3 s (4); the partial window after 1.3 s does not count.
		{"a stall", ms(500, 1000, 1050, 1200, 1210, 1220, 1299, 1310), windowStats{N: 3, Median: 20, Worst: 0}},
		{"steady", ms(1000, 1100, 1200, 1300), windowStats{N: 3, Median: 10, Worst: 10}},
		{"even count", ms(1000, 1001, 1100, 1200, 1300, 1400), windowStats{N: 4, Median: 10, Worst: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := windows(tt.arrivals, time.Second, 100*time.Millisecond); got != tt.want {
				t.Errorf("windows = %+v, want %+v", got, tt.want)
			}
		})
	}
}
