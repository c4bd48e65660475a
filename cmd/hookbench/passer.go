package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// passerRole reads every job of -stream as a worker with -concurrency
// slots would, and hands each back at once for a minute, without decoding
// it, recording anything or sending it: the least any worker can do with a
// job it does not deliver now. The mixed run uses it to measure what
// reading a slow host's jobs costs the machine, whoever reads them.
func passerRole(args []string) error {
	fs := flag.NewFlagSet("passer", flag.ContinueOnError)
	natsURL := fs.String("nats", "", "NATS URL")
	stream := fs.String("stream", "", "stream to read")
	batch := fs.Int("concurrency", 128, "jobs fetched at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	nc, err := nats.Connect(*natsURL, nats.Name("hookbench-passer"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cons, err := js.CreateOrUpdateConsumer(ctx, *stream, jetstream.ConsumerConfig{
		Durable: "passer", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxAckPending: -1,
	})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			msgs, err := cons.Fetch(*batch, jetstream.FetchMaxWait(100*time.Millisecond))
			if err != nil {
				continue
			}
			for msg := range msgs.Messages() {
				_ = msg.NakWithDelay(time.Minute)
			}
			if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	err = serve(os.Stdin, os.Stdout, "", nil)
	cancel()
	wg.Wait()
	return err
}
