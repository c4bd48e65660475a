package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/sleep"
)

// backlogResult is one burst to one host through a worker with its default
// settings.
type backlogResult struct {
	Jobs, Delivered int
	// Seconds is from the first publish to the last result.
	Seconds float64
	// Windows are the 100 ms windows after the first second.
	Windows windowStats
	CPU     float64
}

// mixedResult is the mixed run: a fast host's jobs alone, then published
// among a slow host's, and among as many jobs that no worker reads.
type mixedResult struct {
	// Runs is the number of pairs of runs: the fast host's jobs among the
	// slow host's (mixed), and among jobs that sit in the same stream on a
	// subject the worker does not take (in stream).
	Runs int
	// FastAlone is the fast host's deliveries per second, from the first
	// publish to its last result, with nothing else published.
	FastAlone float64
	// FastMixed and FastInStream are the medians over the runs of the
	// same, with the slow host's jobs published together with the fast
	// host's: to the worker (mixed), and to the same stream on a subject
	// no worker reads (in stream), which is the machine's cost of
	// publishing and storing them in the stream, without the worker's of
	// passing them over.
	FastMixed, FastInStream float64
	// Shares are FastMixed / FastInStream of each pair of runs, in their
	// order; Share is their median: the worker's share.
	Shares []float64
	Share  float64
	// FastLoaded is the same once more, the slow host's jobs published to
	// a stream of their own that no worker reads; FastPassed with them
	// published to a stream that a bare reader (the passer role) reads,
	// handing each back at once: what reading them costs the machine,
	// whoever reads them. Each is one run, before the pairs.
	FastLoaded, FastPassed float64
	// FastDelivered is the fewest of the fast host's jobs delivered in a
	// mixed run.
	FastDelivered int
	// Read is how many jobs the worker read while the fast host's were
	// delivered among the slow host's, the fast host's included, over the
	// mixed runs.
	Read uint64
	// WorkerCPU and NATSCPU are the worker's and the server's CPU seconds
	// from the first publish to the fast host's last result, over the
	// mixed runs and over the in-stream runs.
	WorkerCPU, WorkerCPUInStream, NATSCPU, NATSCPUInStream float64
	// SlowDone is the median number of the slow host's jobs with a result
	// when the fast host's last came in.
	SlowDone int
	// SlowPeak is the most requests the slow host had in flight at once;
	// HostLimit the worker's per-host limit (its default).
	SlowPeak, HostLimit int64
	// WorkerHWM is the worker's peak RSS in bytes, every run included.
	WorkerHWM uint64
}

// pacedResult is a paced load: jobs published at a steady rate well below
// what the worker can do.
type pacedResult struct {
	Jobs, Delivered int
	Rate            float64
	CPU             float64
	// Saturated is the same worker's saturated end-to-end run, right
	// before the paced one.
	Saturated throughput
}

// Window width and the start-up left out of the window rates.
const (
	windowWidth = 100 * time.Millisecond
	windowSkip  = time.Second
)

// defaultHostConcurrency is the worker's HOST_CONCURRENCY when none is set,
// a quarter of CONCURRENCY (see config).
func defaultHostConcurrency(concurrency int) int { return max(1, concurrency/4) }

// backlog publishes BacklogSmall and then BacklogLarge jobs at once to one
// host, each through a fresh worker with the default HOST_CONCURRENCY; then
// BacklogCold jobs the same way to a host whose first HOST_CONCURRENCY
// answers take ColdDelay (a receiver starting cold), fast after that.
func (b *bench) backlog(ctx context.Context, r *report) error {
	for i, n := range []int{b.o.BacklogSmall, b.o.BacklogLarge, b.o.BacklogCold} {
		if n == 0 {
			continue
		}
		prefix := "backlog" + strconv.Itoa(i)
		url := b.receiver.info + "/hook"
		if i == 2 {
			cold, err := b.start("receiver", []string{"-cold", strconv.Itoa(defaultHostConcurrency(b.o.Concurrency)),
				"-cold-delay", b.o.ColdDelay.String()}, nil)
			if err != nil {
				return err
			}
			defer cold.release()
			url = cold.info + "/hook"
		}
		c, err := b.start("worker", nil, b.workerEnv(prefix, b.o.Concurrency, 0))
		if err != nil {
			return err
		}
		before, err := c.stats()
		if err != nil {
			c.release()
			return err
		}
		parts, err := burst(ctx, b.nc, topology(prefix), []burstPart{{n: n, url: url, wait: true}}, 0, payload(b.o.Payload), b.o.Timeout)
		if err != nil {
			c.release()
			return fmt.Errorf("%d jobs: %w", n, err)
		}
		after, err := c.stats()
		c.release()
		if err != nil {
			return err
		}
		p := parts[0]
		res := backlogResult{Jobs: p.Results, Delivered: p.Delivered, Seconds: p.last().Seconds(),
			Windows: windows(p.Arrivals, windowSkip, windowWidth), CPU: after.CPU - before.CPU}
		switch i {
		case 0:
			r.BacklogSmall = res
		case 1:
			r.BacklogLarge = res
		default:
			r.BacklogCold = res
		}
		b.logf("  %d jobs: %.0f deliveries/s", n, p.rate())
	}
	return nil
}

// mixed runs MixedFast jobs to the fast receiver alone, then MixedRuns
// pairs of runs, in alternate order: the same jobs published together with
// MixedSlow jobs to a second receiver that answers after SlowDelay, through
// one worker with the default HOST_CONCURRENCY (mixed), and published
// together with as many jobs that sit in the worker's stream on a subject it
// does not take (in stream). A mixed run does not wait for the slow host's
// jobs: they are purged from the stream after it, and the slow host's
// requests under way are waited for.
func (b *bench) mixed(ctx context.Context, r *report) error {
	slow, err := b.start("receiver", []string{"-delay", b.o.SlowDelay.String()}, nil)
	if err != nil {
		return err
	}
	defer slow.release()
	c, err := b.start("worker", nil, append(b.workerEnv("mixed", b.o.Concurrency, 0), "HOOKWORKER_SHUTDOWN_TIMEOUT=1s"))
	if err != nil {
		return err
	}
	defer c.release()
	t := topology("mixed")
	fast := burstPart{n: b.o.MixedFast, url: b.receiver.info + "/hook", wait: true}
	slowURL := slow.info + "/slow"
	alone, err := burst(ctx, b.nc, t, []burstPart{fast}, 0, payload(b.o.Payload), b.o.Timeout)
	if err != nil {
		return fmt.Errorf("fast host alone: %w", err)
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return err
	}
	m := mixedResult{Runs: b.o.MixedRuns, FastAlone: alone[0].rate(), FastDelivered: b.o.MixedFast,
		HostLimit: int64(defaultHostConcurrency(b.o.Concurrency))}
	// Two controls, once each, before the slow host's jobs keep the worker
	// busy: the slow host's jobs published to a stream of their own that no
	// worker reads, and to one that a bare reader reads.
	load := topology("mixedload")
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: load.Stream, Subjects: []string{load.Subject}}); err != nil {
		return fmt.Errorf("control stream: %w", err)
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), load.Stream)
	loaded, err := burst(ctx, b.nc, t, []burstPart{{n: b.o.MixedSlow, url: slowURL, subject: load.Subject}, fast},
		0, payload(b.o.Payload), b.o.Timeout)
	if err != nil {
		return fmt.Errorf("fast host with the slow host's jobs published elsewhere: %w", err)
	}
	m.FastLoaded = loaded[1].rate()
	if m.FastPassed, err = b.mixedPassed(ctx, js, slowURL, fast); err != nil {
		return fmt.Errorf("fast host with the slow host's jobs read by a bare reader: %w", err)
	}
	// The in-stream control's subject: in the worker's stream, outside
	// what its consumer takes.
	stream, err := js.Stream(ctx, t.Stream)
	if err != nil {
		return err
	}
	unread := strings.TrimSuffix(t.Subject, ".send") + ".unread"
	cfg := stream.CachedInfo().Config
	cfg.Subjects = append(cfg.Subjects, unread)
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("in-stream control subject: %w", err)
	}
	cons, err := js.Consumer(ctx, t.Stream, t.Durable)
	if err != nil {
		return err
	}
	if _, err := slow.call("resetcounts"); err != nil {
		return err
	}
	hooks := profiling(c, b.o.MixedCPUProfile, "", 0)
	var mixedRates, inStreamRates []float64
	var slowDone []float64
	inStream := func() error {
		var parts []partResult
		used, err := b.cpuDuring(c, func() (err error) {
			parts, err = burst(ctx, b.nc, t, []burstPart{{n: b.o.MixedSlow, url: slowURL, subject: unread}, fast},
				0, payload(b.o.Payload), b.o.Timeout)
			return err
		})
		if err != nil {
			return fmt.Errorf("fast host with the slow host's jobs unread in the stream: %w", err)
		}
		m.WorkerCPUInStream += used.worker
		m.NATSCPUInStream += used.nats
		inStreamRates = append(inStreamRates, parts[1].rate())
		return stream.Purge(ctx, jetstream.WithPurgeSubject(unread))
	}
	mixed := func(first bool) error {
		before, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if first && hooks != nil {
			if err := hooks.before(); err != nil {
				return err
			}
		}
		var parts []partResult
		used, err := b.cpuDuring(c, func() (err error) {
			parts, err = burst(ctx, b.nc, t, []burstPart{{n: b.o.MixedSlow, url: slowURL}, fast},
				0, payload(b.o.Payload), b.o.Timeout)
			return err
		})
		if first && hooks != nil {
			err = errors.Join(err, hooks.after())
		}
		if err != nil {
			return fmt.Errorf("fast and slow hosts together: %w", err)
		}
		after, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		m.Read += after.Delivered.Consumer - before.Delivered.Consumer
		m.WorkerCPU += used.worker
		m.NATSCPU += used.nats
		m.FastDelivered = min(m.FastDelivered, parts[1].Delivered)
		mixedRates = append(mixedRates, parts[1].rate())
		slowDone = append(slowDone, float64(parts[0].Results))
		// The slow host's jobs left are purged, and those the worker has
		// already taken are waited for, so that the next run starts with
		// an idle worker.
		if err := stream.Purge(ctx); err != nil {
			return err
		}
		return b.drain(ctx, slow)
	}
	for i := range b.o.MixedRuns {
		var err error
		if i%2 == 0 {
			if err = inStream(); err == nil {
				err = mixed(i == 0)
			}
		} else if err = mixed(false); err == nil {
			err = inStream()
		}
		if err != nil {
			return err
		}
		m.Shares = append(m.Shares, ratioOf(mixedRates[i], inStreamRates[i]))
	}
	var counts receiverCounts
	if err := slow.callJSON(&counts, "counts"); err != nil {
		return err
	}
	st, err := c.stats()
	if err != nil {
		return err
	}
	m.FastMixed, m.FastInStream, m.Share = median(mixedRates), median(inStreamRates), median(m.Shares)
	m.SlowDone = int(median(slowDone))
	m.SlowPeak, m.WorkerHWM = counts.PeakInFlight, st.HWM
	r.Mixed = m
	b.logf("  fast host alone %.0f/s; with the slow host's jobs published elsewhere %.0f/s, read by a bare reader %.0f/s",
		m.FastAlone, m.FastLoaded, m.FastPassed)
	b.logf("  with the slow host %.0f/s, with its jobs unread in the stream %.0f/s (medians); shares in order: %s",
		m.FastMixed, m.FastInStream, formatFloats(m.Shares, 3))
	return nil
}

// drain waits until the receiver r has had no request under way, and no new
// one, for a while: the worker's requests to it are over.
func (b *bench) drain(ctx context.Context, r *child) error {
	quiet := max(2*b.o.SlowDelay, 100*time.Millisecond)
	last := int64(-1)
	deadline := time.Now().Add(b.o.Timeout)
	for time.Now().Before(deadline) {
		var counts receiverCounts
		if err := r.callJSON(&counts, "counts"); err != nil {
			return err
		}
		if counts.InFlight == 0 && counts.Requests == last {
			return nil
		}
		last = counts.Requests
		if !sleep.For(ctx, quiet) {
			return ctx.Err()
		}
	}
	return errors.New("the slow host's requests did not stop")
}

// median returns the median of v, 0 when empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// formatFloats writes v with prec decimals, separated by commas.
func formatFloats(v []float64, prec int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', prec, 64)
	}
	return strings.Join(s, ", ")
}

// cpuUsed is the CPU seconds of the worker and of the server over a run.
type cpuUsed struct{ worker, nats float64 }

// cpuDuring runs run and returns the CPU seconds worker c and the server
// used meanwhile.
func (b *bench) cpuDuring(c *child, run func() error) (cpuUsed, error) {
	before, err := b.cpuNow(c)
	if err != nil {
		return cpuUsed{}, err
	}
	if err := run(); err != nil {
		return cpuUsed{}, err
	}
	after, err := b.cpuNow(c)
	return cpuUsed{worker: after.worker - before.worker, nats: after.nats - before.nats}, err
}

// cpuNow returns the CPU seconds worker c and the server have used so far.
func (b *bench) cpuNow(c *child) (cpuUsed, error) {
	w, err := c.stats()
	if err != nil {
		return cpuUsed{}, err
	}
	n, err := b.nats.stats()
	return cpuUsed{worker: w.CPU, nats: n.CPU}, err
}

// mixedPassed publishes MixedSlow jobs to url to a stream of their own,
// which a bare reader (the passer role) reads and hands back job by job,
// together with fast, through the mixed run's worker, and returns the fast
// host's deliveries per second.
func (b *bench) mixedPassed(ctx context.Context, js jetstream.JetStream, url string, fast burstPart) (float64, error) {
	t := topology("mixedpass")
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: t.Stream, Subjects: []string{t.Subject}}); err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), t.Stream)
	p, err := b.start("passer", []string{"-nats", b.nats.info, "-stream", t.Stream, "-concurrency", strconv.Itoa(b.o.Concurrency)}, nil)
	if err != nil {
		return 0, err
	}
	defer p.release()
	parts, err := burst(ctx, b.nc, topology("mixed"), []burstPart{{n: b.o.MixedSlow, url: url, subject: t.Subject}, fast},
		0, payload(b.o.Payload), b.o.Timeout)
	if err != nil {
		return 0, err
	}
	return parts[1].rate(), nil
}

// paced runs Jobs jobs saturated through a worker set up as in the
// end-to-end run, then publishes PacedJobs jobs at PacedRate a second
// through it, and measures its CPU in each.
func (b *bench) paced(ctx context.Context, r *report) error {
	c, err := b.start("worker", nil, b.workerEnv("paced", b.o.Concurrency, b.o.Concurrency))
	if err != nil {
		return err
	}
	defer c.release()
	// The saturated figure it is compared with, from the same worker just
	// before: on a machine whose speed drifts, a run a minute earlier is a
	// poor yardstick.
	m, dr, err := b.measure(ctx, c, "paced", b.o.Jobs, b.o.Window, "/hook", nil)
	if err != nil {
		return fmt.Errorf("saturated run: %w", err)
	}
	saturated := throughput{N: dr.Results, Seconds: dr.Seconds, CPU: m.cpu, NATSCPU: m.natsCPU}
	before, err := c.stats()
	if err != nil {
		return err
	}
	hooks := profiling(c, b.o.PacedCPUProfile, "", 0)
	if hooks != nil {
		if err := hooks.before(); err != nil {
			return err
		}
	}
	parts, err := burst(ctx, b.nc, topology("paced"), []burstPart{{n: b.o.PacedJobs, url: b.receiver.info + "/hook", wait: true}}, b.o.PacedRate, payload(b.o.Payload), b.o.Timeout)
	if hooks != nil {
		if herr := hooks.after(); err == nil {
			err = herr
		}
	}
	if err != nil {
		return err
	}
	after, err := c.stats()
	if err != nil {
		return err
	}
	r.Paced = pacedResult{Jobs: parts[0].Results, Delivered: parts[0].Delivered, Rate: parts[0].rate(), CPU: after.CPU - before.CPU,
		Saturated: saturated}
	b.logf("  %.0f deliveries/s, worker CPU %.3f s", r.Paced.Rate, r.Paced.CPU)
	return nil
}

// backlogFields are the figures of the backlog, mixed and paced runs.
func (r *report) backlogFields(add func(section, label, key, value string), e2e throughput) {
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	ratio := ratioOf
	o := r.o
	e2eRate := e2e.rate()
	e2eCPU := e2e.per1k(e2e.CPU)
	for _, run := range []struct {
		key    string
		res    backlogResult
		target float64
	}{
		{"backlog_small", r.BacklogSmall, 0.5},
		{"backlog_large", r.BacklogLarge, 0.8},
	} {
		res := run.res
		rate := ratio(float64(res.Jobs), res.Seconds)
		section := "backlog, " + strconv.Itoa(res.Jobs) + " jobs at once to one host, default HOST_CONCURRENCY"
		add(section, "jobs / delivered", run.key+"_jobs", strconv.Itoa(res.Jobs))
		add(section, "", run.key+"_delivered", strconv.Itoa(res.Delivered))
		add(section, "deliveries/s (first publish → last result)", run.key+"_dps", f(rate, 0))
		add(section, fmt.Sprintf("deliveries/s / end to end (target ≥ %.1f)", run.target), run.key+"_vs_e2e", f(ratio(rate, e2eRate), 3))
		add(section, "100 ms windows after the first second: count / median / worst deliveries/s", run.key+"_windows", strconv.Itoa(res.Windows.N))
		add(section, "", run.key+"_window_median_dps", f(res.Windows.Median, 0))
		add(section, "", run.key+"_window_worst_dps", f(res.Windows.Worst, 0))
		worst := 1.0
		if res.Windows.N > 0 {
			worst = ratio(res.Windows.Worst, res.Windows.Median)
		}
		add(section, "worst window / median (target ≥ 0.3; 1 when no window)", run.key+"_worst_vs_median", f(worst, 3))
		add(section, "worker CPU s per 1k", run.key+"_worker_cpu_s_per_1k", f(ratio(res.CPU, float64(res.Jobs))*1000, 4))
		add(section, "targets met", run.key+"_target_met", strconv.FormatBool(ratio(rate, e2eRate) >= run.target && worst >= 0.3))
	}
	cold := r.BacklogCold
	coldRate := ratio(float64(cold.Jobs), cold.Seconds)
	section := fmt.Sprintf("cold backlog, %d jobs at once to one host whose first HOST_CONCURRENCY answers take %s", cold.Jobs, o.ColdDelay)
	add(section, "jobs / delivered", "backlog_cold_jobs", strconv.Itoa(cold.Jobs))
	add(section, "", "backlog_cold_delivered", strconv.Itoa(cold.Delivered))
	add(section, "deliveries/s (first publish → last result)", "backlog_cold_dps", f(coldRate, 0))
	add(section, "deliveries/s / the warm large backlog's", "backlog_cold_vs_large", f(ratio(coldRate, ratio(float64(r.BacklogLarge.Jobs), r.BacklogLarge.Seconds)), 3))
	add(section, "worker CPU s per 1k", "backlog_cold_worker_cpu_s_per_1k", f(ratio(cold.CPU, float64(cold.Jobs))*1000, 4))

	m := r.Mixed
	section = fmt.Sprintf("mixed, %d jobs to a host answering in %s with %d to a fast one, %d pairs of runs", o.MixedSlow, o.SlowDelay, o.MixedFast, m.Runs)
	add(section, "fast host deliveries/s alone / among the slow host's jobs (median)", "mixed_fast_alone_dps", f(m.FastAlone, 0))
	add(section, "", "mixed_fast_dps", f(m.FastMixed, 0))
	add(section, "fast host delivered (fewest in a run)", "mixed_fast_delivered", strconv.Itoa(m.FastDelivered))
	add(section, "among the slow host's / alone", "mixed_fast_vs_alone", f(ratio(m.FastMixed, m.FastAlone), 3))
	add(section, "fast host deliveries/s, the slow host's jobs in the stream, on a subject no worker reads (median)", "mixed_fast_instream_dps", f(m.FastInStream, 0))
	add(section, "among the slow host's / in the stream unread, median of the pairs (the worker's share; target ≥ 0.8)", "mixed_fast_vs_instream", f(m.Share, 3))
	lo, hi := 0.0, 0.0
	if len(m.Shares) > 0 {
		lo, hi = slices.Min(m.Shares), slices.Max(m.Shares)
	}
	add(section, "the same, lowest / highest pair", "mixed_share_min", f(lo, 3))
	add(section, "", "mixed_share_max", f(hi, 3))
	add(section, "fast host deliveries/s, the slow host's jobs in a stream of their own no worker reads (one run)", "mixed_fast_loaded_dps", f(m.FastLoaded, 0))
	add(section, "among the slow host's (median) / in a stream of their own", "mixed_fast_vs_loaded", f(ratio(m.FastMixed, m.FastLoaded), 3))
	add(section, "fast host deliveries/s, the slow host's jobs read and handed back by a bare reader (one run)", "mixed_fast_passed_dps", f(m.FastPassed, 0))
	add(section, "bare reader / in a stream of their own (what reading them costs, whoever reads them)", "mixed_passed_vs_loaded", f(ratio(m.FastPassed, m.FastLoaded), 3))
	add(section, "jobs the worker read while the fast host's were delivered (theirs included), over the runs", "mixed_read", strconv.FormatUint(m.Read, 10))
	add(section, "worker CPU s meanwhile, among the slow host's / in the stream unread, over the runs", "mixed_worker_cpu_s", f(m.WorkerCPU, 3))
	add(section, "", "mixed_instream_worker_cpu_s", f(m.WorkerCPUInStream, 3))
	add(section, "nats CPU s meanwhile, among the slow host's / in the stream unread, over the runs", "mixed_nats_cpu_s", f(m.NATSCPU, 3))
	add(section, "", "mixed_instream_nats_cpu_s", f(m.NATSCPUInStream, 3))
	add(section, "slow host results by the fast host's last (median)", "mixed_slow_done", strconv.Itoa(m.SlowDone))
	add(section, "slow host requests in flight, peak / its share (HOST_CONCURRENCY)", "mixed_slow_peak_in_flight", strconv.FormatInt(m.SlowPeak, 10))
	add(section, "", "mixed_host_limit", strconv.FormatInt(m.HostLimit, 10))
	add(section, "worker peak RSS MiB (VmHWM), every run", "mixed_worker_rss_peak_mib", f(float64(m.WorkerHWM)/mib, 1))
	add(section, "targets met", "mixed_target_met", strconv.FormatBool(m.Share >= 0.8 && m.SlowPeak <= m.HostLimit))

	p := r.Paced
	section = fmt.Sprintf("paced, %d jobs at %.0f/s", o.PacedJobs, o.PacedRate)
	pacedCPU := ratio(p.CPU, float64(p.Jobs)) * 1000
	add(section, "delivered / deliveries/s", "paced_delivered", strconv.Itoa(p.Delivered))
	add(section, "", "paced_dps", f(p.Rate, 0))
	add(section, "worker CPU s per 1k", "paced_worker_cpu_s_per_1k", f(pacedCPU, 4))
	satCPU := p.Saturated.per1k(p.Saturated.CPU)
	add(section, "worker CPU s per 1k, the same worker saturated just before", "paced_saturated_worker_cpu_s_per_1k", f(satCPU, 4))
	add(section, "paced / saturated worker CPU per 1k (target ≤ 2)", "paced_vs_e2e_cpu", f(ratio(pacedCPU, satCPU), 3))
	add(section, "paced / the end-to-end phase's worker CPU per 1k", "paced_vs_e2e_phase_cpu", f(ratio(pacedCPU, e2eCPU), 3))
	add(section, "target met", "paced_target_met", strconv.FormatBool(ratio(pacedCPU, satCPU) <= 2))
}
