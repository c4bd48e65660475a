package main

import (
	"context"
	"os"

	"github.com/hookworker/hookworker/bus"
	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/metrics"
	"github.com/hookworker/hookworker/sender"
)

// workerRole runs the real worker, configured from the HOOKWORKER_
// environment and assembled from the same parts as the hookworker command,
// until its standard input closes.
func workerRole([]string) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log, err := config.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	b, err := bus.Connect(bus.Config{URL: cfg.NATSURL, Creds: cfg.NATSCreds, Name: "hookbench-worker", Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bound, err := b.Ensure(ctx, bus.Topology{
		Subject: cfg.Subject, Stream: cfg.Stream, Durable: cfg.Durable,
		ResultSubject: cfg.ResultSubject, ResultStream: cfg.ResultStream, ResultMaxAge: cfg.ResultMaxAge,
		AckWait: cfg.AckWait, MaxAckPending: 2 * cfg.Concurrency,
	})
	if err != nil {
		return err
	}
	m := metrics.New()
	scfg := cfg.SenderConfig()
	scfg.Observer, scfg.Logger = m, log
	s, err := sender.New(scfg)
	if err != nil {
		return err
	}
	d := discord.New(s, discord.Config{Username: cfg.DiscordUsername, AvatarURL: cfg.DiscordAvatarURL, Logger: log})
	w := consumer.New(consumer.Config{
		Concurrency: cfg.Concurrency, HostConcurrency: cfg.HostConcurrency,
		AckWait: cfg.AckWait, ShutdownTimeout: cfg.ShutdownTimeout, MaxRedeliveries: cfg.MaxRedeliveries,
		ResultSubject: cfg.ResultSubject, Limits: scfg, Logger: log,
	}, b.JetStream(), bound.Consumer, bound.State, s, d, m)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	err = serve(os.Stdin, os.Stdout, "", nil)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}
