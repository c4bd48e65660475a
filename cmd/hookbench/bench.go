package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// bench holds the long-lived parts of a run: the JetStream server, the
// receiver and this process's connection.
type bench struct {
	o        options
	log      io.Writer
	dir      string
	nats     *child
	receiver *child
	nc       *nats.Conn
	children []*child // every child started, for the final accounting
}

func newBench(ctx context.Context, o options, log io.Writer) (*bench, error) {
	dir, err := os.MkdirTemp("", "hookbench-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, log: log, dir: dir}
	if err := b.startServer(); err != nil {
		b.close()
		return nil, err
	}
	if b.receiver, err = b.start("receiver", []string{"-delay", o.SlowDelay.String()}, nil); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// startServer starts a JetStream server with an empty store, and connects
// to it.
func (b *bench) startServer() error {
	store, err := os.MkdirTemp(b.dir, "store-")
	if err != nil {
		return err
	}
	if b.nats, err = b.start("nats", []string{"-dir", store}, nil); err != nil {
		return err
	}
	if b.nc, err = nats.Connect(b.nats.info, nats.Name("hookbench")); err != nil {
		return fmt.Errorf("connect to the bench's nats server: %w", err)
	}
	return nil
}

// freshServer replaces the JetStream server with one whose store is empty,
// so that a phase is measured as if it ran alone: not on a server holding
// every earlier phase's results and state, nor with an earlier phase's
// worker still exiting against it.
func (b *bench) freshServer() error {
	b.nc.Close()
	b.nats.stop()
	return b.startServer()
}

func (b *bench) start(role string, args, env []string) (*child, error) {
	return b.startNamed(role, "", args, env)
}

// startNamed starts a child whose peak RSS the report shows as name.
func (b *bench) startNamed(role, name string, args, env []string) (*child, error) {
	c, err := startChild(role, args, env)
	if err != nil {
		return nil, err
	}
	c.name = name
	b.children = append(b.children, c)
	return c, nil
}

// close stops every child, all at once, and removes the store.
func (b *bench) close() {
	if b.nc != nil {
		b.nc.Close()
	}
	var wg sync.WaitGroup
	for _, c := range b.children {
		if c.role != "nats" {
			wg.Go(c.stop)
		}
	}
	wg.Wait()
	for _, c := range b.children {
		if c.role == "nats" {
			c.stop()
		}
	}
	os.RemoveAll(b.dir)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "hookbench: "+format+"\n", args...)
}

// all runs every phase in turn.
func (b *bench) all(ctx context.Context) (*report, error) {
	r := &report{o: b.o, loadAvg: loadAverage()}
	ran := false
	for _, phase := range []struct {
		name string
		run  func(context.Context, *report) error
	}{
		{"http ceiling", b.httpCeiling},
		{"bus ceiling", b.busCeiling},
		{"end to end", b.endToEnd},
		{"slow receiver", b.slowReceiver},
		{"events", b.eventsRun},
		{"backlog", b.backlog},
		{"mixed", b.mixed},
		{"paced", b.paced},
		{"tracing", b.tracingRun},
		{"policy", b.policy},
		{"http api", b.httpAPIRun},
	} {
		if !b.o.runs(phase.name) {
			continue
		}
		if ran {
			if err := b.freshServer(); err != nil {
				return nil, fmt.Errorf("%s: %w", phase.name, err)
			}
		}
		ran = true
		b.logf("%s…", phase.name)
		if err := phase.run(ctx, r); err != nil {
			return nil, fmt.Errorf("%s: %w", phase.name, err)
		}
	}
	return r, nil
}

// httpCeiling posts the jobs' payloads straight to the receiver with the
// worker's HTTP client, at the same concurrency.
func (b *bench) httpCeiling(_ context.Context, r *report) error {
	c, err := b.start("httpload", []string{
		"-url", b.receiver.info + "/hook", "-jobs", strconv.Itoa(b.o.Jobs),
		"-concurrency", strconv.Itoa(b.o.Concurrency), "-payload", strconv.Itoa(b.o.Payload),
	}, nil)
	if err != nil {
		return err
	}
	defer c.release()
	before, err := c.stats()
	if err != nil {
		return err
	}
	var lr loadResult
	if err := c.callJSON(&lr, "run"); err != nil {
		return err
	}
	after, err := c.stats()
	if err != nil {
		return err
	}
	if lr.OK != lr.Done {
		return fmt.Errorf("%d of %d requests failed", lr.Done-lr.OK, lr.Done)
	}
	r.HTTP = throughput{N: lr.OK, Seconds: lr.Seconds, CPU: after.CPU - before.CPU}
	b.logf("  %.0f requests/s", r.HTTP.rate())
	return nil
}

// busCeiling runs the bus half of the worker alone.
func (b *bench) busCeiling(ctx context.Context, r *report) error {
	c, err := b.start("busload", []string{
		"-nats", b.nats.info, "-prefix", "bus", "-concurrency", strconv.Itoa(b.o.Concurrency),
	}, nil)
	if err != nil {
		return err
	}
	defer c.release()
	m, dr, err := b.measure(ctx, c, "bus", b.o.Jobs, b.o.Window, "/hook", nil)
	if err != nil {
		return err
	}
	r.Bus = throughput{N: dr.Results, Seconds: dr.Seconds, CPU: m.cpu, NATSCPU: m.natsCPU}
	b.logf("  %.0f jobs/s", r.Bus.rate())
	return nil
}

// workerEnv is the environment of a worker bound to prefix's topology.
func (b *bench) workerEnv(prefix string, concurrency, hostConcurrency int) []string {
	t := topology(prefix)
	return []string{
		"HOOKWORKER_NATS_URL=" + b.nats.info,
		"HOOKWORKER_SUBJECT=" + t.Subject,
		"HOOKWORKER_STREAM=" + t.Stream,
		"HOOKWORKER_DURABLE=" + t.Durable,
		"HOOKWORKER_RESULT_SUBJECT=" + t.ResultSubject,
		"HOOKWORKER_RESULT_STREAM=" + t.ResultStream,
		"HOOKWORKER_RESULT_MAX_AGE=" + t.ResultMaxAge.String(),
		"HOOKWORKER_CONCURRENCY=" + strconv.Itoa(concurrency),
		"HOOKWORKER_HOST_CONCURRENCY=" + strconv.Itoa(hostConcurrency),
		"HOOKWORKER_ALLOWED_NETWORKS=127.0.0.1/32",
		"HOOKWORKER_LOG_LEVEL=warn",
		"HOOKWORKER_LOG_FORMAT=json",
	}
}

// endToEnd runs jobs through the real worker.
func (b *bench) endToEnd(ctx context.Context, r *report) error {
	c, err := b.startNamed("worker", "worker_e2e", nil, b.workerEnv("e2e", b.o.Concurrency, b.o.Concurrency))
	if err != nil {
		return err
	}
	defer c.release()
	m, dr, err := b.measure(ctx, c, "e2e", b.o.Jobs, b.o.Window, "/hook", profiling(c, b.o.CPUProfile, "", 0))
	if err != nil {
		return err
	}
	if b.o.MemProfile != "" {
		if _, err := c.call("memprofile", b.o.MemProfile); err != nil {
			return err
		}
	}
	r.E2E = throughput{N: dr.Results, Seconds: dr.Seconds, CPU: m.cpu, NATSCPU: m.natsCPU, ReceiverCPU: m.receiverCPU, BenchCPU: m.benchCPU}
	r.E2EDelivered = dr.Delivered
	r.E2EDuplicates = dr.Duplicates
	r.E2EP50, r.E2EP99 = dr.percentile(50), dr.percentile(99)
	r.E2EWorker = m.after
	b.logf("  %.0f deliveries/s, p50 %s, p99 %s", r.E2E.rate(), r.E2EP50, r.E2EP99)
	return nil
}

// slowReceiver runs SlowJobs jobs, SlowWindow at most in flight, against the
// slow receiver.
func (b *bench) slowReceiver(ctx context.Context, r *report) error {
	c, err := b.startNamed("worker", "worker_slow", nil, b.workerEnv("slow", b.o.SlowConcurrency, b.o.SlowConcurrency))
	if err != nil {
		return err
	}
	defer c.release()
	baseline, err := settle(ctx, c, 0, time.Second)
	if err != nil {
		return err
	}
	before, err := c.stats()
	if err != nil {
		return err
	}
	if _, err := b.receiver.call("resetcounts"); err != nil {
		return err
	}
	m, dr, err := b.measure(ctx, c, "slow", b.o.SlowJobs, b.o.SlowWindow, "/slow", profiling(c, b.o.SlowCPUProfile, b.o.SlowSnapshot, b.o.SlowSnapshotAt))
	if err != nil {
		return err
	}
	var counts receiverCounts
	if err := b.receiver.callJSON(&counts, "counts"); err != nil {
		return err
	}
	// While this worker's idle connections time out, which the settle
	// waits for, the latency-bound run has the CPU to itself.
	settleStart := time.Now()
	type settledCount struct {
		n   int
		err error
	}
	settling := make(chan settledCount, 1)
	go func() {
		n, err := settle(ctx, c, baseline, b.o.Settle)
		settling <- settledCount{n, err}
	}()
	boundErr := b.latencyBound(ctx, r)
	sc := <-settling
	after, settled := sc.n, time.Since(settleStart)
	if err := errors.Join(sc.err, boundErr); err != nil {
		return err
	}
	idle, err := c.stats()
	if err != nil {
		return err
	}
	r.Slow = slowResult{
		Jobs: dr.Results, Delivered: dr.Delivered, Seconds: dr.Seconds,
		P50: dr.percentile(50), P99: dr.percentile(99), PublishSeconds: dr.PublishSeconds,
		PeakInFlight: counts.PeakInFlight, Conns: counts.Conns, Worker: m.after,
		CPU: m.cpu, NATSCPU: m.natsCPU, ReceiverCPU: m.receiverCPU,
		GoroutinesBefore: baseline, GoroutinesAfter: after, SettleSeconds: settled.Seconds(),
		GoroutinesDone: m.after.Goroutines,
		FDsBefore:      before.FDs, FDsAfter: idle.FDs,
	}
	return nil
}

// latencyBound runs BoundJobs jobs, SlowWindow of them in flight, against
// the slow receiver, with a CONCURRENCY whose concurrency / delay the
// machine can serve: it shows whether slow receivers leave slots idle.
func (b *bench) latencyBound(ctx context.Context, r *report) error {
	if b.o.BoundJobs < 0 || b.o.SlowDelay <= 0 {
		return nil
	}
	conc := b.o.BoundConcurrency
	if conc == 0 {
		// The slow path costs up to twice the CPU per delivery of the
		// fast one; at 40% of the fast rate the CPU has room to spare.
		conc = max(1, int(0.4*r.E2E.rate()*b.o.SlowDelay.Seconds()))
	}
	b.logf("latency-bound run, concurrency %d…", conc)
	c, err := b.startNamed("worker", "worker_bound", nil, b.workerEnv("bound", conc, conc))
	if err != nil {
		return err
	}
	defer c.release()
	if _, err := b.receiver.call("resetcounts"); err != nil {
		return err
	}
	m, dr, err := b.measure(ctx, c, "bound", b.o.BoundJobs, b.o.SlowWindow, "/slow", nil)
	if err != nil {
		return err
	}
	var counts receiverCounts
	if err := b.receiver.callJSON(&counts, "counts"); err != nil {
		return err
	}
	r.Bound = boundResult{
		Concurrency: conc, Jobs: dr.Results, Delivered: dr.Delivered, Seconds: dr.Seconds,
		PeakInFlight: counts.PeakInFlight, Worker: m.after, CPU: m.cpu,
	}
	return nil
}

// settle waits, at most wait, until c's goroutine count is at or below
// target (0: until it stops changing), and returns the last count.
func settle(ctx context.Context, c *child, target int, wait time.Duration) (int, error) {
	deadline := time.Now().Add(wait)
	last := -1
	for {
		s, err := c.stats()
		if err != nil {
			return 0, err
		}
		g := s.Goroutines
		if (target > 0 && g <= target) || (target == 0 && g == last) || time.Now().After(deadline) {
			return g, nil
		}
		last = g
		timer := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			return 0, ctx.Err()
		case <-timer.C:
		}
	}
}

// measured is the resource use of one load through the bus.
type measured struct {
	cpu, natsCPU, receiverCPU, benchCPU float64
	// allocated and gcCPU are the Go heap bytes the process under test
	// allocated and the CPU seconds its garbage collector spent.
	allocated uint64
	gcCPU     float64
	after     Stats
}

// measureHooks run just before and just after the load.
type measureHooks struct{ before, after func() error }

// profiling returns hooks that CPU-profile c into cpuPath during the load
// and, at after the load starts, snapshot its heap and goroutines into
// snapshotPath; nil when both paths are empty.
func profiling(c *child, cpuPath, snapshotPath string, at time.Duration) *measureHooks {
	if cpuPath == "" && snapshotPath == "" {
		return nil
	}
	var (
		timer    *time.Timer
		snapshot = make(chan error, 1)
	)
	return &measureHooks{
		before: func() error {
			if snapshotPath != "" {
				timer = time.AfterFunc(at, func() {
					_, err := c.call("snapshot", snapshotPath)
					snapshot <- err
				})
			}
			if cpuPath == "" {
				return nil
			}
			_, err := c.call("cpuprofile", cpuPath)
			return err
		},
		after: func() error {
			var err error
			if cpuPath != "" {
				_, err = c.call("stopcpu")
			}
			if timer != nil {
				if timer.Stop() {
					return errors.Join(err, fmt.Errorf("the load ended before -slow-snapshot-at (%s)", at))
				}
				err = errors.Join(err, <-snapshot)
			}
			return err
		},
	}
}

// measure drives jobs through c (a worker or the bus load) and returns the
// CPU each process spent meanwhile.
func (b *bench) measure(ctx context.Context, c *child, prefix string, jobs, window int, path string, hooks *measureHooks) (measured, driveResult, error) {
	var m measured
	if _, err := c.call("reset"); err != nil {
		return m, driveResult{}, err
	}
	cBefore, err := c.stats()
	if err != nil {
		return m, driveResult{}, err
	}
	nBefore, err := b.nats.stats()
	if err != nil {
		return m, driveResult{}, err
	}
	rBefore, err := b.receiver.stats()
	if err != nil {
		return m, driveResult{}, err
	}
	selfBefore := cpuSeconds(syscall.RUSAGE_SELF)
	if hooks != nil && hooks.before != nil {
		if err := hooks.before(); err != nil {
			return m, driveResult{}, err
		}
	}
	dr, err := drive(ctx, b.nc, topology(prefix), jobs, window, b.receiver.info+path, payload(b.o.Payload), b.o.Timeout)
	if hooks != nil && hooks.after != nil {
		if herr := hooks.after(); err == nil {
			err = herr
		}
	}
	if err != nil {
		return m, driveResult{}, err
	}
	m.benchCPU = cpuSeconds(syscall.RUSAGE_SELF) - selfBefore
	if m.after, err = c.stats(); err != nil {
		return m, driveResult{}, err
	}
	nAfter, err := b.nats.stats()
	if err != nil {
		return m, driveResult{}, err
	}
	rAfter, err := b.receiver.stats()
	if err != nil {
		return m, driveResult{}, err
	}
	m.cpu = m.after.CPU - cBefore.CPU
	m.allocated = m.after.Allocated - cBefore.Allocated
	m.gcCPU = m.after.GCCPU - cBefore.GCCPU
	m.natsCPU = nAfter.CPU - nBefore.CPU
	m.receiverCPU = rAfter.CPU - rBefore.CPU
	return m, dr, nil
}
