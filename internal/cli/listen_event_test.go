package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
)

// TestListenReceivesEvents sends an event through the API; the worker fans
// it out and delivers it to the endpoint listen registered, signed with the
// endpoint's own secret, and listen verifies and prints it.
func TestListenReceivesEvents(t *testing.T) {
	srv := bustest.Server(t)
	env := baseEnv(srv.ClientURL())
	// The worker-wide secret signs plain jobs only: an event delivery
	// signed with it does not verify at the endpoint.
	env["HOOKWORKER_SIGNING_SECRET"] = newWebhookSecret(t)
	start(t, env).waitLog(t, "worker running")
	setEnv(t, env)
	if code, _, errOut := mainOut(t, nil, "event-type", "put", "order.created"); code != cli.ExitOK {
		t.Fatalf("event-type put: exit %d: %s", code, errOut)
	}
	l := startListen(t, "--addr", "127.0.0.1:0", "--endpoint", "ep_local", "--event-type", "order.created")

	code, out, errOut := mainOut(t, nil, "event", "send", "--type", "order.created", "--id", "evt_listen", "--payload", `{"order":7}`)
	if code != cli.ExitOK {
		t.Fatalf("event send: exit %d: %s", code, errOut)
	}
	sent := jsonLines(t, out)[0]
	if sent["endpoints"] != float64(1) {
		t.Fatalf("event send printed %v, want it to go to the one endpoint", sent)
	}

	deadline := time.After(30 * time.Second)
	for strings.TrimSpace(l.stdout.String()) == "" {
		if strings.Contains(l.stderr.String(), "verification failed") {
			t.Fatalf("listen refused the delivery (403): it was not signed with the endpoint's secret:\n%s", l.stderr.String())
		}
		select {
		case <-deadline:
			t.Fatal("the event never reached listen")
		case <-time.After(20 * time.Millisecond):
		}
	}
	lines := jsonLines(t, l.stdout.String())
	if len(lines) != 1 {
		t.Fatalf("listen printed %d lines, want 1:\n%s", len(lines), l.stdout.String())
	}
	got := lines[0]
	data, _ := json.Marshal(got["data"])
	if got["webhook_id"] != "evt_listen" || got["type"] != "order.created" || string(data) != `{"order":7}` {
		t.Errorf("listen printed %v; want webhook_id evt_listen (the event id), type order.created, data {\"order\":7}", got)
	}
	ts, _ := time.Parse(time.RFC3339Nano, sent["timestamp"].(string))
	if printed, err := time.Parse(time.RFC3339Nano, got["timestamp"].(string)); err != nil || !printed.Equal(ts) {
		t.Errorf("listen printed timestamp %v, want the event's %v", got["timestamp"], sent["timestamp"])
	}
}
