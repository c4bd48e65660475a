package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
)

// TestMain lets the test binary play the benchmark's child roles, as the
// command does.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role, os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "hookbench %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyOptions is a configuration of every phase small enough for a test.
func tinyOptions() options {
	return options{
		Payload: 64, Jobs: 50, Concurrency: 4,
		// Slower than 100 ms: a host that answers faster counts as fast,
		// and the mixed run's slow host would then rightly take the slots
		// no other host's job waits for.
		SlowDelay: 150 * time.Millisecond, SlowJobs: 100,
		Timeout: 30 * time.Second, Settle: 500 * time.Millisecond,
		Events: 20, EventsEndpoints: 4,
		BacklogSmall: 20, BacklogLarge: 60, BacklogCold: 20, ColdDelay: 150 * time.Millisecond, MixedSlow: 40, MixedFast: 10, MixedRuns: 2, PacedJobs: 20, PacedRate: 200,
		PolicyEvents: 20, PolicyRate: 5,
	}
}

// reportKeys are figures the key=value line must hold, whichever phases ran.
var reportKeys = []string{
	"http_rps", "bus_jps", "combined_limit", "e2e_dps", "e2e_vs_http", "e2e_vs_combined",
	"e2e_worker_cpu_s_per_1k", "e2e_worker_heap_peak_mib", "e2e_worker_rss_peak_mib",
	"slow_dps", "slow_vs_literal", "slow_vs_bound", "slow_worker_rss_peak_mib", "slow_worker_stack_peak_mib",
	"slow_worker_cpu_s_per_1k", "slow_goroutines_before", "slow_goroutines_after", "slow_settle_seconds",
	"bound_dps", "bound_vs_literal", "bound_peak_in_flight", "bound_worker_rss_peak_mib",
	"events_dps", "events_vs_e2e", "events_plain_dps", "events_vs_e2e_phase", "events_log_on_vs_off", "events_worker_cpu_s_per_1k", "worker_events_rss_peak_mib",
	"backlog_small_vs_e2e", "backlog_large_vs_e2e", "backlog_large_worst_vs_median", "backlog_large_window_worst_dps",
	"backlog_cold_dps", "backlog_cold_vs_large", "backlog_cold_worker_cpu_s_per_1k",
	"mixed_fast_vs_alone", "mixed_fast_vs_instream", "mixed_share_min", "mixed_share_max", "mixed_fast_vs_loaded", "mixed_passed_vs_loaded", "mixed_read", "mixed_worker_cpu_s", "mixed_slow_peak_in_flight", "paced_worker_cpu_s_per_1k", "paced_vs_e2e_cpu", "paced_saturated_worker_cpu_s_per_1k",
	"cpu_total_s",
}

// tracingKeys are figures the key=value line holds when the tracing phase
// ran.
var tracingKeys = []string{
	"tracing_on_dps", "tracing_off_dps", "tracing_on_vs_off", "tracing_on_worker_cpu_s_per_1k", "tracing_spans_per_delivery",
}

// checkReport reads the report a run wrote to out, checks that a table
// comes before the key=value line and that the line holds every key of
// reportKeys and of more, each once, and returns its pairs.
func checkReport(t *testing.T, out string, more ...string) map[string]float64 {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	kv := parsePairs(t, lines[len(lines)-1])
	for _, key := range slices.Concat(reportKeys, more) {
		if _, ok := kv[key]; !ok {
			t.Errorf("key %s missing from %q", key, lines[len(lines)-1])
		}
	}
	if len(lines) < 10 {
		t.Errorf("table has %d lines, want a table before the key=value line", len(lines))
	}
	return kv
}

// checkValues checks that kv holds the figures of want, and that each of
// positive is above zero.
func checkValues(t *testing.T, kv map[string]float64, want map[string]float64, positive []string) {
	t.Helper()
	for key, v := range want {
		if got := kv[key]; got != v {
			t.Errorf("%s = %v, want %v", key, got, v)
		}
	}
	for _, key := range positive {
		if kv[key] <= 0 {
			t.Errorf("%s = %v, want it positive", key, kv[key])
		}
	}
}

// TestReport prints the report of a run that measured nothing: every key is
// there, once, after the table, and the setup is the options'.
func TestReport(t *testing.T) {
	t.Parallel()
	o := tinyOptions()
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	r := &report{o: o, loadAvg: "0.5"}
	var out bytes.Buffer
	r.print(&out)
	kv := checkReport(t, out.String(), tracingKeys...)
	checkValues(t, kv, map[string]float64{
		"jobs": 50, "concurrency": 4, "window": 8, "slow_jobs": 100, "slow_concurrency": 100,
		"bound_jobs": 300, "bound_window": 100, "loadavg_1m": 0.5,
	}, nil)
}

// TestRunTiny runs the end-to-end phase on a tiny configuration, its
// server, receiver and worker in processes of their own, and checks that
// the key=value line is complete and its counts agree. It asserts nothing
// about speed. Every phase together takes two minutes or more under -race:
// TestRunTinyAllPhases and TestRunTinyTracing run them, when asked to.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server, a receiver and a worker in processes of their own")
	}
	o := tinyOptions()
	o.Phases = []string{"end to end"}
	var out bytes.Buffer
	if err := run(context.Background(), o, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	kv := checkReport(t, out.String())
	checkValues(t, kv, map[string]float64{
		"jobs": 50, "concurrency": 4, "window": 8,
		"e2e_results": 50, "e2e_delivered": 50, "e2e_duplicates": 0,
	}, []string{"e2e_dps", "e2e_worker_rss_peak_mib", "worker_e2e_rss_peak_mib", "cpu_total_s"})
}

// TestRunTinyTracing runs the tracing phase on a tiny configuration: every
// job delivered, with tracing on and off, and the sink got the two spans of
// every job traced. Its four end-to-end runs take about half a minute under
// -race, so it runs, as TestRunTinyAllPhases does, only when
// HOOKBENCH_ALL_PHASES=1 and not with -short.
func TestRunTinyTracing(t *testing.T) {
	if testing.Short() || os.Getenv("HOOKBENCH_ALL_PHASES") != "1" {
		t.Skip("the tracing phase runs four workers; set HOOKBENCH_ALL_PHASES=1 to run it")
	}
	o := tinyOptions()
	o.Phases = []string{"tracing"}
	var out bytes.Buffer
	if err := run(context.Background(), o, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	kv := checkReport(t, out.String(), tracingKeys...)
	checkValues(t, kv, map[string]float64{"tracing_spans_per_delivery": 2}, []string{"tracing_on_dps", "tracing_off_dps", "tracing_export_requests"})
}

// TestRunTinyAllPhases runs every phase on a tiny configuration and checks
// the counts of each. It takes two minutes or more under -race, so it runs
// only when HOOKBENCH_ALL_PHASES=1 and not with -short:
//
//	HOOKBENCH_ALL_PHASES=1 go test -race -run 'TestRunTiny(AllPhases|Tracing)' ./cmd/hookbench
func TestRunTinyAllPhases(t *testing.T) {
	if testing.Short() || os.Getenv("HOOKBENCH_ALL_PHASES") != "1" {
		t.Skip("every phase takes two minutes or more; set HOOKBENCH_ALL_PHASES=1 to run them")
	}
	var out bytes.Buffer
	if err := run(context.Background(), tinyOptions(), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	kv := checkReport(t, out.String(), tracingKeys...)
	checkValues(t, kv, map[string]float64{
		"jobs": 50, "concurrency": 4, "window": 8,
		"e2e_results": 50, "e2e_delivered": 50, "e2e_duplicates": 0,
		"slow_jobs": 100, "slow_concurrency": 100, "slow_delivered": 100,
		"bound_jobs": 300, "bound_window": 100, "bound_delivered": 300,
		"events": 20, "events_endpoints": 4, "events_results": 80, "events_delivered": 80, "events_duplicates": 0,
		"backlog_small_delivered": 20, "backlog_large_delivered": 60, "backlog_cold_delivered": 20,
		"mixed_fast_delivered": 10, "mixed_host_limit": 1,
		"paced_delivered": 20,
	}, []string{
		"backlog_small_dps", "backlog_large_dps", "backlog_cold_dps", "mixed_fast_dps", "mixed_fast_alone_dps", "mixed_fast_loaded_dps", "mixed_fast_instream_dps", "mixed_fast_passed_dps", "mixed_read", "mixed_worker_cpu_s",
		"paced_dps", "paced_worker_cpu_s_per_1k", "http_rps", "bus_jps", "e2e_dps", "slow_dps", "bound_dps",
		"bound_concurrency", "e2e_worker_rss_peak_mib", "slow_worker_rss_peak_mib", "bound_worker_rss_peak_mib", "cpu_total_s",
	})
	if kv["mixed_slow_peak_in_flight"] > kv["mixed_host_limit"] {
		t.Errorf("the slow host had %v requests in flight, more than its share (%v)", kv["mixed_slow_peak_in_flight"], kv["mixed_host_limit"])
	}
	if kv["slow_peak_in_flight"] < 1 || kv["slow_peak_in_flight"] > 100 {
		t.Errorf("slow_peak_in_flight = %v, want 1 to 100", kv["slow_peak_in_flight"])
	}
	if kv["bound_peak_in_flight"] < 1 || kv["bound_peak_in_flight"] > kv["bound_concurrency"] {
		t.Errorf("bound_peak_in_flight = %v, want 1 to bound_concurrency (%v)", kv["bound_peak_in_flight"], kv["bound_concurrency"])
	}
}

// parsePairs reads a key=value line whose values are numbers or booleans.
func parsePairs(t *testing.T, line string) map[string]float64 {
	t.Helper()
	kv := make(map[string]float64)
	for pair := range strings.FieldsSeq(line) {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" {
			t.Fatalf("%q is not key=value", pair)
		}
		if _, dup := kv[k]; dup {
			t.Fatalf("key %s twice", k)
		}
		switch v {
		case "true":
			kv[k] = 1
		case "false":
			kv[k] = 0
		default:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s=%s: %v", k, v, err)
			}
			kv[k] = f
		}
	}
	return kv
}

func TestOptionsCheck(t *testing.T) {
	t.Parallel()
	valid := options{Jobs: 1, Concurrency: 2, SlowJobs: 3, Timeout: time.Second,
		BacklogSmall: 1, BacklogLarge: 1, MixedSlow: 1, MixedFast: 1, PacedJobs: 1, PacedRate: 1}
	tests := []struct {
		name    string
		change  func(*options)
		wantErr bool
	}{
		{"valid", func(*options) {}, false},
		{"no jobs", func(o *options) { o.Jobs = 0 }, true},
		{"no concurrency", func(o *options) { o.Concurrency = 0 }, true},
		{"negative payload", func(o *options) { o.Payload = -1 }, true},
		{"no timeout", func(o *options) { o.Timeout = 0 }, true},
		{"negative delay", func(o *options) { o.SlowDelay = -time.Second }, true},
		{"negative slow window", func(o *options) { o.SlowWindow = -1 }, true},
		{"bound jobs below -1", func(o *options) { o.BoundJobs = -2 }, true},
		{"no backlog jobs", func(o *options) { o.BacklogLarge = 0 }, true},
		{"no paced rate", func(o *options) { o.PacedRate = 0 }, true},
		{"unknown phase", func(o *options) { o.Phases = []string{"bogus"} }, true},
		{"phases", func(o *options) { o.Phases = []string{"events", "paced"} }, false},
		{"slow receiver without end to end", func(o *options) { o.Phases = []string{"slow receiver"} }, true},
		{"slow receiver, bound concurrency set", func(o *options) {
			o.Phases, o.BoundConcurrency = []string{"slow receiver"}, 10
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := valid
			tt.change(&o)
			err := o.check()
			if (err != nil) != tt.wantErr {
				t.Fatalf("check() = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (o.Window != 2*o.Concurrency || o.SlowWindow != o.SlowJobs || o.SlowConcurrency != o.SlowJobs || o.BoundJobs != 3*o.SlowWindow) {
				t.Errorf("defaults not applied: window %d, slow window %d, slow concurrency %d, bound jobs %d", o.Window, o.SlowWindow, o.SlowConcurrency, o.BoundJobs)
			}
		})
	}
	t.Run("slow concurrency follows the slow window", func(t *testing.T) {
		t.Parallel()
		o := valid
		o.SlowWindow = 2
		if err := o.check(); err != nil || o.SlowConcurrency != 2 {
			t.Errorf("check() = %v, slow concurrency %d; want nil, 2", err, o.SlowConcurrency)
		}
	})
}

func TestPayloadAndJob(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 11, 64, 4096} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			p := payload(size)
			if size >= 11 && len(p) != size {
				t.Errorf("payload(%d) has %d bytes", size, len(p))
			}
			data := jobJSON("id-1", "http://127.0.0.1:1/hook", p)
			j, err := job.Decode(data, "fallback")
			if err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if j.ID != "id-1" || len(j.URLs) != 1 || j.URLs[0] != "http://127.0.0.1:1/hook" || !bytes.Equal(j.Payload, p) {
				t.Errorf("decoded %+v from %s", j, data)
			}
		})
	}
}
