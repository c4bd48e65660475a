package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/cli"
)

// total is how many requests the receiver got.
func (rc *receiver) total() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, c := range rc.counts {
		n += c
	}
	return n
}

// jsonLines decodes each line of out.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

var secretRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{20,}`)

func TestEventCommands(t *testing.T) {
	rc, _ := runWorker(t)
	must := func(stdin string, args ...string) []map[string]any {
		t.Helper()
		var in *strings.Reader
		if stdin != "" {
			in = strings.NewReader(stdin)
		}
		var code int
		var out, errOut string
		if in != nil {
			code, out, errOut = mainOut(t, in, args...)
		} else {
			code, out, errOut = mainOut(t, nil, args...)
		}
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errOut)
		}
		if args[0] != "endpoint" || args[1] != "secret" {
			if secretRE.MatchString(out) {
				t.Fatalf("%v printed a secret: %s", args, out)
			}
		}
		return jsonLines(t, out)
	}
	exit := func(want int, args ...string) string {
		t.Helper()
		code, _, errOut := mainOut(t, nil, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d (stderr %s)", args, code, want, errOut)
		}
		return errOut
	}

	schema := `{"type":"object","required":["order"],"properties":{"order":{"type":"integer"}}}`
	got := must(schema, "event-type", "put", "order.created", "--description", "an order was placed", "--schema", "-")
	if got[0]["name"] != "order.created" || got[0]["description"] != "an order was placed" {
		t.Fatalf("put printed %v", got)
	}
	must("", "event-type", "put", "order.paid")
	exit(cli.ExitUsage, "event-type", "put", "order")                               // a bad name, refused before the API is asked
	exit(cli.ExitUsage, "event-type", "put", "order.x", "--schema", "/nonexistent") // a bad flag value
	exit(cli.ExitUsage, "event-type", "get")                                        // a missing argument
	exit(cli.ExitUsage, "event-type", "frobnicate")
	if got := must("", "event-type", "list"); len(got) != 2 {
		t.Fatalf("list printed %v", got)
	}
	must("", "event-type", "rm", "order.paid")
	if got := must("", "event-type", "list"); len(got) != 1 {
		t.Fatalf("list after rm printed %v", got)
	}
	if got := must("", "event-type", "list", "--archived"); len(got) != 2 {
		t.Fatalf("list --archived printed %v", got)
	}
	exit(cli.ExitFailure, "event-type", "get", "order.gone")

	ep := must("", "endpoint", "add", "--url", rc.URL+"/hook", "--id", "ep_a", "--event-type", "order.created",
		"--header", "X-Env: prod", "--metadata", `{"team":"a"}`)[0]
	if ep["id"] != "ep_a" || ep["headers"].(map[string]any)["X-Env"] != "prod" {
		t.Fatalf("add printed %v", ep)
	}
	must("", "endpoint", "add", "--url", "https://example.com/b", "--id", "ep_b", "--channel", "eu")
	exit(cli.ExitUsage, "endpoint", "add", "--id", "ep_c")
	exit(cli.ExitFailure, "endpoint", "add", "--url", "https://example.com/c", "--event-type", "order.nope")
	if got := must("", "endpoint", "list", "--asc"); len(got) != 2 || got[0]["id"] != "ep_a" {
		t.Fatalf("list --asc printed %v", got)
	}
	if got := must("", "endpoint", "list", "--channel", "us"); len(got) != 1 || got[0]["id"] != "ep_a" {
		t.Fatalf("list --channel us printed %v", got)
	}
	if got := must("", "endpoint", "list", "--limit", "1"); len(got) != 1 || got[0]["id"] != "ep_b" {
		t.Fatalf("list --limit 1 printed %v", got)
	}
	secret := must("", "endpoint", "secret", "ep_a")[0]["secret"].(string)
	must("", "endpoint", "rotate", "ep_a")
	if again := must("", "endpoint", "secret", "ep_a")[0]["secret"].(string); again == secret || !strings.HasPrefix(again, "whsec_") {
		t.Fatal("rotate did not change the secret")
	}
	if got := must("", "endpoint", "disable", "ep_b", "--reason", "maintenance"); got[0]["disabled"] != true || got[0]["disabled_reason"] != "maintenance" {
		t.Fatalf("disable printed %v", got)
	}
	if got := must("", "endpoint", "enable", "ep_b"); got[0]["disabled"] != false {
		t.Fatalf("enable printed %v", got)
	}
	must("", "endpoint", "rm", "ep_b")
	exit(cli.ExitFailure, "endpoint", "get", "ep_b")

	errOut := exit(cli.ExitFailure, "event", "send", "--type", "order.created", "--payload", `{"order":"one"}`)
	if !strings.Contains(errOut, "/order") {
		t.Fatalf("a payload breaking the schema: stderr %q does not name /order", errOut)
	}
	exit(cli.ExitFailure, "event", "send", "--type", "order.paid", "--payload", `{}`) // archived
	exit(cli.ExitUsage, "event", "send", "--payload", `{}`)
	exit(cli.ExitUsage, "event", "send", "--type", "order.created", "--payload", `{`)
	sent := must(`{"order":1}`, "event", "send", "--type", "order.created", "--id", "evt_1", "--payload", "-")[0]
	if sent["id"] != "evt_1" || sent["endpoints"] != float64(1) || sent["duplicate"] != nil {
		t.Fatalf("send printed %v", sent)
	}
	// The same id again, with another payload, is dropped and says so.
	code, out, errOut := mainOut(t, nil, "event", "send", "--type", "order.created", "--id", "evt_1", "--payload", `{"order":2}`)
	var again map[string]any
	_ = json.Unmarshal([]byte(out), &again)
	if code != cli.ExitOK || again["id"] != "evt_1" || again["timestamp"] != sent["timestamp"] || again["duplicate"] != true ||
		!strings.Contains(errOut, "evt_1 was sent before") {
		t.Fatalf("send again: exit %d, printed %s, stderr %q; want the first copy, a duplicate", code, out, errOut)
	}
	// The running worker fans the event out and delivers it.
	deadline := time.Now().Add(20 * time.Second)
	for rc.total() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if rc.total() != 1 {
		t.Fatalf("the endpoint got %d requests, want 1", rc.total())
	}
}
