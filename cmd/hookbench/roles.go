package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/internal/ratelimit"
	"github.com/hookworker/hookworker/internal/sleep"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/redact"
	"github.com/hookworker/hookworker/sender"
)

// runRole runs this process as one part of the benchmark (see child.go).
func runRole(role string, args []string) error {
	raiseFileLimit()
	switch role {
	case "nats":
		return natsRole(args)
	case "receiver":
		return receiverRole(args)
	case "httpload":
		return httpLoadRole(args)
	case "busload":
		return busLoadRole(args)
	case "worker":
		return workerRole(args)
	case "passer":
		return passerRole(args)
	case "otlpsink":
		return otlpSinkRole(args)
	}
	return fmt.Errorf("unknown role %q", role)
}

// raiseFileLimit lifts the soft open-file limit to the hard one: the slow
// run holds one connection per job in flight.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// natsRole runs a JetStream server on loopback with its store in -dir.
func natsRole(args []string) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	dir := fs.String("dir", "", "JetStream store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: *dir,
		NoSigs: true, MaxPayload: 8 << 20,
	})
	if err != nil {
		return err
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		return errors.New("nats server not ready after 10s")
	}
	return serve(os.Stdin, os.Stdout, srv.ClientURL(), nil)
}

// receiverCounts is what the receiver saw.
type receiverCounts struct {
	Requests     int64 `json:"requests"`
	PeakInFlight int64 `json:"peak_in_flight"`
	// InFlight is the number of requests under way.
	InFlight int64 `json:"in_flight"`
	// Conns counts the connections accepted.
	Conns int64 `json:"conns"`
}

// receiverRole answers every POST with 204: at once on /hook (but its first
// -cold requests, after -cold-delay), after -delay on /slow, after a
// millisecond on /ms; on /limited at once, keeping the time of every
// request (see limitedCounts).
func receiverRole(args []string) error {
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	delay := fs.Duration("delay", 200*time.Millisecond, "how long /slow takes to answer")
	cold := fs.Int64("cold", 0, "how many of the first requests on /hook answer after -cold-delay")
	coldDelay := fs.Duration("cold-delay", 500*time.Millisecond, "how long the first -cold requests on /hook take")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var requests, hooks, inFlight, peak, conns atomic.Int64
	var peakMu sync.Mutex
	handler := func(slow bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			if n > peak.Load() {
				peakMu.Lock()
				if n > peak.Load() {
					peak.Store(n)
				}
				peakMu.Unlock()
			}
			_, _ = io.Copy(io.Discard, r.Body)
			wait := *delay
			if !slow {
				wait = 0
				if hooks.Add(1) <= *cold {
					wait = *coldDelay
				}
			}
			if wait > 0 && !sleep.For(r.Context(), wait) {
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hook", handler(false))
	mux.Handle("POST /slow", handler(true))
	mux.HandleFunc("POST /ms", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if sleep.For(r.Context(), time.Millisecond) {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	var limited arrivals
	mux.HandleFunc("POST /limited", func(w http.ResponseWriter, r *http.Request) {
		limited.add(time.Now())
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}}
	go srv.Serve(ln)
	defer srv.Close()
	return serve(os.Stdin, os.Stdout, "http://"+ln.Addr().String(), map[string]command{
		"counts": func([]string) (string, error) {
			b, err := json.Marshal(receiverCounts{Requests: requests.Load(), PeakInFlight: peak.Load(), InFlight: inFlight.Load(), Conns: conns.Load()})
			return string(b), err
		},
		"resetcounts": func([]string) (string, error) {
			requests.Store(0)
			conns.Store(0)
			peak.Store(inFlight.Load())
			return "ok", nil
		},
		"limited": func([]string) (string, error) {
			b, err := json.Marshal(limited.counts())
			return string(b), err
		},
	})
}

// limitedCounts is what the receiver saw on /limited.
type limitedCounts struct {
	Requests int `json:"requests"`
	// MostInASecond is the most requests in one window of a second.
	MostInASecond int `json:"most_in_a_second"`
	// Seconds is from the first request to the last.
	Seconds float64 `json:"seconds"`
}

// arrivals keeps the times requests came, in order.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *arrivals) add(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, t)
}

func (a *arrivals) counts() limitedCounts {
	a.mu.Lock()
	defer a.mu.Unlock()
	slices.SortFunc(a.at, time.Time.Compare)
	c := limitedCounts{Requests: len(a.at), MostInASecond: ratelimit.MostInOneSecond(a.at)}
	if len(a.at) > 0 {
		c.Seconds = a.at[len(a.at)-1].Sub(a.at[0]).Seconds()
	}
	return c
}

// loadResult is what a ceiling load reports.
type loadResult struct {
	Done    int     `json:"done"`
	OK      int     `json:"ok"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// httpLoadRole posts -jobs requests to -url at -concurrency with the
// worker's own HTTP client (sender.New + Send), when told "run".
func httpLoadRole(args []string) error {
	fs := flag.NewFlagSet("httpload", flag.ContinueOnError)
	target := fs.String("url", "", "receiver URL")
	jobs := fs.Int("jobs", 1000, "requests to send")
	concurrency := fs.Int("concurrency", 64, "requests in flight")
	size := fs.Int("payload", 512, "payload bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := sender.New(sender.Config{
		Timeout:         15 * time.Second,
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	})
	if err != nil {
		return err
	}
	body := payload(*size)
	run := func([]string) (string, error) {
		var next, ok atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range *concurrency {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(*jobs) {
						return
					}
					r := s.Send(context.Background(), sender.Request{
						ID: "http-" + strconv.FormatInt(i, 10), URLs: []string{*target}, Body: body,
					})
					if r.OK {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		b, err := json.Marshal(loadResult{Done: *jobs, OK: int(ok.Load()), Seconds: time.Since(start).Seconds()})
		return string(b), err
	}
	return serve(os.Stdin, os.Stdout, "", map[string]command{"run": run})
}

// busLoadRole runs the worker's own consume and settle code (package
// consumer) on the same topology, with a sender that answers every job at
// once as a 204 would, without HTTP: -concurrency jobs in flight, each
// decoded, its result published and the job acknowledged, as the worker
// does.
func busLoadRole(args []string) error {
	fs := flag.NewFlagSet("busload", flag.ContinueOnError)
	natsURL := fs.String("nats", "", "NATS URL")
	prefix := fs.String("prefix", "bus", "subject and stream prefix")
	concurrency := fs.Int("concurrency", 64, "jobs in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := bus.Connect(bus.Config{URL: *natsURL, Name: "hookbench-busload"})
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	top := topology(*prefix)
	bound, err := b.Ensure(ctx, top)
	if err != nil {
		return err
	}
	w, err := consumer.New(consumer.Options{
		JetStream: b.JetStream(), Consumer: bound.Consumer, State: bound.State,
		Deliverers:  map[job.Type]consumer.Deliverer{job.Webhook: endpoint.Plain{Send: noSend{}.Send}.Prepare},
		Concurrency: *concurrency, AckWait: top.AckWait, ResultSubject: top.ResultSubject,
		FetchWait: 100 * time.Millisecond, Link: b.Link, Outage: b.Outage,
	})
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	err = serve(os.Stdin, os.Stdout, "", nil)
	cancel()
	<-done
	return err
}

// noSend answers every request as a receiver answering 204 at once would,
// without sending anything.
type noSend struct{}

func (noSend) Send(_ context.Context, req sender.Request) sender.Result {
	now := time.Now()
	r := sender.Result{OK: true, Outcome: sender.Delivered, Status: http.StatusNoContent,
		Attempts: req.Prior.Attempts + 1, StartedAt: now, FinishedAt: now}
	if len(req.URLs) > 0 {
		r.URL = redact.URL(req.URLs[0])
	}
	return r
}
