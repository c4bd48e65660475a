package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/cli"
)

func TestAttemptCommands(t *testing.T) {
	rc, _ := runWorker(t)
	run := func(want int, args ...string) []map[string]any {
		t.Helper()
		code, out, errOut := mainOut(t, nil, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d (stderr %s)", args, code, want, errOut)
		}
		return jsonLines(t, out)
	}
	run(cli.ExitOK, "event-type", "put", "order.created")
	run(cli.ExitOK, "endpoint", "add", "--url", rc.URL+"/hook", "--id", "ep_a")
	run(cli.ExitOK, "event", "send", "--type", "order.created", "--id", "evt_1", "--payload", `{"order":1}`)
	waitRequests(t, rc, 1)

	got := run(cli.ExitOK, "event", "resend", "evt_1", "--endpoint", "ep_a")
	if got[0]["event_id"] != "evt_1" || got[0]["endpoint"] != "ep_a" || got[0]["job_id"] == "" {
		t.Fatalf("resend printed %v", got)
	}
	waitRequests(t, rc, 2)
	if got := run(cli.ExitOK, "endpoint", "recover", "ep_a", "--since", "1h"); got[0]["id"] != "ep_a" || got[0]["events"] != float64(0) {
		t.Fatalf("recover printed %v", got)
	}

	// The worker records both deliveries; records are stored
	// asynchronously, so they may come after the requests.
	deadline := time.Now().Add(20 * time.Second)
	for len(run(cli.ExitOK, "attempts")) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got = run(cli.ExitOK, "attempts", "--endpoint", "ep_a", "--since", "1h")
	if len(got) != 2 || got[0]["job_id"] == "evt_1:ep_a" || got[1]["job_id"] != "evt_1:ep_a" {
		t.Fatalf("attempts printed %v, want the resend's attempt, then the first delivery's", got)
	}
	for _, a := range got {
		h, _ := a["request_headers"].(map[string]any)
		if a["outcome"] != "delivered" || a["status"] != float64(204) || a["event_id"] != "evt_1" ||
			a["payload"].(map[string]any)["order"] != float64(1) || h["webhook-id"] != "evt_1" || h["webhook-signature"] != "[redacted]" {
			t.Errorf("attempt %v", a)
		}
	}
	if got := run(cli.ExitOK, "attempts", "--limit", "1"); len(got) != 1 || got[0]["job_id"] == "evt_1:ep_a" {
		t.Fatalf("attempts --limit 1 printed %v, want the resend's attempt", got)
	}
	if got := run(cli.ExitOK, "attempts", "--outcome", "delivered", "--event-type", "order.created"); len(got) != 2 {
		t.Fatalf("attempts --outcome delivered printed %v", got)
	}
	if got := run(cli.ExitOK, "attempts", "--outcome", "failed"); len(got) != 0 {
		t.Fatalf("attempts --outcome failed printed %v", got)
	}
	if got := run(cli.ExitOK, "attempts", "--before", "1h"); len(got) != 0 {
		t.Fatalf("attempts --before 1h printed %v", got)
	}

	run(cli.ExitUsage, "attempts", "--since", "1h", "--after", "2026-01-01T00:00:00Z")
	run(cli.ExitUsage, "attempts", "--since", "yesterday")
	run(cli.ExitUsage, "attempts", "extra")
	run(cli.ExitUsage, "attempts", "--outcome", "lost") // a bad flag, refused before the API is asked
	run(cli.ExitUsage, "event", "resend", "evt_1")
	run(cli.ExitFailure, "event", "resend", "evt_9", "--endpoint", "ep_a")
	run(cli.ExitUsage, "endpoint", "recover", "ep_a")
	run(cli.ExitFailure, "endpoint", "recover", "ep_9", "--since", "1h")
}

// waitRequests waits until the receiver got n requests.
func waitRequests(t *testing.T, rc *receiver, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for rc.total() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if rc.total() != n {
		t.Fatalf("the receiver got %d requests, want %d", rc.total(), n)
	}
}

// The API commands fail the same way before they reach the API: a bad
// variable exits 2 naming it, an unreachable server exits 1.
func TestAPICommandsFailBeforeTheAPI(t *testing.T) {
	tests := []struct {
		args []string
		name string // the command's name in its messages
	}{
		{[]string{"attempts"}, "hookworker attempts"},
		{[]string{"endpoint", "get", "ep_1"}, "hookworker endpoint get"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" bad variable", func(t *testing.T) {
			env := baseEnv("nats://127.0.0.1:1")
			env["HOOKWORKER_ACK_WAIT"] = "soon"
			setEnv(t, env)
			code, _, errOut := mainOut(t, nil, tt.args...)
			if code != cli.ExitUsage || !strings.Contains(errOut, "HOOKWORKER_ACK_WAIT") {
				t.Fatalf("exit %d, stderr %s; want 2 naming the variable", code, errOut)
			}
		})
		t.Run(tt.name+" no server", func(t *testing.T) {
			setEnv(t, baseEnv("nats://127.0.0.1:1"))
			code, _, errOut := mainOut(t, nil, tt.args...)
			if want := tt.name + ": cannot reach NATS"; code != cli.ExitFailure || !strings.Contains(errOut, want) {
				t.Fatalf("exit %d, stderr %s; want 1 and %q", code, errOut, want)
			}
		})
	}
}
