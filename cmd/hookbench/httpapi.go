package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/freeport"
)

// apiInFlight is how many events.send requests the HTTP API run keeps in
// flight, over each transport.
const apiInFlight = 64

// apiKey is the HTTP API run's operator key.
const apiKey = "hwk_hookbench-operator-key-0123456789abcdef"

// apiResult is the HTTP API run: events accepted per second through
// POST /api/v1/events and through events.send over NATS, apiInFlight
// requests at a time each, against one worker that delivers them to one
// endpoint meanwhile.
type apiResult struct {
	Events int
	// HTTP and NATS add up the runs over each transport.
	HTTP, NATS throughput
	// Delivered counts the deliveries of every run.
	Delivered int
}

// httpAPIRun sends APIEvents events through each transport, four runs
// each, NATS, HTTP, HTTP, NATS twice over, so that a load that changes
// over the runs weighs alike on both. Each run waits for its events'
// deliveries before the next starts, so that every run has the worker
// delivering beside it.
func (b *bench) httpAPIRun(ctx context.Context, r *report) error {
	if b.o.APIEvents <= 0 {
		return nil
	}
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	env := append(b.workerEnv("httpapi", b.o.Concurrency, b.o.Concurrency),
		"HOOKWORKER_API_ADDR="+addr, "HOOKWORKER_API_KEYS="+apiKey)
	c, err := b.startNamed("worker", "worker_httpapi", nil, env)
	if err != nil {
		return err
	}
	defer c.stop()
	saved := b.o.EventsEndpoints
	b.o.EventsEndpoints = 1
	err = b.eventCatalog(ctx)
	b.o.EventsEndpoints = saved
	if err != nil {
		return err
	}
	base := "http://" + addr + "/api/v1"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: apiInFlight, MaxIdleConnsPerHost: apiInFlight}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	if err := waitHTTP(ctx, hc, base); err != nil {
		return err
	}
	delivered := b.countDeliveries(topology("httpapi").ResultSubject)
	defer delivered.stop()
	res := apiResult{Events: b.o.APIEvents}
	api := client.New(b.nc)
	body := payload(b.o.Payload)
	sent := 0
	var runs []string
	for i, transport := range []string{"nats", "http", "http", "nats", "nats", "http", "http", "nats"} {
		prefix := fmt.Sprintf("a%d%s_", i, strconv.FormatInt(time.Now().UnixNano(), 36))
		var send func(ctx context.Context, id string) error
		if transport == "http" {
			send = func(ctx context.Context, id string) error { return postEvent(ctx, hc, base, id, body) }
		} else {
			send = func(ctx context.Context, id string) error {
				_, err := api.SendEvent(ctx, client.Event{ID: id, Type: eventType, Payload: body})
				return err
			}
		}
		t, err := sendEvents(ctx, b.o.APIEvents, prefix, send)
		if err != nil {
			return fmt.Errorf("%s run: %w", transport, err)
		}
		sent += b.o.APIEvents
		if err := delivered.wait(ctx, sent, b.o.Timeout); err != nil {
			return fmt.Errorf("%s run: %w", transport, err)
		}
		runs = append(runs, fmt.Sprintf("%s %.0f", transport, t.rate()))
		if transport == "http" {
			res.HTTP = res.HTTP.add(t)
		} else {
			res.NATS = res.NATS.add(t)
		}
	}
	res.Delivered = delivered.delivered()
	r.API = res
	b.logf("  events accepted/s, %d in flight: HTTP %.0f, NATS %.0f (%.2f); runs in order: %s",
		apiInFlight, res.HTTP.rate(), res.NATS.rate(), ratioOf(res.HTTP.rate(), res.NATS.rate()), strings.Join(runs, ", "))
	return nil
}

// ratioOf is a / b, 0 when b is.
func ratioOf(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// waitHTTP waits until the HTTP API at base answers.
func waitHTTP(ctx context.Context, hc *http.Client, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/openapi.json", nil)
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("http api: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// postEvent sends one event through POST /events.
func postEvent(ctx context.Context, hc *http.Client, base, id string, body []byte) error {
	data := make([]byte, 0, len(body)+96)
	data = append(data, `{"id":"`...)
	data = append(data, id...)
	data = append(data, `","type":"`+eventType+`","payload":`...)
	data = append(data, body...)
	data = append(data, '}')
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/events", bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /events: %d %s", resp.StatusCode, reply)
	}
	return nil
}

// sendEvents sends n events, ids prefix and a number, apiInFlight at a
// time, and returns how long it took.
func sendEvents(ctx context.Context, n int, prefix string, send func(context.Context, string) error) (throughput, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, apiInFlight)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range apiInFlight {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				if err := send(ctx, prefix+strconv.FormatInt(i, 10)); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(drain(errs)...); err != nil {
		return throughput{}, err
	}
	return throughput{N: n, Seconds: time.Since(start).Seconds()}, nil
}

func drain(errs chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// deliveryCounter counts the results on a subject.
type deliveryCounter struct {
	sub     *nats.Subscription
	mu      sync.Mutex
	results int
	ok      int
	changed chan struct{}
}

// countDeliveries counts the results published on subject from now on.
func (b *bench) countDeliveries(subject string) *deliveryCounter {
	d := &deliveryCounter{changed: make(chan struct{}, 1)}
	d.sub, _ = b.nc.Subscribe(subject, func(m *nats.Msg) {
		var res struct {
			Outcome string `json:"outcome"`
		}
		_ = json.Unmarshal(m.Data, &res)
		d.mu.Lock()
		d.results++
		if res.Outcome == "delivered" {
			d.ok++
		}
		d.mu.Unlock()
		select {
		case d.changed <- struct{}{}:
		default:
		}
	})
	if d.sub != nil {
		_ = d.sub.SetPendingLimits(-1, -1)
		_ = b.nc.Flush()
	}
	return d
}

// wait waits until n results have come, or timeout.
func (d *deliveryCounter) wait(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		d.mu.Lock()
		got := d.results
		d.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-d.changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("deliveries: %d of %d results within %s", got, n, timeout)
		}
	}
}

func (d *deliveryCounter) delivered() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ok
}

func (d *deliveryCounter) stop() {
	if d.sub != nil {
		_ = d.sub.Unsubscribe()
	}
}

// apiFields are the HTTP API run's figures.
func (r *report) apiFields(f func(float64, int) string, ratio func(a, b float64) float64) []field {
	if r.o.APIEvents <= 0 || r.API.Events == 0 {
		return nil
	}
	a := r.API
	vs := ratio(a.HTTP.rate(), a.NATS.rate())
	const s = "http api"
	return []field{
		{s, "events per run (four runs a transport), requests in flight", "api_events", strconv.Itoa(a.Events)},
		{s, "", "api_in_flight", strconv.Itoa(apiInFlight)},
		{s, "events accepted/s: POST /api/v1/events / events.send over NATS", "api_http_eps", f(a.HTTP.rate(), 0)},
		{s, "", "api_nats_eps", f(a.NATS.rate(), 0)},
		{s, "HTTP / NATS (target ≥ 0.7)", "api_http_vs_nats", f(vs, 3)},
		{s, "target met", "api_target_met", strconv.FormatBool(vs >= 0.7)},
		{s, "deliveries of every run's events", "api_delivered", strconv.Itoa(a.Delivered)},
	}
}
