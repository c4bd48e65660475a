package cli_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookworker/hookworker/internal/cli"
)

// countingServer is a TCP listener that counts the connections made to it
// and closes each at once: a NATS URL nothing can connect through.
func countingServer(t *testing.T) (url string, dials *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dials = new(atomic.Int64)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			conn.Close()
		}
	}()
	return "nats://" + ln.Addr().String(), dials
}

// TestBadFlagsConnectToNothing runs every event command with a bad flag or
// argument against a server that cannot be used: each exits 2 naming the
// problem, before it connects.
func TestBadFlagsConnectToNothing(t *testing.T) {
	url, dials := countingServer(t)
	env := baseEnv(url)
	setEnv(t, env)

	t.Run("a good command connects", func(t *testing.T) { // the positive control
		code, _, errOut := mainOut(t, nil, "endpoint", "get", "ep_1")
		if code != cli.ExitFailure || !strings.Contains(errOut, "connect to nats") {
			t.Fatalf("exit %d, stderr %s; want 1 and a connection error", code, errOut)
		}
		if dials.Load() == 0 {
			t.Fatal("the good command did not dial the server")
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"event send without a payload", []string{"event", "send", "--type", "x"}, "--payload is required"},
		{"event send without a type", []string{"event", "send", "--payload", "{}"}, "--type is required"},
		{"event send with a bad type", []string{"event", "send", "--type", "x", "--payload", "{}"}, `--type "x"`},
		{"event send with a payload not JSON", []string{"event", "send", "--type", "order.created", "--payload", "{"}, "--payload must be JSON"},
		{"event send with a bad id", []string{"event", "send", "--type", "order.created", "--payload", "{}", "--id", "a b"}, "--id"},
		{"event send with a bad channel", []string{"event", "send", "--type", "order.created", "--payload", "{}", "--channel", "a b"}, "--channel"},
		{"event send with payload from no input", []string{"event", "send", "--type", "order.created", "--payload", "-"}, "no standard input"},
		{"event send with an unknown flag", []string{"event", "send", "--colour", "red"}, "-colour"},
		{"event resend without an endpoint", []string{"event", "resend", "evt_1"}, "--endpoint is required"},
		{"event resend with a bad endpoint", []string{"event", "resend", "evt_1", "--endpoint", "a/b"}, "--endpoint"},
		{"event resend with a bad event id", []string{"event", "resend", "a/b", "--endpoint", "ep_1"}, "event id"},
		{"event with an unknown subcommand", []string{"event", "publish"}, "unknown subcommand"},
		{"event-type put with a bad name", []string{"event-type", "put", "order"}, `"order"`},
		{"event-type put with a missing schema file", []string{"event-type", "put", "order.created", "--schema", "no-such-file.json"}, "--schema"},
		{"event-type get without a name", []string{"event-type", "get"}, "takes 1 argument"},
		{"event-type rm with a bad name", []string{"event-type", "rm", "a b.c"}, "event type"},
		{"event-type list with an argument", []string{"event-type", "list", "all"}, "takes 0 argument"},
		{"endpoint add without a url", []string{"endpoint", "add"}, "--url is required"},
		{"endpoint add with a relative url", []string{"endpoint", "add", "--url", "/hook"}, "--url must be"},
		{"endpoint add with a bad id", []string{"endpoint", "add", "--url", "https://example.com/", "--id", "a b"}, "--id"},
		{"endpoint add with metadata not JSON", []string{"endpoint", "add", "--url", "https://example.com/", "--metadata", "{"}, "--metadata must be JSON"},
		{"endpoint add with a bad secret", []string{"endpoint", "add", "--url", "https://example.com/", "--secret", "hunter2"}, "--secret"},
		{"endpoint add with a bad header", []string{"endpoint", "add", "--url", "https://example.com/", "--header", "nocolon"}, "-header"},
		{"endpoint list with a negative limit", []string{"endpoint", "list", "--limit", "-1"}, "--limit must not be negative"},
		{"endpoint get with a bad id", []string{"endpoint", "get", "a/b"}, "endpoint id"},
		{"endpoint secret with a bad id", []string{"endpoint", "secret", "a b"}, "endpoint id"},
		{"endpoint rotate with a bad secret", []string{"endpoint", "rotate", "ep_1", "--secret", "hunter2"}, "--secret"},
		{"endpoint rm with two ids", []string{"endpoint", "rm", "ep_1", "ep_2"}, "takes 1 argument"},
		{"endpoint disable with a bad id", []string{"endpoint", "disable", "a b"}, "endpoint id"},
		{"endpoint enable with a bad id", []string{"endpoint", "enable", "a b"}, "endpoint id"},
		{"endpoint recover without since", []string{"endpoint", "recover", "ep_1"}, "--since is required"},
		{"endpoint recover with a bad since", []string{"endpoint", "recover", "ep_1", "--since", "yesterday"}, "-since"},
		{"endpoint recover with until before since", []string{"endpoint", "recover", "ep_1", "--since", "1h", "--until", "2h"}, "--until must be after --since"},
		{"endpoint recover with since in the future", []string{"endpoint", "recover", "ep_1", "--since", "2999-01-01T00:00:00Z"}, "--since 2999-01-01T00:00:00Z is in the future"},
		{"attempts with a bad outcome", []string{"attempts", "--outcome", "lost"}, "--outcome"},
		{"attempts with since and after", []string{"attempts", "--since", "1h", "--after", "2026-01-01T00:00:00Z"}, "--since and --after"},
		{"attempts with a negative limit", []string{"attempts", "--limit", "-1"}, "--limit"},
		{"attempts with an argument", []string{"attempts", "ep_1"}, "takes no arguments"},
		{"listen with a bad id", []string{"listen", "--endpoint", "a b"}, "--endpoint"},
		{"listen with a bad secret", []string{"listen", "--secret", "hunter2"}, "--secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dials.Load()
			code, out, errOut := mainOut(t, nil, tc.args...)
			if code != cli.ExitUsage {
				t.Fatalf("exit %d, want %d (stderr %s)", code, cli.ExitUsage, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not name %q", errOut, tc.want)
			}
			if strings.Contains(errOut, "connect") || out != "" {
				t.Errorf("stdout %q, stderr %q: want nothing done", out, errOut)
			}
			if n := dials.Load() - before; n != 0 {
				t.Errorf("it dialled the server %d time(s)", n)
			}
		})
	}
}

// TestRecoverSinceInTheFuture checks that recover with a --since in the
// future and no --until blames --since, not the --until it was not given.
func TestRecoverSinceInTheFuture(t *testing.T) {
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": "nats://127.0.0.1:1"})
	code, _, errOut := mainOut(t, nil, "endpoint", "recover", "ep_1", "--since", "2999-01-01T00:00:00Z")
	if code != cli.ExitUsage || !strings.Contains(errOut, "--since") || strings.Contains(errOut, "until") {
		t.Errorf("exit %d, stderr %q; want %d, naming --since and not --until", code, errOut, cli.ExitUsage)
	}
}
