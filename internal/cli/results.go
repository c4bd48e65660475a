package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/job"
)

// results is `hookworker results`: print stored results as JSON lines,
// oldest first; --follow keeps printing new ones until interrupted.
func results(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookworker results", flag.ContinueOnError)
	fs.SetOutput(stderr)
	follow := fs.Bool("follow", false, "keep printing new results until interrupted")
	id := fs.String("id", "", "print only the results of this job id")
	since := fs.Duration("since", 0, "print only results stored within this long, e.g. 1h")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: hookworker results [flags]\n\nPrints stored results as JSON lines, oldest first.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookworker results: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	if *since < 0 {
		fmt.Fprintf(stderr, "hookworker results: --since must be a positive duration, got %s\n", *since)
		return ExitUsage
	}
	cfg, ok := loadConfig(stderr)
	if !ok {
		return ExitUsage
	}
	nc, err := connect(cfg, "hookworker results")
	if err != nil {
		fmt.Fprintf(stderr, "hookworker results: %v\n", err)
		return ExitFailure
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker results: %v\n", err)
		return ExitFailure
	}
	occ := jetstream.OrderedConsumerConfig{FilterSubjects: []string{cfg.ResultSubject}}
	if *since > 0 {
		start := time.Now().Add(-*since)
		occ.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		occ.OptStartTime = &start
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	stream, err := js.Stream(sctx, cfg.ResultStream)
	var info *jetstream.StreamInfo
	if err == nil {
		info, err = stream.Info(sctx)
	}
	var cons jetstream.Consumer
	if err == nil {
		cons, err = js.OrderedConsumer(sctx, cfg.ResultStream, occ)
	}
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "hookworker results: stream %s: %v\n", cfg.ResultStream, err)
		return ExitFailure
	}
	if !*follow && info.State.Msgs == 0 {
		return ExitOK
	}
	it, err := cons.Messages()
	if err != nil {
		fmt.Fprintf(stderr, "hookworker results: %v\n", err)
		return ExitFailure
	}
	defer it.Stop()
	// The end of ctx stops the iterator; no goroutine is left waiting for
	// it once the listing has ended.
	unwatch := context.AfterFunc(ctx, it.Stop)
	defer unwatch()
	var next []jetstream.NextOpt
	if !*follow {
		// Without --follow, a quiet stream (nothing since --since) ends the
		// listing.
		next = append(next, jetstream.NextMaxWait(2*time.Second))
	}
	for {
		msg, err := it.Next(next...)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ExitOK
			}
			if !*follow && errors.Is(err, nats.ErrTimeout) {
				return ExitOK
			}
			fmt.Fprintf(stderr, "hookworker results: %v\n", err)
			return ExitFailure
		}
		if *id == "" || msg.Headers().Get(job.HeaderJobID) == *id {
			fmt.Fprintln(stdout, string(msg.Data()))
		}
		if *follow {
			continue
		}
		meta, err := msg.Metadata()
		if err != nil || meta.NumPending == 0 || meta.Sequence.Stream >= info.State.LastSeq {
			return ExitOK
		}
	}
}
