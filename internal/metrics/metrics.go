// Package metrics exposes what hookworker does as Prometheus metrics, and
// serves them with the health endpoints on one HTTP handler.
//
// A Metrics value owns its own registry, so several workers (or tests) in one
// process never collide. Its methods are safe for concurrent use and do not
// allocate: every labelled series is resolved once, in New.
package metrics

import (
	"net/http"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "hookworker"

// outcomes are the result outcomes with their own series; anything else is
// counted as "other".
var outcomes = []string{
	string(job.Delivered),
	string(job.Failed),
	string(job.Rejected),
	"other",
}

// statusClasses label HTTP attempts by the class of their status code; "none"
// is an attempt that got no response.
var statusClasses = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

// durationBuckets span a fast local receiver (5ms) to a delivery that spent a
// minute in retries (60s).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Metrics records worker activity in its own Prometheus registry.
type Metrics struct {
	registry *prometheus.Registry

	jobsReceived prometheus.Counter
	inFlight     prometheus.Gauge
	parked       prometheus.Gauge
	retries      prometheus.Counter
	proxyBurns   prometheus.Counter
	paceWaits    prometheus.Counter
	paceSeconds  prometheus.Counter
	slack        slackPacing

	attempts [len(statusClasses)]prometheus.Counter
	results  map[string]outcomeSeries
}

// outcomeSeries are the pre-resolved series for one outcome label.
type outcomeSeries struct {
	results  prometheus.Counter
	duration prometheus.Observer
}

var _ sender.Observer = (*Metrics)(nil)

// New returns Metrics registered in a fresh registry that also carries the Go
// runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		jobsReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "jobs_received_total",
			Help: "Jobs taken from the job stream, redeliveries included.",
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "jobs_in_flight",
			Help: "Jobs taken by this process and not yet settled: being delivered, waiting for their host, or parked.",
		}),
		parked: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "jobs_parked",
			Help: "Jobs parked by this process until their host (slow, or not answering yet) has a slot for them.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "retries_total",
			Help: "Retries scheduled after a 429, 408, 425, 5xx, timeout or connection error.",
		}),
		proxyBurns: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "proxy_burns_total",
			Help: "Proxies taken out of rotation after a timeout or connection error.",
		}),
		paceWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "discord_pace_waits_total",
			Help: "Discord requests held back to respect a learned rate limit.",
		}),
		paceSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "discord_pace_wait_seconds_total",
			Help: "Time Discord requests spent held back by rate-limit pacing.",
		}),
	}
	m.slack = slackPacing{
		waits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "slack_pace_waits_total",
			Help: "Slack requests held back to keep to a webhook's rate.",
		}),
		seconds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "slack_pace_wait_seconds_total",
			Help: "Time Slack requests spent held back by pacing.",
		}),
	}
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_attempts_total",
		Help: `HTTP attempts by response status class ("none": no response came back).`,
	}, []string{"status_class"})
	for i, class := range statusClasses {
		m.attempts[i] = attempts.WithLabelValues(class)
	}
	results := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "results_total",
		Help: "Terminal results published, by outcome.",
	}, []string{"outcome"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "delivery_duration_seconds",
		Help:    "Time from the first attempt to the terminal result, by outcome.",
		Buckets: durationBuckets,
	}, []string{"outcome"})
	m.results = make(map[string]outcomeSeries, len(outcomes))
	for _, o := range outcomes {
		m.results[o] = outcomeSeries{
			results:  results.WithLabelValues(o),
			duration: duration.WithLabelValues(o),
		}
	}
	reg.MustRegister(
		m.jobsReceived, m.inFlight, m.parked, m.retries, m.proxyBurns, m.paceWaits, m.paceSeconds,
		m.slack.waits, m.slack.seconds,
		attempts, results, duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry the metrics live in, for callers that add
// their own collectors or gather directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Attempt counts one HTTP attempt by the class of its status; 0 (or anything
// outside 100..599) means no response came back.
func (m *Metrics) Attempt(status int) {
	class := 0
	if status >= 100 && status <= 599 {
		class = status / 100
	}
	m.attempts[class].Inc()
}

// Retry counts one scheduled retry.
func (m *Metrics) Retry() { m.retries.Inc() }

// ProxyBurned counts one proxy taken out of rotation.
func (m *Metrics) ProxyBurned() { m.proxyBurns.Inc() }

// JobReceived counts one job taken from the stream.
func (m *Metrics) JobReceived() { m.jobsReceived.Inc() }

// Finished counts one terminal result with the given outcome ("delivered",
// "failed", "rejected"; anything else is counted as "other") and records how
// long its delivery took.
func (m *Metrics) Finished(outcome string, d time.Duration) {
	s, ok := m.results[outcome]
	if !ok {
		s = m.results["other"]
	}
	s.results.Inc()
	s.duration.Observe(d.Seconds())
}

// InFlight moves the in-flight gauge by delta: +1 when a job starts, -1 when
// it ends.
func (m *Metrics) InFlight(delta int) { m.inFlight.Add(float64(delta)) }

// Parked moves the parked gauge by delta: +1 when a job is parked, -1 when
// it leaves (to be sent, or handed back).
func (m *Metrics) Parked(delta int) { m.parked.Add(float64(delta)) }

// PaceWait records one Discord request held back by pacing for d.
func (m *Metrics) PaceWait(d time.Duration) {
	m.paceWaits.Inc()
	m.paceSeconds.Add(d.Seconds())
}

// SlackPacing returns the observer of Slack's pacer: it counts Slack
// requests held back apart from Discord's.
func (m *Metrics) SlackPacing() interface{ PaceWait(time.Duration) } { return m.slack }

// slackPacing counts the Slack requests held back by pacing.
type slackPacing struct{ waits, seconds prometheus.Counter }

// PaceWait records one Slack request held back by pacing for d.
func (s slackPacing) PaceWait(d time.Duration) {
	s.waits.Inc()
	s.seconds.Add(d.Seconds())
}

// Handler serves /metrics (the registry in the Prometheus exposition format),
// /healthz (200 "ok" while the process serves HTTP) and /readyz (200 "ready"
// when ready reports true, else 503 "not ready"). A nil ready means always
// ready.
func (m *Metrics) Handler(ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		Registry:          m.registry,
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil && !ready() {
			writeText(w, http.StatusServiceUnavailable, "not ready")
			return
		}
		writeText(w, http.StatusOK, "ready")
	})
	return mux
}

// writeText answers with a short plain-text body.
func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
