package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// throughput is one load: N jobs or requests in Seconds, with the CPU
// seconds of the process under test and of the others.
type throughput struct {
	N           int
	Seconds     float64
	CPU         float64
	NATSCPU     float64
	ReceiverCPU float64
	BenchCPU    float64
	// Allocated and GCCPU are the Go heap bytes the process under test
	// allocated and its garbage collector's CPU seconds, where measured.
	Allocated float64
	GCCPU     float64
}

func (t throughput) rate() float64 {
	if t.Seconds <= 0 {
		return 0
	}
	return float64(t.N) / t.Seconds
}

// per1k is CPU seconds per 1,000 of N.
func (t throughput) per1k(cpu float64) float64 {
	if t.N == 0 {
		return 0
	}
	return cpu / float64(t.N) * 1000
}

// slowResult is the slow-receiver run.
type slowResult struct {
	Jobs, Delivered int
	Seconds         float64
	PublishSeconds  float64
	P50, P99        time.Duration
	PeakInFlight    int64
	// Conns counts the connections the receiver accepted.
	Conns  int64
	Worker Stats
	// CPU seconds of the worker, the NATS server and the receiver during
	// the run.
	CPU, NATSCPU, ReceiverCPU float64
	GoroutinesBefore          int
	GoroutinesAfter           int
	// GoroutinesDone is the count when the last result came in, before
	// the settle wait; SettleSeconds how long that wait took.
	GoroutinesDone int
	SettleSeconds  float64
	FDsBefore      int
	FDsAfter       int
}

// boundResult is the latency-bound run.
type boundResult struct {
	Concurrency, Jobs, Delivered int
	Seconds                      float64
	PeakInFlight                 int64
	Worker                       Stats
	CPU                          float64
}

// report gathers every figure of a run.
type report struct {
	o             options
	HTTP, Bus     throughput
	E2E           throughput
	E2EDelivered  int
	E2EDuplicates int
	E2EP50        time.Duration
	E2EP99        time.Duration
	E2EWorker     Stats
	Slow          slowResult
	Bound         boundResult
	Events        eventsResult
	BacklogSmall  backlogResult
	BacklogLarge  backlogResult
	BacklogCold   backlogResult
	Mixed         mixedResult
	Paced         pacedResult
	Tracing       tracingResult
	API           apiResult
	Policy        policyResult
	// Filled in by finish, once every child has exited.
	peakRSS  map[string]int64 // role (with a phase) → bytes
	totalCPU float64
	selfHWM  uint64
	// loadAvg is the one-minute load average when the run started.
	loadAvg string
}

// loadAverage is the one-minute load average, "0" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "0"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "0"
	}
	return f[0]
}

// finish takes the final accounting from the exited children.
func (r *report) finish(b *bench) {
	r.peakRSS = make(map[string]int64)
	for _, c := range b.children {
		if c.usage == nil {
			continue
		}
		name := c.name
		if name == "" {
			name = c.role
		}
		// A name may stand for several processes (a server a phase, the
		// events runs' workers): the highest.
		r.peakRSS[name] = max(r.peakRSS[name], c.usage.Maxrss<<10)
	}
	r.totalCPU = cpuSeconds(syscall.RUSAGE_SELF) + cpuSeconds(syscall.RUSAGE_CHILDREN)
	_, r.selfHWM = memory("self")
}

// field is one figure: its key, value and how the table shows it.
type field struct {
	section, label, key, value string
}

const mib = 1 << 20

func (r *report) fields() []field {
	var fs []field
	add := func(section, label, key, value string) {
		fs = append(fs, field{section, label, key, value})
	}
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	ms := func(d time.Duration) string { return f(float64(d)/float64(time.Millisecond), 2) }
	ratio := ratioOf
	o := r.o
	add("setup", "payload bytes", "payload_bytes", strconv.Itoa(o.Payload))
	add("setup", "jobs per run", "jobs", strconv.Itoa(o.Jobs))
	add("setup", "concurrency", "concurrency", strconv.Itoa(o.Concurrency))
	add("setup", "publish window", "window", strconv.Itoa(o.Window))
	add("setup", "CPUs / load average at start (other work skews every figure)", "cpus", strconv.Itoa(runtime.NumCPU()))
	add("setup", "", "loadavg_1m", r.loadAvg)

	add("http ceiling", "requests/s", "http_rps", f(r.HTTP.rate(), 0))
	add("http ceiling", "client CPU s per 1k", "http_cpu_s_per_1k", f(r.HTTP.per1k(r.HTTP.CPU), 4))

	add("bus ceiling", "jobs/s", "bus_jps", f(r.Bus.rate(), 0))
	add("bus ceiling", "consumer CPU s per 1k", "bus_cpu_s_per_1k", f(r.Bus.per1k(r.Bus.CPU), 4))
	add("bus ceiling", "nats CPU s per 1k", "bus_nats_cpu_s_per_1k", f(r.Bus.per1k(r.Bus.NATSCPU), 4))

	combined := 0.0
	if h, b := r.HTTP.rate(), r.Bus.rate(); h > 0 && b > 0 {
		combined = 1 / (1/h + 1/b)
	}
	e2e := r.E2E.rate()
	add("end to end", "deliveries/s", "e2e_dps", f(e2e, 0))
	add("end to end", "results / delivered / duplicates", "e2e_results", strconv.Itoa(r.E2E.N))
	add("end to end", "", "e2e_delivered", strconv.Itoa(r.E2EDelivered))
	add("end to end", "", "e2e_duplicates", strconv.Itoa(r.E2EDuplicates))
	add("end to end", "latency p50 ms (publish → result)", "e2e_p50_ms", ms(r.E2EP50))
	add("end to end", "latency p99 ms", "e2e_p99_ms", ms(r.E2EP99))
	add("end to end", "combined limit 1/(1/http+1/bus)", "combined_limit", f(combined, 0))
	add("end to end", "e2e / http ceiling", "e2e_vs_http", f(ratio(e2e, r.HTTP.rate()), 3))
	add("end to end", "e2e / combined limit (target ≥ 0.75)", "e2e_vs_combined", f(ratio(e2e, combined), 3))
	add("end to end", "target met", "e2e_target_met", strconv.FormatBool(ratio(e2e, combined) >= 0.75))
	add("end to end", "worker CPU s per 1k", "e2e_worker_cpu_s_per_1k", f(r.E2E.per1k(r.E2E.CPU), 4))
	add("end to end", "nats CPU s per 1k", "e2e_nats_cpu_s_per_1k", f(r.E2E.per1k(r.E2E.NATSCPU), 4))
	add("end to end", "receiver CPU s per 1k", "e2e_receiver_cpu_s_per_1k", f(r.E2E.per1k(r.E2E.ReceiverCPU), 4))
	add("end to end", "load generator CPU s per 1k", "e2e_bench_cpu_s_per_1k", f(r.E2E.per1k(r.E2E.BenchCPU), 4))
	all := r.E2E.CPU + r.E2E.NATSCPU + r.E2E.ReceiverCPU + r.E2E.BenchCPU
	add("end to end", "all processes CPU s per 1k", "e2e_system_cpu_s_per_1k", f(r.E2E.per1k(all), 4))
	add("end to end", "worker Go heap in use, peak MiB", "e2e_worker_heap_peak_mib", f(float64(r.E2EWorker.HeapInusePeak)/mib, 1))
	add("end to end", "worker goroutine stacks, peak MiB", "e2e_worker_stack_peak_mib", f(float64(r.E2EWorker.StackInusePeak)/mib, 1))
	add("end to end", "worker peak RSS MiB (VmHWM)", "e2e_worker_rss_peak_mib", f(float64(r.E2EWorker.HWM)/mib, 1))
	add("end to end", "worker goroutines, peak", "e2e_worker_goroutines_peak", strconv.Itoa(r.E2EWorker.GoroutinesPeak))

	s := r.Slow
	slowRate := 0.0
	if s.Seconds > 0 {
		slowRate = float64(s.Jobs) / s.Seconds
	}
	// The literal target, concurrency / delay, assumes the machine can
	// start and answer jobs that fast; what it can do is bounded by the
	// fast end-to-end rate measured in this same run. The target is met
	// against the lower of the two.
	literal := 0.0
	if o.SlowDelay > 0 {
		literal = float64(min(o.SlowConcurrency, o.SlowWindow)) / o.SlowDelay.Seconds()
	}
	bound := literal
	if e2e > 0 && (bound == 0 || e2e < bound) {
		bound = e2e
	}
	rss := float64(s.Worker.HWM) / mib
	back := s.GoroutinesAfter <= s.GoroutinesBefore
	add("slow receiver", "jobs / window / concurrency / delay ms", "slow_jobs", strconv.Itoa(o.SlowJobs))
	add("slow receiver", "", "slow_window", strconv.Itoa(o.SlowWindow))
	add("slow receiver", "", "slow_concurrency", strconv.Itoa(o.SlowConcurrency))
	add("slow receiver", "", "slow_delay_ms", ms(o.SlowDelay))
	add("slow receiver", "delivered", "slow_delivered", strconv.Itoa(s.Delivered))
	add("slow receiver", "deliveries/s", "slow_dps", f(slowRate, 0))
	add("slow receiver", "concurrency / delay (literal bound)", "slow_literal_dps", f(literal, 0))
	add("slow receiver", "deliveries/s / literal bound", "slow_vs_literal", f(ratio(slowRate, literal), 3))
	add("slow receiver", "machine bound: min(literal, e2e deliveries/s of this run)", "slow_bound_dps", f(bound, 0))
	add("slow receiver", "deliveries/s / machine bound (target ≥ 0.9)", "slow_vs_bound", f(ratio(slowRate, bound), 3))
	add("slow receiver", "deliveries/s / combined limit of the fast runs", "slow_vs_combined", f(ratio(slowRate, combined), 3))
	add("slow receiver", "seconds publish → last result", "slow_seconds", f(s.Seconds, 3))
	add("slow receiver", "seconds to publish every job", "slow_publish_seconds", f(s.PublishSeconds, 3))
	add("slow receiver", "latency p50 / p99 ms", "slow_p50_ms", ms(s.P50))
	add("slow receiver", "", "slow_p99_ms", ms(s.P99))
	add("slow receiver", "requests in flight at the receiver, peak", "slow_peak_in_flight", strconv.FormatInt(s.PeakInFlight, 10))
	add("slow receiver", "connections the receiver accepted", "slow_receiver_conns", strconv.FormatInt(s.Conns, 10))
	per1k := func(cpu float64) float64 { return ratio(cpu, float64(s.Jobs)) * 1000 }
	add("slow receiver", "worker / nats / receiver CPU s per 1k", "slow_worker_cpu_s_per_1k", f(per1k(s.CPU), 4))
	add("slow receiver", "", "slow_nats_cpu_s_per_1k", f(per1k(s.NATSCPU), 4))
	add("slow receiver", "", "slow_receiver_cpu_s_per_1k", f(per1k(s.ReceiverCPU), 4))
	add("slow receiver", "worker peak RSS MiB (target ≤ 150)", "slow_worker_rss_peak_mib", f(rss, 1))
	add("slow receiver", "worker Go heap in use, peak MiB", "slow_worker_heap_peak_mib", f(float64(s.Worker.HeapInusePeak)/mib, 1))
	add("slow receiver", "worker goroutine stacks, peak MiB", "slow_worker_stack_peak_mib", f(float64(s.Worker.StackInusePeak)/mib, 1))
	add("slow receiver", "worker goroutines before / peak / at the last result / after settling", "slow_goroutines_before", strconv.Itoa(s.GoroutinesBefore))
	add("slow receiver", "", "slow_goroutines_peak", strconv.Itoa(s.Worker.GoroutinesPeak))
	add("slow receiver", "", "slow_goroutines_done", strconv.Itoa(s.GoroutinesDone))
	add("slow receiver", "", "slow_goroutines_after", strconv.Itoa(s.GoroutinesAfter))
	add("slow receiver", "seconds until back to baseline (idle connections time out)", "slow_settle_seconds", f(s.SettleSeconds, 1))
	add("slow receiver", "worker open files before / after (idle keep-alive connections)", "slow_fds_before", strconv.Itoa(s.FDsBefore))
	add("slow receiver", "", "slow_fds_after", strconv.Itoa(s.FDsAfter))
	add("slow receiver", "goroutines back to baseline", "slow_goroutines_back", strconv.FormatBool(back))
	add("slow receiver", "targets met (vs machine bound, RSS, goroutines)", "slow_target_met", strconv.FormatBool(
		ratio(slowRate, bound) >= 0.9 && rss <= 150 && back))

	if o.BoundJobs >= 0 {
		bd := r.Bound
		rate, literal := 0.0, 0.0
		if bd.Seconds > 0 {
			rate = float64(bd.Jobs) / bd.Seconds
		}
		if o.SlowDelay > 0 {
			literal = float64(min(bd.Concurrency, o.SlowWindow)) / o.SlowDelay.Seconds()
		}
		brss := float64(bd.Worker.HWM) / mib
		add("latency-bound", "jobs / in flight / concurrency", "bound_jobs", strconv.Itoa(o.BoundJobs))
		add("latency-bound", "", "bound_window", strconv.Itoa(o.SlowWindow))
		add("latency-bound", "", "bound_concurrency", strconv.Itoa(bd.Concurrency))
		add("latency-bound", "delivered", "bound_delivered", strconv.Itoa(bd.Delivered))
		add("latency-bound", "deliveries/s", "bound_dps", f(rate, 0))
		add("latency-bound", "concurrency / delay", "bound_literal_dps", f(literal, 0))
		add("latency-bound", "deliveries/s / (concurrency / delay) (target ≥ 0.9)", "bound_vs_literal", f(ratio(rate, literal), 3))
		add("latency-bound", "requests in flight at the receiver, peak", "bound_peak_in_flight", strconv.FormatInt(bd.PeakInFlight, 10))
		add("latency-bound", "worker CPU s per 1k", "bound_worker_cpu_s_per_1k", f(ratio(bd.CPU, float64(bd.Jobs))*1000, 4))
		add("latency-bound", "worker peak RSS MiB (target ≤ 150)", "bound_worker_rss_peak_mib", f(brss, 1))
		add("latency-bound", "worker goroutines, peak", "bound_goroutines_peak", strconv.Itoa(bd.Worker.GoroutinesPeak))
		add("latency-bound", "targets met (throughput, RSS)", "bound_target_met", strconv.FormatBool(ratio(rate, literal) >= 0.9 && brss <= 150))
	}

	fs = append(fs, r.eventsFields(f, ratio)...)
	fs = append(fs, r.tracingFields(f, ratio)...)
	fs = append(fs, r.apiFields(f, ratio)...)
	fs = append(fs, r.policyFields(f)...)
	r.backlogFields(add, r.E2E)

	for _, role := range []string{"nats", "receiver", "httpload", "busload", "worker_e2e", "worker_slow", "worker_bound", "worker_events", "worker_tracing"} {
		add("processes", role+" peak RSS MiB (getrusage)", role+"_rss_peak_mib", f(float64(r.peakRSS[role])/mib, 1))
	}
	add("processes", "load generator peak RSS MiB (VmHWM)", "bench_rss_peak_mib", f(float64(r.selfHWM)/mib, 1))
	add("processes", "CPU s, self + children (getrusage)", "cpu_total_s", f(r.totalCPU, 2))
	return fs
}

// print writes the table, then the key=value line.
func (r *report) print(out io.Writer) {
	fs := r.fields()
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	section := ""
	for i := 0; i < len(fs); {
		f := fs[i]
		if f.section != section {
			section = f.section
			fmt.Fprintf(tw, "%s\t\t\n", strings.ToUpper(section))
		}
		values := []string{f.value}
		j := i + 1
		for ; j < len(fs) && fs[j].label == "" && fs[j].section == f.section; j++ {
			values = append(values, fs[j].value)
		}
		fmt.Fprintf(tw, "  %s\t%s\t\n", f.label, strings.Join(values, " / "))
		i = j
	}
	tw.Flush()
	pairs := make([]string, len(fs))
	for i, f := range fs {
		pairs[i] = f.key + "=" + f.value
	}
	fmt.Fprintln(out, strings.Join(pairs, " "))
}
