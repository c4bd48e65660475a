package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/job"
)

// burstPart is one producer's share of a burst: n jobs to url.
type burstPart struct {
	n   int
	url string
	// wait reports whether the burst waits for every result of the part;
	// the parts that are not waited for may still be running when it
	// ends.
	wait bool
	// subject is where the part's jobs are published; empty: the
	// topology's job subject.
	subject string
}

// partResult is what one part of a burst saw.
type partResult struct {
	Results   int
	Delivered int
	// Arrivals are the times, from the first publish, at which each result
	// came in, in their order.
	Arrivals []time.Duration
}

// last is when the part's last result came in.
func (p partResult) last() time.Duration {
	if len(p.Arrivals) == 0 {
		return 0
	}
	return p.Arrivals[len(p.Arrivals)-1]
}

// rate is the part's results per second, from the first publish to its
// last result.
func (p partResult) rate() float64 {
	if s := p.last().Seconds(); s > 0 {
		return float64(p.Results) / s
	}
	return 0
}

// burst publishes every part's jobs on t.Subject, each part from a
// publisher of its own, all at once when pace is 0 or else pace jobs per
// second in all, and waits until timeout for the results of the parts that
// are waited for.
func burst(ctx context.Context, nc *nats.Conn, t bus.Topology, parts []burstPart, pace float64, body []byte, timeout time.Duration) ([]partResult, error) {
	var pubErrors atomic.Int64
	// Each part is a producer of its own, on a connection of its own, as
	// two customers' producers are: one connection would put every job of
	// one part in line behind the other's on the way in, and the results
	// (on nc) behind the publish acknowledgements.
	pubs := make([]jetstream.JetStream, len(parts))
	for i := range parts {
		pc, err := nats.Connect(nc.ConnectedUrl())
		if err != nil {
			return nil, fmt.Errorf("producer connection: %w", err)
		}
		defer pc.Close()
		js, err := jetstream.New(pc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) {
			pubErrors.Add(1)
		}), jetstream.WithPublishAsyncMaxPending(4096))
		if err != nil {
			return nil, err
		}
		pubs[i] = js
	}
	prefix := "b" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	res := make([]partResult, len(parts))
	seen := make([][]bool, len(parts))
	waiting := 0
	for i, p := range parts {
		seen[i] = make([]bool, p.n)
		res[i].Arrivals = make([]time.Duration, 0, p.n)
		if p.wait {
			waiting += p.n
		}
	}
	var (
		start    time.Time
		mu       sync.Mutex
		done     = make(chan struct{})
		gotSoFar atomic.Int64
	)
	sub, err := nc.Subscribe(t.ResultSubject, func(m *nats.Msg) {
		at := time.Since(start)
		rest, ok := strings.CutPrefix(m.Header.Get(job.HeaderJobID), prefix)
		if !ok {
			return
		}
		ps, ns, ok := strings.Cut(rest, "-")
		p, perr := strconv.Atoi(ps)
		n, nerr := strconv.Atoi(ns)
		if !ok || perr != nil || nerr != nil || p < 0 || p >= len(parts) || n < 0 || n >= parts[p].n {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[p][n] {
			return
		}
		seen[p][n] = true
		r := &res[p]
		r.Results++
		r.Arrivals = append(r.Arrivals, at)
		if m.Header.Get(job.HeaderOutcome) == string(job.Delivered) {
			r.Delivered++
		}
		if parts[p].wait {
			if gotSoFar.Add(1) == int64(waiting) {
				close(done)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start = time.Now()
	publish := func(p, n int) error {
		id := prefix + strconv.Itoa(p) + "-" + strconv.Itoa(n)
		subject := parts[p].subject
		if subject == "" {
			subject = t.Subject
		}
		msg := nats.NewMsg(subject)
		msg.Data = jobJSON(id, parts[p].url, body)
		msg.Header.Set(jetstream.MsgIDHeader, id)
		for {
			_, err := pubs[p].PublishMsgAsync(msg)
			if err == nil {
				return nil
			}
			if err != jetstream.ErrTooManyStalledMsgs {
				return fmt.Errorf("publish job %d of part %d: %w", n, p, err)
			}
		}
	}
	errs := make(chan error, len(parts))
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() {
			if pace > 0 {
				errs <- paced(ctx, parts[p].n, pace, func(n int) error { return publish(p, n) })
				return
			}
			for n := range parts[p].n {
				if err := publish(p, n); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("results: got %d of %d: %w", gotSoFar.Load(), waiting, ctx.Err())
	}
	if n := pubErrors.Load(); n > 0 {
		return nil, fmt.Errorf("%d jobs not published", n)
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]partResult, len(res))
	for i, r := range res {
		a := slices.Clone(r.Arrivals)
		slices.Sort(a)
		out[i] = partResult{Results: r.Results, Delivered: r.Delivered, Arrivals: a}
	}
	return out, nil
}

// pacedTick is how often a paced publisher publishes the jobs that have
// come due.
const pacedTick = 10 * time.Millisecond

// paced calls publish for 0 to n-1, rate calls a second, in steps of
// pacedTick.
func paced(ctx context.Context, n int, rate float64, publish func(int) error) error {
	tick := time.NewTicker(pacedTick)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for sent < n {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		for ; sent < due; sent++ {
			if err := publish(sent); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// windowStats are the delivery rates of the whole windows of width after
// skip: how many there are, their median and the lowest.
type windowStats struct {
	N             int
	Median, Worst float64
}

// windows measures the rate of arrivals (sorted) in every whole window of
// width from skip to the last arrival.
func windows(arrivals []time.Duration, skip, width time.Duration) windowStats {
	if len(arrivals) == 0 {
		return windowStats{}
	}
	n := int((arrivals[len(arrivals)-1] - skip) / width)
	if n <= 0 {
		return windowStats{}
	}
	counts := make([]float64, n)
	for _, a := range arrivals {
		if a < skip {
			continue
		}
		if i := int((a - skip) / width); i < n {
			counts[i]++
		}
	}
	rates := make([]float64, n)
	for i, c := range counts {
		rates[i] = c / width.Seconds()
	}
	return windowStats{N: n, Median: median(rates), Worst: slices.Min(rates)}
}
