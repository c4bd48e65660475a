package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/build"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/internal/metrics"
	"github.com/hookworker/hookworker/internal/tracing"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/proxies"
	"github.com/hookworker/hookworker/sender"
	"github.com/hookworker/hookworker/slack"
)

// run is `hookworker run`: load the configuration (a bad value exits 2
// before anything connects), build the parts and run the worker until ctx
// ends.
func run(ctx context.Context, stderr io.Writer) int {
	cfg, ok := loadConfig(stderr)
	if !ok {
		return ExitUsage
	}
	log, err := config.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker: %v\n", err)
		return ExitUsage
	}
	// Tracing is configured by the OTEL_ variables alone, and off without
	// an OTLP endpoint; the spans still buffered are exported on the way
	// out.
	tr, err := tracing.Setup(ctx, "hookworker", build.Version, log)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker: invalid configuration:\n%v\n", err)
		return ExitUsage
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(sctx); err != nil {
			log.Warn("export the last traces", "error", err)
		}
	}()
	// The HTTP API's address and credentials; the local quick start
	// makes them.
	settings, err := apiSettings(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker: invalid configuration:\n%v\n", err)
		return ExitUsage
	}
	// routes are what the HTTP API's address serves.
	routes := http.NewServeMux()
	m := metrics.New()
	scfg := cfg.SenderConfig()
	scfg.TracerProvider = tr.Provider()
	scfg.Observer = m
	scfg.Logger = log
	scfg.UserAgent = "hookworker/" + build.Version
	// Keep as many connections to a host as it may take jobs at once (all
	// the worker's slots but HostConcurrency, for a fast host): a request that finds none idle dials (and, over TLS, shakes
	// hands) again. Idle ones close after sender.IdleConnTimeout.
	scfg.MaxIdleConns = cfg.Concurrency
	scfg.MaxIdleConnsPerHost = max(cfg.HostConcurrency, cfg.Concurrency-cfg.HostConcurrency)
	list, err := cfg.ProxyList()
	if err != nil {
		fmt.Fprintf(stderr, "hookworker: invalid configuration:\n%v\n", err)
		return ExitUsage
	}
	if len(list) > 0 {
		scfg.Proxies = proxies.New(list, cfg.ProxyCooldown)
	}
	snd, err := sender.New(scfg)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker: invalid configuration:\n%v\n", err)
		return ExitUsage
	}
	defer snd.Close()
	dc := discord.New(snd, discord.Config{
		Username: cfg.DiscordUsername, AvatarURL: cfg.DiscordAvatarURL, Observer: m, Logger: log,
	})
	// All Slack webhooks share one host: a job whose webhook is busy for
	// longer than DEFER_AFTER is handed back rather than holding a slot.
	sc := slack.New(snd, slack.Config{
		Pacer: slack.NewPacer(slack.PacerConfig{
			Interval: cfg.SlackInterval, MaxWait: cfg.DeferAfter, Observer: m.SlackPacing(),
		}),
		Logger: log,
	})
	log.Info("hookworker starting", "version", build.Version, "proxies", len(list), "tracing", tr.On(), "config", cfg)
	for _, name := range config.Unknown() {
		log.Warn("unknown variable ignored; check its spelling in hookworker -h", "variable", name)
	}

	b, err := bus.Connect(bus.Config{
		URL: cfg.NATSURL, Creds: cfg.NATSCreds, EmbeddedListen: cfg.EmbeddedListen, EmbeddedDir: cfg.EmbeddedDir,
		Name: "hookworker", Replicas: cfg.Replicas, Logger: log,
	})
	if err != nil {
		log.Error("connect to nats", "error", err)
		return ExitFailure
	}
	defer b.Close()

	if cfg.HTTPAddr != "" {
		l, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			log.Error("listen for metrics", "http_addr", cfg.HTTPAddr, "error", err)
			return ExitFailure
		}
		handler := m.Handler(b.Ready)
		if settings.Addr == cfg.HTTPAddr {
			handler = withAPI(handler, routes)
		}
		srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "error", err)
			}
		}()
		log.Info("serving /metrics, /healthz and /readyz", "http_addr", l.Addr().String())
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}

	topo := bus.Topology{
		Subject: cfg.Subject, Stream: cfg.Stream, Durable: cfg.Durable,
		ResultSubject: cfg.ResultSubject, ResultStream: cfg.ResultStream, ResultMaxAge: cfg.ResultMaxAge,
		AckWait: cfg.AckWait, StateTTL: stateTTL(cfg),
	}
	bound, err := b.Ensure(ctx, topo)
	if err != nil {
		if canceled(ctx, err) {
			log.Info("stopped before jetstream was ready")
			return ExitOK
		}
		log.Error("set up jetstream", "error", err)
		return ExitFailure
	}
	cat, svc, stopEvents, err := startEvents(ctx, b, cfg, tr.Provider(), settings.Tokens, log)
	if err != nil {
		log.Error("start the event api and fan-out", "error", err)
		return ExitFailure
	}
	defer stopEvents()
	stopAPI, err := serveAPI(settings, cfg.HTTPAddr, routes, svc, log)
	if err != nil {
		log.Error("start the http api", "error", err)
		return ExitFailure
	}
	defer stopAPI()
	limiter, gate, err := deliveryPolicy(ctx, b, cfg)
	if err != nil {
		log.Error("start the endpoints' delivery policy", "error", err)
		return ExitFailure
	}
	defer gate.Close()
	webhooks, err := endpoint.New(endpoint.Config{
		Catalog: cat, Send: snd.Send, Schedule: cfg.RetrySchedule, DisableAfter: cfg.DisableAfter, AlertAfter: cfg.AlertAfter, Logger: log,
		MaxTimeout: cfg.Timeout, MaxSchedule: maxSchedule(cfg), TokenClient: snd.Client(), Limiter: limiter, Gate: gate,
	})
	if err != nil {
		log.Error("start event delivery", "error", err)
		return ExitFailure
	}
	// The delivery log: records are published asynchronously, so no
	// delivery waits for them; those pending are flushed on the way out.
	rec, err := attempt.NewRecorder(b.Conn(), attempt.RecorderConfig{
		Mode: attempt.Mode(cfg.AttemptLog), Registerer: m.Registry(), Logger: log,
	})
	if err != nil {
		log.Error("start the delivery log", "error", err)
		return ExitFailure
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rec.Close(fctx); err != nil {
			log.Warn("delivery log records still pending at exit", "error", err)
		}
	}()
	var onAttempt func(*job.Job, sender.Attempt)
	if rec.Mode() != attempt.Off {
		onAttempt = rec.Observe
	}
	w, err := consumer.New(consumer.Options{
		JetStream: b.JetStream(), Consumer: bound.Consumer, State: bound.State, Metrics: m,
		// Every job type's Deliverer, registered here and nowhere else.
		Deliverers: map[job.Type]consumer.Deliverer{
			job.Webhook: webhooks.Prepare, // plain and event jobs
			job.Discord: dc.Prepare,
			job.Slack:   sc.Prepare,
		},
		OnAttempt: onAttempt, TracerProvider: tr.Provider(),
		Concurrency: cfg.Concurrency, HostConcurrency: cfg.HostConcurrency,
		AckWait: cfg.AckWait, ShutdownTimeout: cfg.ShutdownTimeout, MaxRedeliveries: cfg.MaxRedeliveries,
		ResultSubject: cfg.ResultSubject, EndpointSubject: bus.EndpointSubject(cfg.Subject), Logger: log,
		Limits: consumer.Limits{Timeout: scfg.Timeout, MaxRetries: scfg.MaxRetries, MaxProxyRetries: scfg.MaxProxyRetries,
			MaxSchedule: maxSchedule(cfg)},
		Rebind: func(ctx context.Context) (jetstream.Consumer, error) {
			bound, err := b.Ensure(ctx, topo)
			return bound.Consumer, err
		},
		Link: b.Link, Outage: b.Outage,
	})
	if err != nil {
		log.Error("start the worker", "error", err)
		return ExitFailure
	}
	log.Info("worker running", "concurrency", cfg.Concurrency, "host_concurrency", cfg.HostConcurrency)
	w.Run(ctx)
	log.Info("hookworker stopped")
	return ExitOK
}
