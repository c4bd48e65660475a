package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/job"
)

// topology is the bench's topology for one phase: its own subjects and
// streams, and the durable consumer and state bucket as the hookworker
// command sets them up.
func topology(prefix string) bus.Topology {
	up := strings.ToUpper(prefix)
	return bus.Topology{
		Subject:       "bench." + prefix + ".send",
		Stream:        "BENCH_" + up,
		Durable:       "hookworker",
		ResultSubject: "bench." + prefix + ".result",
		ResultStream:  "BENCH_" + up + "_RESULTS",
		ResultMaxAge:  time.Hour,
		AckWait:       30 * time.Second,
	}
}

// payload is a JSON object of about size bytes.
func payload(size int) []byte {
	const frame = `{"data":""}`
	n := max(size-len(frame), 0)
	return []byte(`{"data":"` + strings.Repeat("x", n) + `"}`)
}

// jobJSON is a webhook job to url with body as its payload.
func jobJSON(id, url string, body []byte) []byte {
	b := make([]byte, 0, len(body)+len(id)+len(url)+64)
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","type":"webhook","url":"`...)
	b = append(b, url...)
	b = append(b, `","payload":`...)
	b = append(b, body...)
	return append(b, '}')
}

// driveResult is what one load through the bus saw.
type driveResult struct {
	Published  int
	Results    int
	Delivered  int
	Duplicates int
	PubErrors  int64
	Seconds    float64
	// PublishSeconds is how long publishing every job took.
	PublishSeconds float64
	Latencies      []time.Duration // sorted, one per first result
}

// percentile returns the p-th percentile (0 < p ≤ 100) of the latencies.
func (d driveResult) percentile(p float64) time.Duration {
	if len(d.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(d.Latencies))*p/100+0.5) - 1
	return d.Latencies[min(max(i, 0), len(d.Latencies)-1)]
}

// drive publishes jobs jobs on t.Subject, keeping at most window of them
// without a result, and waits for one result per job on t.ResultSubject,
// until timeout. Each job goes to url with body.
func drive(ctx context.Context, nc *nats.Conn, t bus.Topology, jobs, window int, url string, body []byte, timeout time.Duration) (driveResult, error) {
	var pubErrors atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) {
		pubErrors.Add(1)
	}), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return driveResult{}, err
	}
	prefix := "b" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	published := make([]atomic.Int64, jobs)
	latency := make([]time.Duration, jobs)
	tokens := make(chan struct{}, max(window, 1))
	done := make(chan struct{})
	var res driveResult
	var got int
	var gotSoFar atomic.Int64
	sub, err := nc.Subscribe(t.ResultSubject, func(m *nats.Msg) {
		now := time.Now()
		id := m.Header.Get(job.HeaderJobID)
		n, ok := strings.CutPrefix(id, prefix)
		if !ok {
			return
		}
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= jobs {
			return
		}
		if latency[i] != 0 {
			res.Duplicates++
			return
		}
		latency[i] = max(now.Sub(time.Unix(0, published[i].Load())), 1)
		if m.Header.Get(job.HeaderOutcome) == string(job.Delivered) {
			res.Delivered++
		}
		got++
		gotSoFar.Store(int64(got))
		<-tokens
		if got == jobs {
			close(done)
		}
	})
	if err != nil {
		return driveResult{}, err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		return driveResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	for i := range jobs {
		select {
		case tokens <- struct{}{}:
		case <-ctx.Done():
			return driveResult{}, fmt.Errorf("published %d of %d jobs: %w", i, jobs, ctx.Err())
		}
		id := prefix + strconv.Itoa(i)
		msg := nats.NewMsg(t.Subject)
		msg.Data = jobJSON(id, url, body)
		msg.Header.Set(jetstream.MsgIDHeader, id)
		published[i].Store(time.Now().UnixNano())
		for {
			_, err := js.PublishMsgAsync(msg)
			if err == nil {
				break
			}
			if err != jetstream.ErrTooManyStalledMsgs {
				return driveResult{}, fmt.Errorf("publish job %d: %w", i, err)
			}
		}
		res.Published++
	}
	res.PublishSeconds = time.Since(start).Seconds()
	select {
	case <-done:
	case <-ctx.Done():
		if err := sub.Unsubscribe(); err == nil {
			_ = nc.Flush()
		}
		return driveResult{}, fmt.Errorf("results: got %d of %d: %w", gotSoFar.Load(), jobs, ctx.Err())
	}
	res.Seconds = time.Since(start).Seconds()
	if err := sub.Unsubscribe(); err != nil {
		return driveResult{}, err
	}
	res.Results = got
	res.PubErrors = pubErrors.Load()
	res.Latencies = latency
	slices.Sort(res.Latencies)
	return res, nil
}
