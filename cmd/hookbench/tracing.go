package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// tracingResult is the tracing phase: plain end-to-end runs through a
// worker exporting a span per job and one per HTTP attempt over OTLP/HTTP
// to a sink that discards them, and through the same worker with tracing
// off, alternately.
type tracingResult struct {
	// On and Off add up the runs with tracing on and off.
	On, Off throughput
	// Pairs are the ratios on / off of the runs taken in pairs, in order
	// (off, on), (on, off), ...: each pair ran next to each other.
	Pairs []float64
	// Spans and Requests are what the sink received from the runs with
	// tracing on.
	Spans, Requests int64
}

// tracingRun runs TracingRuns end-to-end runs, tracing off, on, on, off,
// and so on, so that a load that changes steadily over the runs weighs
// alike on both (see eventsRun), each through a worker of its own.
func (b *bench) tracingRun(ctx context.Context, r *report) error {
	sink, err := b.start("otlpsink", nil, nil)
	if err != nil {
		return err
	}
	defer sink.stop()
	var tr tracingResult
	var runs []string
	var prev throughput // the first run of the pair under way
	for i := range b.o.TracingRuns {
		on := i%4 == 1 || i%4 == 2
		profile := ""
		if i == 1 {
			profile = b.o.TracingProfile
		}
		t, err := b.tracingOnce(ctx, on, sink.info, profile)
		if err != nil {
			return fmt.Errorf("tracing %s: %w", onOff(on), err)
		}
		runs = append(runs, t.describe("tracing "+onOff(on)))
		if i%2 == 1 {
			if on {
				tr.Pairs = append(tr.Pairs, ratioOf(t.rate(), prev.rate()))
			} else {
				tr.Pairs = append(tr.Pairs, ratioOf(prev.rate(), t.rate()))
			}
		}
		prev = t
		if on {
			tr.On = tr.On.add(t)
		} else {
			tr.Off = tr.Off.add(t)
		}
	}
	var counts sinkCounts
	if err := sink.callJSON(&counts, "counts"); err != nil {
		return err
	}
	tr.Spans, tr.Requests = counts.Spans, counts.Requests
	r.Tracing = tr
	b.logf("  tracing on %.0f deliveries/s, off %.0f/s; %.2f spans exported per delivery traced",
		tr.On.rate(), tr.Off.rate(), float64(tr.Spans)/float64(max(tr.On.N, 1)))
	b.logf("  runs in order, deliveries/s (worker, nats CPU s per 1k deliveries): %s", strings.Join(runs, ", "))
	b.logf("  on / off of the pairs of runs side by side: %s", formatFloats(tr.Pairs, 3))
	return nil
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// tracedVars choose which jobs a worker traces and how its spans are
// batched; the bench passes its own on to the runs with tracing on, and to
// no other worker. OTEL_BSP_MAX_QUEUE_SIZE=1, for one, has nearly every
// span recorded and then dropped rather than exported.
var tracedVars = []string{
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
	"OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
}

// tracingOnce is one end-to-end run through a worker that exports its
// spans to the sink at endpoint when on, and traces nothing when not,
// writing a CPU profile of the worker to cpuProfile when set; it stops the
// worker, which exports its last spans, before it returns.
func (b *bench) tracingOnce(ctx context.Context, on bool, endpoint, cpuProfile string) (throughput, error) {
	env := b.workerEnv("trace", b.o.Concurrency, b.o.Concurrency)
	if on {
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint, "OTEL_SERVICE_NAME=hookbench-worker")
		// The bench's own sampler and batching, if it has them, are the
		// traced runs': what tracing costs with a share of jobs traced, or
		// without the export.
		for _, k := range tracedVars {
			if v := os.Getenv(k); v != "" {
				env = append(env, k+"="+v)
			}
		}
	}
	c, err := b.startNamed("worker", "worker_tracing", nil, env)
	if err != nil {
		return throughput{}, err
	}
	defer c.stop()
	m, dr, err := b.measure(ctx, c, "trace", b.o.Jobs, b.o.Window, "/hook", profiling(c, cpuProfile, "", 0))
	if err != nil {
		return throughput{}, err
	}
	if dr.Delivered != dr.Results || dr.Duplicates != 0 {
		b.logf("  tracing %s: %d of %d delivered, %d duplicates", onOff(on), dr.Delivered, dr.Results, dr.Duplicates)
	}
	return throughput{
		N: dr.Results, Seconds: dr.Seconds, CPU: m.cpu, NATSCPU: m.natsCPU,
		Allocated: float64(m.allocated), GCCPU: m.gcCPU,
	}, nil
}

// sinkCounts is what the OTLP sink received.
type sinkCounts struct {
	Requests int64 `json:"requests"`
	Spans    int64 `json:"spans"`
}

// otlpSinkRole accepts OTLP/HTTP trace exports (protobuf, on /v1/traces)
// and answers them at once: a collector that costs the machine no more
// than reading the request. It keeps the bodies, and decodes them only
// when asked for its counts, after the runs.
func otlpSinkRole([]string) error {
	var mu sync.Mutex
	var bodies [][]byte
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Header.Get("Content-Encoding") == "gzip" {
			data = append([]byte{'z'}, data...)
		} else {
			data = append([]byte{'p'}, data...)
		}
		mu.Lock()
		bodies = append(bodies, data)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	return serve(os.Stdin, os.Stdout, "http://"+ln.Addr().String(), map[string]command{
		"counts": func([]string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			c := sinkCounts{Requests: int64(len(bodies))}
			for _, b := range bodies {
				n, err := countSpans(b[0] == 'z', b[1:])
				if err != nil {
					return "", err
				}
				c.Spans += int64(n)
			}
			b, err := json.Marshal(c)
			return string(b), err
		},
	})
}

// countSpans counts the spans of an export request's body.
func countSpans(gzipped bool, data []byte) (int, error) {
	if gzipped {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return 0, err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return 0, err
		}
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		return 0, err
	}
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	return n, nil
}

// tracingFields are the tracing phase's figures.
func (r *report) tracingFields(f func(float64, int) string, ratio func(a, b float64) float64) []field {
	if !r.o.runs("tracing") {
		return nil
	}
	t := r.Tracing
	vs := ratio(t.On.rate(), t.Off.rate())
	perDelivery := func(u throughput, v float64) float64 { return ratio(v, float64(u.N)) }
	const s = "tracing"
	n := strconv.Itoa(r.o.TracingRuns / 2)
	return []field{
		{s, "deliveries/s, tracing on / off (" + n + " runs each)", "tracing_on_dps", f(t.On.rate(), 0)},
		{s, "", "tracing_off_dps", f(t.Off.rate(), 0)},
		{s, "tracing on / off (target ≥ 0.9)", "tracing_on_vs_off", f(vs, 3)},
		{s, "target met", "tracing_target_met", strconv.FormatBool(vs >= 0.9)},
		{s, "tracing on / off, median of the " + strconv.Itoa(len(t.Pairs)) + " pairs of runs side by side", "tracing_pairs_median", f(median(t.Pairs), 3)},
		{s, "worker CPU s per 1k deliveries, on / off", "tracing_on_worker_cpu_s_per_1k", f(t.On.per1k(t.On.CPU), 4)},
		{s, "", "tracing_off_worker_cpu_s_per_1k", f(t.Off.per1k(t.Off.CPU), 4)},
		{s, "worker garbage collector CPU µs per delivery, on / off", "tracing_on_worker_gc_us", f(perDelivery(t.On, t.On.GCCPU)*1e6, 1)},
		{s, "", "tracing_off_worker_gc_us", f(perDelivery(t.Off, t.Off.GCCPU)*1e6, 1)},
		{s, "worker bytes allocated per delivery, on / off", "tracing_on_worker_alloc_bytes", f(perDelivery(t.On, t.On.Allocated), 0)},
		{s, "", "tracing_off_worker_alloc_bytes", f(perDelivery(t.Off, t.Off.Allocated), 0)},
		{s, "spans exported per delivery with tracing on (a job's and its attempt's: 2, with every job sampled)", "tracing_spans_per_delivery", f(ratio(float64(t.Spans), float64(t.On.N)), 2)},
		{s, "OTLP export requests", "tracing_export_requests", strconv.FormatInt(t.Requests, 10)},
	}
}
