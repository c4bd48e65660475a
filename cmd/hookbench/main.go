// Command hookbench measures hookworker against the limits of the machine it
// runs on, in one run: the HTTP ceiling (the worker's HTTP client posting
// straight to a fast receiver), the bus ceiling (JetStream jobs consumed,
// answered with a result and acknowledged, no HTTP), the worker end to end,
// the worker holding thousands of jobs in flight against a slow receiver,
// events fanned out to endpoints with the delivery log on and off (events),
// bursts of jobs to one host through a worker with its default per-host
// limit (backlog), a fast host's jobs among a slow host's (mixed), the
// worker's CPU at a steady rate well below its ceiling (paced), the
// worker end to end with tracing on, exporting to an OTLP sink, against
// tracing off (tracing), and an ordered endpoint and a rate-limited one
// through real workers (policy).
//
// Every part runs in its own process on loopback: a JetStream server, a
// receiver answering 204, the ceiling loads and the worker, each this binary
// started again with HOOKBENCH_ROLE set. The worker is the hookworker command
// itself (cli.Main "run", configured through HOOKWORKER_ variables). So the
// CPU time, peak RSS, Go heap and goroutines reported for the worker are the
// worker's alone, the receiver's 10,000 slow connections and the server's
// store do not count against it, and the load generator (this process,
// publishing jobs and collecting results) is counted apart. Every phase
// gets a JetStream server of its own, with an empty store, so that it is
// measured as if it ran alone.
//
// It prints a table and, last, one line of key=value pairs with every
// figure.
//
//	go run ./cmd/hookbench [-jobs 20000] [-concurrency 128] [-payload 512] \
//	    [-slow-jobs 10000] [-slow-delay 200ms] [-cpuprofile f] [-memprofile f] \
//	    [-slow-cpuprofile f] [-slow-snapshot f [-slow-snapshot-at 1s]] \
//	    [-events 5000] [-events-endpoints 4] [-events-cpuprofile f]
//	    [-backlog-small 1000] [-backlog-large 20000] [-backlog-cold 5000] [-cold-delay 500ms] [-mixed-slow 20000] \
//	    [-mixed-fast 2000] [-mixed-runs 5] [-mixed-cpuprofile f] [-paced-jobs 5000] [-paced-rate 1000] \
//	    [-paced-cpuprofile f] [-tracing-runs 4] [-tracing-cpuprofile f] \
//	    [-policy-events 2000] [-policy-rate 100] [-phases "end to end,events"]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hookworker/hookworker/sender"
)

// roleEnv names the environment variable that makes this binary run as one
// part of the benchmark instead of the whole of it.
const roleEnv = "HOOKBENCH_ROLE"

// options are the command's flags.
type options struct {
	Payload          int
	Jobs             int
	Concurrency      int
	Window           int
	SlowDelay        time.Duration
	SlowJobs         int
	SlowWindow       int
	SlowConcurrency  int
	BoundJobs        int
	BoundConcurrency int
	Timeout          time.Duration
	Settle           time.Duration
	CPUProfile       string
	MemProfile       string
	SlowCPUProfile   string
	SlowSnapshot     string
	SlowSnapshotAt   time.Duration
	Events           int
	EventsEndpoints  int
	EventsCPUProfile string
	BacklogSmall     int
	BacklogLarge     int
	BacklogCold      int
	ColdDelay        time.Duration
	MixedSlow        int
	MixedFast        int
	MixedRuns        int
	PacedJobs        int
	PacedRate        float64
	PacedCPUProfile  string
	MixedCPUProfile  string
	PolicyCPUProfile string
	TracingRuns      int
	TracingProfile   string
	APIEvents        int
	PolicyEvents     int
	PolicyRate       int
	// Phases lists the phases to run, by name; empty: all of them.
	Phases []string
}

// phaseNames are the phases in the order they run.
var phaseNames = []string{"http ceiling", "bus ceiling", "end to end", "slow receiver", "events", "backlog", "mixed", "paced", "tracing", "policy", "http api"}

// runs reports whether the phase named name is to run.
func (o *options) runs(name string) bool {
	return len(o.Phases) == 0 || slices.Contains(o.Phases, name)
}

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(role, os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "hookbench %s: %v\n", role, err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.Payload, "payload", 512, "payload size in bytes")
	flag.IntVar(&o.Jobs, "jobs", 20000, "jobs (and requests) per throughput run")
	flag.IntVar(&o.Concurrency, "concurrency", 128, "jobs in flight in the worker and requests in flight in the HTTP ceiling (the worker's default on 2 CPUs)")
	flag.IntVar(&o.Window, "window", 0, "jobs published and not yet answered, at most; 0: 2 × concurrency")
	flag.DurationVar(&o.SlowDelay, "slow-delay", 200*time.Millisecond, "how long the slow receiver takes to answer")
	flag.IntVar(&o.SlowJobs, "slow-jobs", 10000, "jobs in the slow-receiver run")
	flag.IntVar(&o.SlowWindow, "slow-window", 0, "slow-run jobs published and not yet answered, at most; 0: slow-jobs (all published at once)")
	flag.IntVar(&o.SlowConcurrency, "slow-concurrency", 0, "worker CONCURRENCY and HOST_CONCURRENCY in the slow run; 0: slow-window")
	flag.IntVar(&o.BoundJobs, "bound-jobs", 0, "jobs in the latency-bound run, slow-window of them in flight; 0: 3 × slow-window; -1: no latency-bound run")
	flag.IntVar(&o.BoundConcurrency, "bound-concurrency", 0, "worker CONCURRENCY in the latency-bound run; 0: 40% of the end-to-end rate × slow-delay, so that the CPU is not the limit")
	flag.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "longest wait for one run's results")
	flag.DurationVar(&o.Settle, "settle", sender.IdleConnTimeout+5*time.Second, "longest wait for the worker's goroutines to return to baseline after the slow run (its idle keep-alive connections close after sender.IdleConnTimeout)")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the worker during the end-to-end run to this file")
	flag.StringVar(&o.MemProfile, "memprofile", "", "write an allocation profile of the worker after the end-to-end run to this file")
	flag.StringVar(&o.SlowCPUProfile, "slow-cpuprofile", "", "write a CPU profile of the worker during the slow-receiver run to this file")
	flag.StringVar(&o.SlowSnapshot, "slow-snapshot", "", "write the worker's heap in use to this file, and its goroutines to this file .goroutine, during the slow-receiver run (see -slow-snapshot-at)")
	flag.DurationVar(&o.SlowSnapshotAt, "slow-snapshot-at", time.Second, "when, after the slow run's first job is published, -slow-snapshot is taken")
	flag.IntVar(&o.Events, "events", 5000, "events in the events run, each fanned out to every endpoint; 0: no events run")
	flag.IntVar(&o.EventsEndpoints, "events-endpoints", 4, "endpoints every event of the events run goes to")
	flag.StringVar(&o.EventsCPUProfile, "events-cpuprofile", "", "write a CPU profile of the worker during the events run to this file")
	flag.IntVar(&o.BacklogSmall, "backlog-small", 1000, "jobs in the small backlog run (all published at once to one host, default HOST_CONCURRENCY)")
	flag.IntVar(&o.BacklogLarge, "backlog-large", 20000, "jobs in the large backlog run")
	flag.IntVar(&o.BacklogCold, "backlog-cold", 5000, "jobs in the cold backlog run: at once to one host whose first HOST_CONCURRENCY answers take cold-delay, a receiver starting cold; 0: no cold run")
	flag.DurationVar(&o.ColdDelay, "cold-delay", 500*time.Millisecond, "how long the cold receiver's first answers take")
	flag.IntVar(&o.MixedSlow, "mixed-slow", 20000, "jobs to the slow host (answering after slow-delay) in the mixed run")
	flag.IntVar(&o.MixedFast, "mixed-fast", 2000, "jobs to the fast host in the mixed run")
	flag.IntVar(&o.MixedRuns, "mixed-runs", 5, "pairs of mixed runs, each the fast host's jobs among the slow host's and among unread ones, in alternate order (0: 5)")
	flag.StringVar(&o.MixedCPUProfile, "mixed-cpuprofile", "", "write a CPU profile of the worker while the mixed run's fast and slow hosts' jobs are published together to this file")
	flag.IntVar(&o.PacedJobs, "paced-jobs", 5000, "jobs in the paced run")
	flag.Float64Var(&o.PacedRate, "paced-rate", 1000, "jobs published per second in the paced run")
	flag.StringVar(&o.PolicyCPUProfile, "policy-cpuprofile", "", "write a CPU profile of the worker during the policy run's ordered endpoint to this file")
	flag.StringVar(&o.PacedCPUProfile, "paced-cpuprofile", "", "write a CPU profile of the worker during the paced run to this file")
	flag.IntVar(&o.TracingRuns, "tracing-runs", 4, "end-to-end runs in the tracing phase, tracing off, on, on, off, and so on; a multiple of 4 (0: 4)")
	flag.StringVar(&o.TracingProfile, "tracing-cpuprofile", "", "write a CPU profile of the worker during the tracing phase's first run with tracing on to this file")
	flag.IntVar(&o.APIEvents, "api-events", 5000, "events sent in each of the http api run's eight runs, four through POST /api/v1/events and four through events.send over NATS; 0: no http api run")
	flag.IntVar(&o.PolicyEvents, "policy-events", 2000, "events to the ordered endpoint in the policy run")
	flag.IntVar(&o.PolicyRate, "policy-rate", 100, "rate_limit of the limited endpoint in the policy run, which gets five seconds' worth of events")
	phases := flag.String("phases", "", "the phases to run, comma-separated, of "+strings.Join(phaseNames, ", ")+"; a ratio to a phase that did not run is 0 (empty: all)")
	flag.Parse()
	for _, p := range strings.Split(*phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.Phases = append(o.Phases, p)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hookbench:", err)
		os.Exit(1)
	}
}

// check validates o and fills in its defaults.
func (o *options) check() error {
	for _, p := range o.Phases {
		if !slices.Contains(phaseNames, p) {
			return fmt.Errorf("phase %q: phases are %s", p, strings.Join(phaseNames, ", "))
		}
	}
	if o.runs("slow receiver") && !o.runs("end to end") && o.BoundJobs >= 0 && o.BoundConcurrency == 0 {
		return errors.New("the latency-bound run takes its concurrency from the end-to-end phase: run that phase too, or set -bound-concurrency, or -bound-jobs -1")
	}
	if o.Events < 0 || o.EventsEndpoints < 0 {
		return errors.New("events and events-endpoints must not be negative")
	}
	if o.EventsEndpoints == 0 {
		o.EventsEndpoints = 4
	}
	if o.Payload < 0 || o.Jobs < 1 || o.Concurrency < 1 || o.SlowJobs < 1 || o.Window < 0 || o.SlowWindow < 0 || o.SlowConcurrency < 0 || o.BoundJobs < -1 || o.BoundConcurrency < 0 {
		return errors.New("payload must not be negative; jobs, concurrency and slow-jobs must be positive; bound-jobs at least -1")
	}
	if o.BacklogSmall < 1 || o.BacklogLarge < 1 || o.MixedSlow < 1 || o.MixedFast < 1 || o.PacedJobs < 1 || o.PacedRate <= 0 {
		return errors.New("backlog, mixed and paced jobs and the paced rate must be positive")
	}
	if o.BacklogCold < 0 || o.ColdDelay < 0 {
		return errors.New("backlog-cold and cold-delay must not be negative")
	}
	if o.MixedRuns < 0 {
		return errors.New("mixed-runs must not be negative")
	}
	if o.MixedRuns == 0 {
		o.MixedRuns = 5
	}
	if o.PolicyEvents < 0 || o.PolicyRate < 0 {
		return errors.New("policy-events and policy-rate must not be negative")
	}
	if o.PolicyEvents == 0 {
		o.PolicyEvents = 2000
	}
	if o.PolicyRate == 0 {
		o.PolicyRate = 100
	}
	if o.APIEvents < 0 {
		return errors.New("api-events must not be negative")
	}
	if o.TracingRuns == 0 {
		o.TracingRuns = 4
	}
	if o.TracingRuns < 0 || o.TracingRuns%4 != 0 {
		return errors.New("tracing-runs must be a positive multiple of 4")
	}
	if o.Timeout <= 0 || o.SlowDelay < 0 || o.Settle < 0 {
		return errors.New("timeout must be positive, slow-delay and settle not negative")
	}
	if o.Window == 0 {
		o.Window = 2 * o.Concurrency
	}
	if o.SlowWindow == 0 {
		o.SlowWindow = o.SlowJobs
	}
	if o.SlowConcurrency == 0 {
		o.SlowConcurrency = o.SlowWindow
	}
	if o.BoundJobs == 0 {
		o.BoundJobs = 3 * o.SlowWindow
	}
	return nil
}

// run runs the whole benchmark and writes the table to out, progress to log.
func run(ctx context.Context, o options, out, log io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	raiseFileLimit()
	b, err := newBench(ctx, o, log)
	if err != nil {
		return err
	}
	r, err := b.all(ctx)
	b.close()
	if err != nil {
		return err
	}
	r.finish(b)
	r.print(out)
	return nil
}
