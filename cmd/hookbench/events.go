package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// eventType is the type of the events run's events.
const eventType = "bench.event"

// eventsResult is the events run: Events events fanned out to Endpoints
// endpoints, one delivery each, with the delivery log on.
type eventsResult struct {
	Events, Endpoints int
	Delivered         int
	Duplicates        int
	Run               throughput // N is deliveries (results)
	// LogOn and LogOff add up the runs with the delivery log on
	// (HOOKWORKER_ATTEMPT_LOG=events) and off.
	LogOn, LogOff throughput
	// Plain adds up the plain end-to-end runs among the events runs, on
	// the same server: what the events runs are compared with.
	Plain throughput
}

// eventsRun sends EventsN events, straight on the event stream, to a worker
// whose catalog holds one event type and EventsEndpoints endpoints on the
// fast receiver, each receiving every event, and measures deliveries (one
// result per event and endpoint) per second. At most window deliveries are
// outstanding, as in the end-to-end run.
//
// It runs eight times, the delivery log on, off, off, on twice over, so
// that a load that changes steadily over the runs weighs alike on both, with
// a plain end-to-end run on the same server before the first and after
// every second one: on a machine whose speed drifts (a shared host), runs
// side by side compare better than runs a minute apart. Run is the first events run;
// LogOn, LogOff and Plain add the runs up, and are what the report
// compares.
func (b *bench) eventsRun(ctx context.Context, r *report) error {
	if b.o.Events <= 0 {
		return nil
	}
	var ev eventsResult
	plain, err := b.plainOnce(ctx)
	if err != nil {
		return fmt.Errorf("plain run: %w", err)
	}
	ev.Plain = plain
	// Each run's rate, in order: how far runs side by side differ.
	runs := []string{plain.describe("plain")}
	for i, mode := range []string{"events", "off", "off", "events", "events", "off", "off", "events"} {
		profile := ""
		if i == 0 {
			profile = b.o.EventsCPUProfile
		}
		er, err := b.eventsOnce(ctx, mode, profile)
		if err != nil {
			return fmt.Errorf("delivery log %s: %w", mode, err)
		}
		if er.Delivered != er.Run.N || er.Duplicates != 0 {
			b.logf("  delivery log %s: %d of %d delivered, %d duplicates", mode, er.Delivered, er.Run.N, er.Duplicates)
		}
		name := "log on"
		if mode == "off" {
			name = "log off"
		}
		runs = append(runs, er.Run.describe(name))
		if i%2 == 1 {
			after, err := b.plainOnce(ctx)
			if err != nil {
				return fmt.Errorf("plain run: %w", err)
			}
			ev.Plain = ev.Plain.add(after)
			runs = append(runs, after.describe("plain"))
		}
		if i == 0 {
			ev.Events, ev.Endpoints, ev.Delivered, ev.Duplicates, ev.Run = er.Events, er.Endpoints, er.Delivered, er.Duplicates, er.Run
		}
		if mode == "off" {
			ev.LogOff = ev.LogOff.add(er.Run)
		} else {
			ev.LogOn = ev.LogOn.add(er.Run)
		}
	}
	r.Events = ev
	b.logf("  %.0f deliveries/s (%d events × %d endpoints); delivery log on %.0f/s, off %.0f/s; plain jobs beside them %.0f/s",
		ev.Run.rate(), ev.Events, ev.Endpoints, ev.LogOn.rate(), ev.LogOff.rate(), ev.Plain.rate())
	b.logf("  runs in order, deliveries/s (worker, nats CPU s per 1k deliveries): %s", strings.Join(runs, ", "))
	return nil
}

// plainOnce is one end-to-end run of plain jobs, as in the end-to-end
// phase, through a worker it stops before it returns.
func (b *bench) plainOnce(ctx context.Context) (throughput, error) {
	// The events runs' durables: this worker's fan-out has no event left
	// to send.
	env := append(b.workerEnv("plain", b.o.Concurrency, b.o.Concurrency), "HOOKWORKER_DURABLE=hookworker-events")
	c, err := b.start("worker", nil, env)
	if err != nil {
		return throughput{}, err
	}
	defer c.stop()
	m, dr, err := b.measure(ctx, c, "plain", b.o.Jobs, b.o.Window, "/hook", nil)
	if err != nil {
		return throughput{}, err
	}
	return throughput{N: dr.Results, Seconds: dr.Seconds, CPU: m.cpu, NATSCPU: m.natsCPU}, nil
}

// describe is the run named name as the events phase logs it: its
// deliveries/s, then the worker's and the NATS server's CPU s per 1,000.
func (t throughput) describe(name string) string {
	return fmt.Sprintf("%s %.0f (%.3f %.3f)", name, t.rate(), t.per1k(t.CPU), t.per1k(t.NATSCPU))
}

// add returns the two runs as one.
func (t throughput) add(u throughput) throughput {
	return throughput{
		N: t.N + u.N, Seconds: t.Seconds + u.Seconds, CPU: t.CPU + u.CPU, NATSCPU: t.NATSCPU + u.NATSCPU,
		Allocated: t.Allocated + u.Allocated, GCCPU: t.GCCPU + u.GCCPU,
	}
}

// eventsOnce is one events run with HOOKWORKER_ATTEMPT_LOG=attemptLog; it
// stops its worker before it returns.
func (b *bench) eventsOnce(ctx context.Context, attemptLog, cpuProfile string) (eventsResult, error) {
	// A durable of its own: an earlier phase's worker, still exiting,
	// must not fan these events out to its own job subject.
	env := append(b.workerEnv("events", b.o.Concurrency, b.o.Concurrency),
		"HOOKWORKER_DURABLE=hookworker-events", "HOOKWORKER_ATTEMPT_LOG="+attemptLog)
	c, err := b.startNamed("worker", "worker_events", nil, env)
	if err != nil {
		return eventsResult{}, err
	}
	// Stopped, not just released: the next run's worker shares its
	// durables.
	defer c.stop()
	if err := b.eventCatalog(ctx); err != nil {
		return eventsResult{}, err
	}
	if _, err := c.call("reset"); err != nil {
		return eventsResult{}, err
	}
	cBefore, err := c.stats()
	if err != nil {
		return eventsResult{}, err
	}
	nBefore, err := b.nats.stats()
	if err != nil {
		return eventsResult{}, err
	}
	hooks := profiling(c, cpuProfile, "", 0)
	if hooks != nil {
		if err := hooks.before(); err != nil {
			return eventsResult{}, err
		}
	}
	er, err := driveEvents(ctx, b.nc, topology("events").ResultSubject, b.o.Events, b.o.EventsEndpoints, b.o.Window, payload(b.o.Payload), b.o.Timeout)
	if hooks != nil {
		err = errors.Join(err, hooks.after())
	}
	if err != nil {
		return eventsResult{}, err
	}
	after, err := c.stats()
	if err != nil {
		return eventsResult{}, err
	}
	nAfter, err := b.nats.stats()
	if err != nil {
		return eventsResult{}, err
	}
	er.Run.CPU, er.Run.NATSCPU = after.CPU-cBefore.CPU, nAfter.CPU-nBefore.CPU
	return er, nil
}

// eventCatalog waits for the worker's API, then puts the event type and
// the endpoints.
func (b *bench) eventCatalog(ctx context.Context) error {
	api := client.New(b.nc)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := api.EventTypes(ctx, false)
		if err == nil {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("event api: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("event api: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := api.PutEventType(ctx, client.EventType{Name: eventType, Schema: json.RawMessage(`{"type":"object"}`)}); err != nil {
		return err
	}
	for i := range b.o.EventsEndpoints {
		// Distinct URLs on the one receiver.
		ep := client.Endpoint{ID: "ep_bench_" + strconv.Itoa(i), URL: b.receiver.info + "/hook?endpoint=" + strconv.Itoa(i)}
		if _, err := api.PutEndpoint(ctx, ep, ""); err != nil {
			return err
		}
	}
	return nil
}

// driveEvents publishes events events on the event stream (as events.send
// stores them), keeping at most window deliveries without a result, and
// waits for endpoints results per event on resultSubject, until timeout.
func driveEvents(ctx context.Context, nc *nats.Conn, resultSubject string, events, endpoints, window int, body []byte, timeout time.Duration) (eventsResult, error) {
	res := eventsResult{Events: events, Endpoints: endpoints}
	if endpoints < 1 {
		return res, errors.New("events need at least one endpoint")
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return res, err
	}
	prefix := "e" + strconv.FormatInt(time.Now().UnixNano(), 36) + "_"
	want := events * endpoints
	seen := make([]uint8, events)                           // results per event
	tokens := make(chan struct{}, max(window/endpoints, 1)) // one per event in flight
	done := make(chan struct{})
	var got atomic.Int64
	sub, err := nc.Subscribe(resultSubject, func(m *nats.Msg) {
		evt, _, ok := strings.Cut(m.Header.Get(job.HeaderJobID), ":")
		n, ok2 := strings.CutPrefix(evt, prefix)
		if !ok || !ok2 {
			return
		}
		i, err := strconv.Atoi(n)
		if err != nil || i < 0 || i >= events {
			return
		}
		if int(seen[i]) >= endpoints {
			res.Duplicates++
			return
		}
		if m.Header.Get(job.HeaderOutcome) == string(job.Delivered) {
			res.Delivered++
		}
		seen[i]++
		if int(seen[i]) == endpoints {
			<-tokens
		}
		if got.Add(1) == int64(want) {
			close(done)
		}
	})
	if err != nil {
		return res, err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	data := append(append([]byte(`{"payload":`), body...), '}')
	start := time.Now()
	for i := range events {
		select {
		case tokens <- struct{}{}:
		case <-ctx.Done():
			return res, fmt.Errorf("published %d of %d events: %w", i, events, ctx.Err())
		}
		id := prefix + strconv.Itoa(i)
		msg := nats.NewMsg(catalog.EventSubject(eventType, id))
		msg.Data = data
		msg.Header.Set(jetstream.MsgIDHeader, id)
		for {
			_, err := js.PublishMsgAsync(msg)
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				return res, fmt.Errorf("publish event %d: %w", i, err)
			}
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		if err := sub.Unsubscribe(); err == nil {
			_ = nc.Flush()
		}
		return res, fmt.Errorf("results: got %d of %d: %w", got.Load(), want, ctx.Err())
	}
	res.Run = throughput{N: int(got.Load()), Seconds: time.Since(start).Seconds()}
	if err := sub.Unsubscribe(); err != nil {
		return res, err
	}
	return res, nil
}

// eventsFields are the events run's figures.
func (r *report) eventsFields(f func(float64, int) string, ratio func(a, b float64) float64) []field {
	if r.o.Events <= 0 {
		return nil
	}
	ev := r.Events
	rate := ev.Run.rate()
	// The delivery log on, as a worker runs by default, against the plain
	// runs beside the events runs.
	vs := ratio(ev.LogOn.rate(), ev.Plain.rate())
	logRatio := ratio(ev.LogOn.rate(), ev.LogOff.rate())
	const s = "events"
	return []field{
		{s, "events × endpoints", "events", strconv.Itoa(ev.Events)},
		{s, "", "events_endpoints", strconv.Itoa(ev.Endpoints)},
		{s, "deliveries / delivered / duplicates", "events_results", strconv.Itoa(ev.Run.N)},
		{s, "", "events_delivered", strconv.Itoa(ev.Delivered)},
		{s, "", "events_duplicates", strconv.Itoa(ev.Duplicates)},
		{s, "deliveries/s", "events_dps", f(rate, 0)},
		{s, "plain end-to-end deliveries/s, a run before the first events run and after every second", "events_plain_dps", f(ev.Plain.rate(), 0)},
		{s, "deliveries/s, the four runs with the log on / the plain runs beside them (target ≥ 0.7)", "events_vs_e2e", f(vs, 3)},
		{s, "deliveries/s (first run) / the end-to-end phase", "events_vs_e2e_phase", f(ratio(rate, r.E2E.rate()), 3)},
		{s, "target met", "events_target_met", strconv.FormatBool(vs >= 0.7)},
		{s, "worker CPU s per 1k deliveries", "events_worker_cpu_s_per_1k", f(ev.Run.per1k(ev.Run.CPU), 4)},
		{s, "nats CPU s per 1k deliveries", "events_nats_cpu_s_per_1k", f(ev.Run.per1k(ev.Run.NATSCPU), 4)},
		{s, "deliveries/s, delivery log on / off (four runs each)", "events_log_on_dps", f(ev.LogOn.rate(), 0)},
		{s, "", "events_log_off_dps", f(ev.LogOff.rate(), 0)},
		{s, "delivery log on / off (target ≥ 0.9)", "events_log_on_vs_off", f(logRatio, 3)},
		{s, "target met", "events_log_target_met", strconv.FormatBool(logRatio >= 0.9)},
		{s, "worker CPU s per 1k deliveries, log on / off", "events_log_on_worker_cpu_s_per_1k", f(ev.LogOn.per1k(ev.LogOn.CPU), 4)},
		{s, "", "events_log_off_worker_cpu_s_per_1k", f(ev.LogOff.per1k(ev.LogOff.CPU), 4)},
		{s, "nats CPU s per 1k deliveries, log on / off", "events_log_on_nats_cpu_s_per_1k", f(ev.LogOn.per1k(ev.LogOn.NATSCPU), 4)},
		{s, "", "events_log_off_nats_cpu_s_per_1k", f(ev.LogOff.per1k(ev.LogOff.NATSCPU), 4)},
	}
}
