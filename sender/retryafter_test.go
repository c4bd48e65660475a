package sender

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"120", 120 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sun, 22 Nov 2026 10:01:30 GMT", 90 * time.Second, true},
		{"Sunday, 22-Nov-26 10:01:30 GMT", 90 * time.Second, true}, // RFC 850
		{"Sun Nov 22 10:01:30 2026", 90 * time.Second, true},       // asctime
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999999", maxWait, true},
		{"1e400", maxWait, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
		{"NaN", 0, false},
		{"12s", 0, false},
		{"Sun, 99 Nov 2026 10:01:30 GMT", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseRetryAfter(%q) = %s, %v, want %s, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRetryAfterPrefersBody(t *testing.T) {
	t.Parallel()
	now := time.Now()
	h := http.Header{"Retry-After": {"60"}}
	tests := []struct {
		name string
		body string
		want time.Duration
		ok   bool
	}{
		{"body", `{"retry_after": 0.25}`, 250 * time.Millisecond, true},
		{"body with spaces", " \n{\"retry_after\": 2}", 2 * time.Second, true},
		{"negative body falls back to header", `{"retry_after": -1}`, 60 * time.Second, true},
		{"no field falls back to header", `{"message":"x"}`, 60 * time.Second, true},
		{"text body falls back to header", `slow down`, 60 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := retryAfter(h, []byte(tt.body), now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("retryAfter = %s, %v, want %s, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := retryAfter(http.Header{}, nil, now); ok {
		t.Error("retryAfter without body or header reports a wait")
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "120", "1.5", "-1", "1e400", "NaN", "Inf", "+Inf", ".5", "0x10",
		"Sun, 22 Nov 2026 10:01:30 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s, negative", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s without ok", v, d)
		}
	})
}
