package metrics_test

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/internal/metrics"
	"github.com/hookworker/hookworker/internal/metrics/metricstest"
	dto "github.com/prometheus/client_model/go"
)

// The worker tells Metrics of its jobs, parked ones included.
var (
	_ consumer.Metrics       = (*metrics.Metrics)(nil)
	_ consumer.ParkedMetrics = (*metrics.Metrics)(nil)
)

// scrape serves h and scrapes its /metrics.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	return metricstest.Scrape(t, srv.URL+"/metrics")
}

func TestMetricsMove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		record func(m *metrics.Metrics)
		metric string
		labels []string
		want   float64
	}{
		{"job received", func(m *metrics.Metrics) { m.JobReceived(); m.JobReceived() },
			"hookworker_jobs_received_total", nil, 2},
		{"attempt 2xx", func(m *metrics.Metrics) { m.Attempt(204); m.Attempt(200) },
			"hookworker_http_attempts_total", []string{"status_class", "2xx"}, 2},
		{"attempt 1xx", func(m *metrics.Metrics) { m.Attempt(100) },
			"hookworker_http_attempts_total", []string{"status_class", "1xx"}, 1},
		{"attempt 3xx", func(m *metrics.Metrics) { m.Attempt(301) },
			"hookworker_http_attempts_total", []string{"status_class", "3xx"}, 1},
		{"attempt 4xx", func(m *metrics.Metrics) { m.Attempt(429) },
			"hookworker_http_attempts_total", []string{"status_class", "4xx"}, 1},
		{"attempt 5xx", func(m *metrics.Metrics) { m.Attempt(599); m.Attempt(500) },
			"hookworker_http_attempts_total", []string{"status_class", "5xx"}, 2},
		{"attempt without response", func(m *metrics.Metrics) { m.Attempt(0) },
			"hookworker_http_attempts_total", []string{"status_class", "none"}, 1},
		{"attempt with impossible status", func(m *metrics.Metrics) { m.Attempt(600); m.Attempt(-1) },
			"hookworker_http_attempts_total", []string{"status_class", "none"}, 2},
		{"retry", func(m *metrics.Metrics) { m.Retry() },
			"hookworker_retries_total", nil, 1},
		{"proxy burned", func(m *metrics.Metrics) { m.ProxyBurned(); m.ProxyBurned(); m.ProxyBurned() },
			"hookworker_proxy_burns_total", nil, 3},
		{"delivered result", func(m *metrics.Metrics) { m.Finished("delivered", 120*time.Millisecond) },
			"hookworker_results_total", []string{"outcome", "delivered"}, 1},
		{"failed result", func(m *metrics.Metrics) { m.Finished("failed", time.Second) },
			"hookworker_results_total", []string{"outcome", "failed"}, 1},
		{"rejected result", func(m *metrics.Metrics) { m.Finished("rejected", 0) },
			"hookworker_results_total", []string{"outcome", "rejected"}, 1},
		{"unknown outcome", func(m *metrics.Metrics) { m.Finished("exploded", time.Millisecond) },
			"hookworker_results_total", []string{"outcome", "other"}, 1},
		{"duration observed", func(m *metrics.Metrics) {
			m.Finished("delivered", 10*time.Millisecond)
			m.Finished("delivered", 70*time.Second)
		}, "hookworker_delivery_duration_seconds", []string{"outcome", "delivered"}, 2},
		{"in flight", func(m *metrics.Metrics) { m.InFlight(1); m.InFlight(1); m.InFlight(-1) },
			"hookworker_jobs_in_flight", nil, 1},
		{"parked", func(m *metrics.Metrics) { m.Parked(3); m.Parked(-1) },
			"hookworker_jobs_parked", nil, 2},
		{"pace waits", func(m *metrics.Metrics) { m.PaceWait(time.Second); m.PaceWait(500 * time.Millisecond) },
			"hookworker_discord_pace_waits_total", nil, 2},
		{"pace seconds", func(m *metrics.Metrics) { m.PaceWait(time.Second); m.PaceWait(500 * time.Millisecond) },
			"hookworker_discord_pace_wait_seconds_total", nil, 1.5},
		{"slack pace waits", func(m *metrics.Metrics) { m.SlackPacing().PaceWait(time.Second) },
			"hookworker_slack_pace_waits_total", nil, 1},
		{"slack pace seconds", func(m *metrics.Metrics) { m.SlackPacing().PaceWait(2 * time.Second) },
			"hookworker_slack_pace_wait_seconds_total", nil, 2},
		{"slack pacing is not discord's", func(m *metrics.Metrics) { m.SlackPacing().PaceWait(time.Second) },
			"hookworker_discord_pace_waits_total", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New()
			before, ok := metricstest.Value(scrape(t, m.Handler(nil)), tt.metric, tt.labels...)
			if !ok {
				t.Fatalf("%s%v missing before recording", tt.metric, tt.labels)
			}
			if before != 0 {
				t.Fatalf("%s%v = %v before recording, want 0", tt.metric, tt.labels, before)
			}
			tt.record(m)
			got, ok := metricstest.Value(scrape(t, m.Handler(nil)), tt.metric, tt.labels...)
			if !ok {
				t.Fatalf("%s%v missing", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Finished("delivered", 3*time.Millisecond)
	m.Finished("delivered", 45*time.Second)
	f := scrape(t, m.Handler(nil))["hookworker_delivery_duration_seconds"]
	if f == nil {
		t.Fatal("hookworker_delivery_duration_seconds missing")
	}
	var h *dto.Histogram
	for _, s := range f.GetMetric() {
		if metricstest.HasLabels(s, "outcome", "delivered") {
			h = s.GetHistogram()
		}
	}
	if h == nil {
		t.Fatal("no delivered series")
	}
	buckets := h.GetBucket()
	if len(buckets) == 0 {
		t.Fatal("no buckets")
	}
	if lo := buckets[0].GetUpperBound(); lo != 0.005 {
		t.Errorf("first bucket %v, want 0.005", lo)
	}
	// The text format ends with the +Inf bucket; the last finite one is 60s.
	last := buckets[len(buckets)-1]
	if math.IsInf(last.GetUpperBound(), +1) {
		last = buckets[len(buckets)-2]
	}
	if hi := last.GetUpperBound(); hi != 60 {
		t.Errorf("last finite bucket %v, want 60", hi)
	}
	if c := buckets[0].GetCumulativeCount(); c != 1 {
		t.Errorf("5ms bucket holds %d samples, want 1", c)
	}
	if c := last.GetCumulativeCount(); c != 2 {
		t.Errorf("60s bucket holds %d samples, want 2", c)
	}
	if sum := h.GetSampleSum(); sum < 45 || sum > 45.01 {
		t.Errorf("sum %v, want about 45.003", sum)
	}
}

func TestRuntimeCollectors(t *testing.T) {
	t.Parallel()
	families := scrape(t, metrics.New().Handler(nil))
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if _, ok := families[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestSeparateRegistries(t *testing.T) {
	t.Parallel()
	a, b := metrics.New(), metrics.New()
	a.JobReceived()
	got, _ := metricstest.Value(scrape(t, b.Handler(nil)), "hookworker_jobs_received_total")
	if got != 0 {
		t.Errorf("second Metrics saw %v jobs recorded on the first, want 0", got)
	}
}

func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ready      func() bool
		path       string
		wantStatus int
		wantBody   string
	}{
		{"healthz while not ready", func() bool { return false }, "/healthz", http.StatusOK, "ok\n"},
		{"healthz while ready", func() bool { return true }, "/healthz", http.StatusOK, "ok\n"},
		{"readyz not ready", func() bool { return false }, "/readyz", http.StatusServiceUnavailable, "not ready\n"},
		{"readyz ready", func() bool { return true }, "/readyz", http.StatusOK, "ready\n"},
		{"readyz without a check", nil, "/readyz", http.StatusOK, "ready\n"},
		{"unknown path", nil, "/nope", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(metrics.New().Handler(tt.ready))
			defer srv.Close()
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatalf("GET %s: %v", tt.path, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" && string(body) != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}
}

func TestReadyzFollowsReadiness(t *testing.T) {
	t.Parallel()
	var ready atomic.Bool
	srv := httptest.NewServer(metrics.New().Handler(ready.Load))
	defer srv.Close()
	status := func() int {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusServiceUnavailable {
		t.Fatalf("before ready: status %d, want 503", got)
	}
	ready.Store(true)
	if got := status(); got != http.StatusOK {
		t.Fatalf("after ready: status %d, want 200", got)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	m := metrics.New()
	tests := []struct {
		name string
		call func()
	}{
		{"Attempt", func() { m.Attempt(503) }},
		{"Attempt without response", func() { m.Attempt(0) }},
		{"Retry", m.Retry},
		{"ProxyBurned", m.ProxyBurned},
		{"JobReceived", m.JobReceived},
		{"Finished", func() { m.Finished("delivered", 20*time.Millisecond) }},
		{"Finished unknown outcome", func() { m.Finished("exploded", time.Millisecond) }},
		{"InFlight", func() { m.InFlight(1) }},
		{"Parked", func() { m.Parked(1) }},
		{"PaceWait", func() { m.PaceWait(time.Millisecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.call); n != 0 {
				t.Errorf("%s allocates %v times per call, want 0", tt.name, n)
			}
		})
	}
}

func BenchmarkAttempt(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Attempt(200 + i%4*100)
	}
}

func BenchmarkAttemptParallel(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Attempt(204)
		}
	})
}

func BenchmarkFinished(b *testing.B) {
	m := metrics.New()
	b.ReportAllocs()
	for b.Loop() {
		m.Finished("delivered", 35*time.Millisecond)
	}
}
