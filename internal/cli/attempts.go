package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hookworker/hookworker/client"
)

// timeFlag is a time given as an RFC 3339 time or as a duration before now
// (6h: six hours ago).
type timeFlag struct {
	t   time.Time
	now func() time.Time
}

// String returns the time, RFC 3339.
func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

// Set reads an RFC 3339 time or a duration before now.
func (f *timeFlag) Set(v string) error {
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return errors.New("want a duration before now, e.g. 6h, or an RFC 3339 time")
		}
		now := time.Now
		if f.now != nil {
			now = f.now
		}
		f.t = now().Add(-d).UTC()
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return errors.New("want a duration before now, e.g. 6h, or an RFC 3339 time")
	}
	f.t = t.UTC()
	return nil
}

// attempts is `hookworker attempts`: print the delivery log's records the
// flags select, newest first, one JSON object a line.
func attempts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "hookworker attempts"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var q client.AttemptQuery
	var after, before, since timeFlag
	fs.StringVar(&q.Endpoint, "endpoint", "", "only the attempts to this endpoint id")
	fs.StringVar(&q.EventType, "event-type", "", "only the attempts of events of this type")
	fs.StringVar(&q.Channel, "channel", "", "only the attempts of events sent on this channel")
	fs.StringVar(&q.EventID, "event", "", "only the attempts of this event id")
	tenant, checkTenant := tenantFlag(fs, "only the attempts of this tenant's events")
	fs.StringVar(&q.Outcome, "outcome", "", "only the attempts with this outcome: delivered, retry or failed")
	fs.Var(&since, "since", "only the attempts recorded within this long, e.g. 6h (or since an RFC 3339 time)")
	fs.Var(&after, "after", "only the attempts recorded at or after this RFC 3339 time")
	fs.Var(&before, "before", "only the attempts recorded before this time (RFC 3339, or a duration ago)")
	limit := fs.Int("limit", 50, "print at most N attempts; 0 prints every one")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [--endpoint ID] [--event-type T] [--channel C] [--event ID] [--tenant ID] [--outcome O] [--since D | --after T] [--before T] [--limit N]\n\n", name)
		fmt.Fprintf(stderr, "Prints the delivery log, newest first, one JSON object a line, each with its event's payload.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "%s: takes no arguments, got %q\n", name, fs.Arg(0))
		return ExitUsage
	case !since.t.IsZero() && !after.t.IsZero():
		fmt.Fprintf(stderr, "%s: --since and --after are the same bound; give one\n", name)
		return ExitUsage
	case *limit < 0:
		fmt.Fprintf(stderr, "%s: --limit must not be negative\n", name)
		return ExitUsage
	case checkTenant() != nil:
		fmt.Fprintf(stderr, "%s: %v\n", name, checkTenant())
		return ExitUsage
	case q.Outcome != "" && q.Outcome != "delivered" && q.Outcome != "retry" && q.Outcome != "failed":
		fmt.Fprintf(stderr, "%s: --outcome must be delivered, retry or failed, got %q\n", name, q.Outcome)
		return ExitUsage
	}
	q.After, q.Before, q.Tenant = after.t, before.t, *tenant
	if !since.t.IsZero() {
		q.After = since.t
	}
	if *limit > 0 {
		q.Limit = min(*limit, 1000)
	}
	c, nc, code := dialAPI(name, stderr)
	if code != ExitOK {
		return code
	}
	defer nc.Close()
	if err := printAll(c.AllAttempts(ctx, q), *limit, json.NewEncoder(stdout)); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
	return ExitOK
}

// resendCommand is `hookworker event resend EVENT_ID --endpoint ID`.
func resendCommand(fs *flag.FlagSet) apiCheck {
	endpoint := fs.String("endpoint", "", "the endpoint id to send the event to (required)")
	return func(args []string, _ io.Reader) (apiAction, error) {
		if *endpoint == "" {
			return nil, errors.New("--endpoint is required")
		}
		if err := checkEventID("event id", args[0]); err != nil {
			return nil, err
		}
		if err := checkEndpointID("--endpoint", *endpoint); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
			id, err := c.Resend(ctx, args[0], *endpoint)
			if err != nil {
				return err
			}
			return out.Encode(map[string]string{"event_id": args[0], "endpoint": *endpoint, "job_id": id})
		}, nil
	}
}

// recoverCommand is `hookworker endpoint recover ID --since D [--until T]
// [--tenant ID]`.
func recoverCommand(fs *flag.FlagSet) apiCheck {
	var since, until timeFlag
	fs.Var(&since, "since", "recover the deliveries that failed within this long, e.g. 6h, or since an RFC 3339 time (required)")
	fs.Var(&until, "until", "and before this time (RFC 3339, or a duration ago; default: now)")
	tenant, checkTenant := tenantFlag(fs, "only when the endpoint is this tenant's (else it is not found)")
	return func(args []string, _ io.Reader) (apiAction, error) {
		if since.t.IsZero() {
			return nil, errors.New("--since is required")
		}
		if err := checkTenant(); err != nil {
			return nil, err
		}
		if err := checkEndpointID("endpoint id", args[0]); err != nil {
			return nil, err
		}
		if until.t.IsZero() && !since.t.Before(time.Now()) {
			return nil, fmt.Errorf("--since %s is in the future: give a duration ago, e.g. 6h, or a past RFC 3339 time", since.String())
		}
		if !until.t.IsZero() && !until.t.After(since.t) {
			return nil, errors.New("--until must be after --since")
		}
		return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
			n, err := c.RecoverTenant(ctx, *tenant, args[0], since.t, until.t)
			if err != nil {
				return err
			}
			return out.Encode(map[string]any{"id": args[0], "events": n})
		}, nil
	}
}
