// Package cli is hookworker's command line: run the worker, publish a job,
// read results, manage event types, endpoints and tenants, send events,
// read the delivery log, listen for webhooks, show the version and the
// help. Main holds all of it, so that tests drive the real commands
// in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/internal/build"
)

// Exit statuses.
const (
	// ExitOK: the command did what was asked (send --wait: the job was
	// delivered).
	ExitOK = 0
	// ExitFailure: the command failed at run time (send --wait: the job was
	// not delivered).
	ExitFailure = 1
	// ExitUsage: a bad flag, argument or variable; nothing was done.
	ExitUsage = 2
)

// Main runs the command in args (without the program name) until it is done
// or ctx ends, and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, rest := "run", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "run":
		if len(rest) > 0 {
			if isHelp(rest[0]) {
				usage(stdout)
				return ExitOK
			}
			fmt.Fprintf(stderr, "hookworker: run takes no arguments, got %q\n", rest[0])
			return ExitUsage
		}
		return run(ctx, stderr)
	case "send":
		return send(ctx, rest, stdin, stdout, stderr)
	case "results":
		return results(ctx, rest, stdout, stderr)
	case "event-type":
		return apiGroup(ctx, cmd, eventTypeCommands, eventTypeOrder, rest, stdin, stdout, stderr)
	case "endpoint":
		return apiGroup(ctx, cmd, endpointCommands, endpointOrder, rest, stdin, stdout, stderr)
	case "event":
		return apiGroup(ctx, cmd, eventCommands, eventOrder, rest, stdin, stdout, stderr)
	case "tenant":
		return apiGroup(ctx, cmd, tenantCommands, tenantOrder, rest, stdin, stdout, stderr)
	case "listen":
		return listen(ctx, rest, stdout, stderr)
	case "attempts":
		return attempts(ctx, rest, stdout, stderr)
	case "version":
		if len(rest) > 0 && isHelp(rest[0]) {
			usage(stdout)
			return ExitOK
		}
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "hookworker: version takes no arguments, got %q\n", rest[0])
			return ExitUsage
		}
		fmt.Fprintf(stdout, "hookworker %s\n", build.Version)
		return ExitOK
	case "help":
		return help(ctx, rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "hookworker: unknown command %q\n\n", cmd)
		usage(stderr)
		return ExitUsage
	}
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// help writes the usage of the command named in args, or of them all, to
// stdout.
func help(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		fmt.Fprintf(stderr, "hookworker: help takes at most one command, got %q\n", args)
		return ExitUsage
	}
	topic := ""
	if len(args) == 1 {
		topic = args[0]
	}
	switch topic {
	case "", "run", "version", "help":
		usage(stdout)
		return ExitOK
	case "send":
		return send(ctx, []string{"-h"}, nil, stdout, stdout)
	case "results":
		return results(ctx, []string{"-h"}, stdout, stdout)
	case "event-type", "endpoint", "event", "tenant":
		return Main(ctx, []string{topic, "-h"}, nil, stdout, stdout)
	case "listen":
		return listen(ctx, []string{"-h"}, stdout, stdout)
	case "attempts":
		return attempts(ctx, []string{"-h"}, stdout, stdout)
	default:
		fmt.Fprintf(stderr, "hookworker: no command %q; commands: run, send, results, event-type, endpoint, event, tenant, attempts, listen, version\n", topic)
		return ExitUsage
	}
}

// usage writes every command and every variable with its default.
func usage(w io.Writer) {
	fmt.Fprint(w, `hookworker delivers webhook, Discord and Slack jobs from NATS JetStream.

Usage:
  hookworker [run]            run the worker until SIGINT or SIGTERM
  hookworker send ...         publish one job and print its id
  hookworker results ...      print stored results as JSON lines
  hookworker event-type put|get|rm|list ...
                              manage event types
  hookworker endpoint add|list|get|secret|rotate|rm|disable|enable|recover ...
                              manage endpoints and their secrets, send failed
                              deliveries again
  hookworker event send|resend ...
                              send an event, or one again to one endpoint
  hookworker tenant put|get|list|rm|token ...
                              manage tenants (the operator's customers, each
                              with its own endpoints and events), mint a
                              tenant's API token
  hookworker attempts ...     print the delivery log, newest first
  hookworker listen ...       a local receiver for development: register an
                              endpoint, print every verified webhook as a JSON line
  hookworker version          print the version
  hookworker help [COMMAND]   print this help, or a command's flags
                              (as "hookworker COMMAND -h" does)

Exit status: 0 done (send --wait: delivered), 1 failed at run time (send --wait:
not delivered), 2 a bad flag, argument or variable (nothing was done).

Tracing (OpenTelemetry, OTLP over HTTP) is off unless OTEL_EXPORTER_OTLP_ENDPOINT
or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; the standard OTEL_ variables apply.

Configuration (environment):
`)
	config.Usage(w)
}

// loadConfig loads the configuration, printing the problem on failure.
func loadConfig(stderr io.Writer) (config.Config, bool) {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "hookworker: invalid configuration:\n%v\n", err)
		return config.Config{}, false
	}
	return cfg, true
}

// isTerminal reports whether r is a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// canceled reports whether err is the end of ctx.
func canceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
