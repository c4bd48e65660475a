package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/cli"
)

// TestTenantCommands runs the tenant commands, and --tenant on the
// endpoint, event and attempts commands, against a running worker: a
// tenant's event reaches its endpoint and not the operator's, the
// listings filter by tenant, and rm deletes the tenant's endpoints.
func TestTenantCommands(t *testing.T) {
	rc, _ := runWorker(t)
	must := func(args ...string) []map[string]any {
		t.Helper()
		code, out, errOut := mainOut(t, nil, args...)
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errOut)
		}
		return jsonLines(t, out)
	}
	exit := func(want int, args ...string) {
		t.Helper()
		if code, _, errOut := mainOut(t, nil, args...); code != want {
			t.Fatalf("%v: exit %d, want %d (stderr %s)", args, code, want, errOut)
		}
	}

	if got := must("tenant", "put", "--id", "acme", "--name", "Acme", "--metadata", `{"plan":"pro"}`); got[0]["id"] != "acme" || got[0]["name"] != "Acme" {
		t.Fatalf("put printed %v", got)
	}
	if got := must("tenant", "put", "--name", "Generated"); !strings.HasPrefix(got[0]["id"].(string), "tn_") {
		t.Fatalf("put without --id printed %v", got)
	}
	if got := must("tenant", "get", "acme"); got[0]["metadata"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("get printed %v", got)
	}
	if got := must("tenant", "list"); len(got) != 2 || got[0]["id"] != "acme" {
		t.Fatalf("list printed %v", got)
	}
	if got := must("tenant", "list", "--limit", "1"); len(got) != 1 {
		t.Fatalf("list --limit 1 printed %v", got)
	}
	exit(cli.ExitUsage, "tenant", "get", "a.b")                    // a bad id, refused before the API is asked
	exit(cli.ExitUsage, "tenant", "put", "--metadata", "{")        // not JSON
	exit(cli.ExitUsage, "tenant", "token", "acme", "--ttl", "25h") // past the longest
	exit(cli.ExitUsage, "endpoint", "add", "--url", rc.URL, "--tenant", "a b")
	exit(cli.ExitUsage, "attempts", "--tenant", "a b")
	exit(cli.ExitFailure, "tenant", "get", "initech")

	must("event-type", "put", "order.created")
	if got := must("endpoint", "add", "--url", rc.URL+"/acme", "--id", "ep_acme", "--tenant", "acme"); got[0]["tenant"] != "acme" {
		t.Fatalf("endpoint add --tenant printed %v", got)
	}
	must("endpoint", "add", "--url", rc.URL+"/own", "--id", "ep_own")
	exit(cli.ExitFailure, "endpoint", "add", "--url", rc.URL+"/x", "--tenant", "initech") // the API: no such tenant
	if got := must("endpoint", "list", "--tenant", "acme"); len(got) != 1 || got[0]["id"] != "ep_acme" {
		t.Fatalf("endpoint list --tenant acme printed %v", got)
	}
	exit(cli.ExitFailure, "event", "send", "--type", "order.created", "--payload", `{}`, "--tenant", "initech")
	if got := must("event", "send", "--type", "order.created", "--payload", `{}`, "--id", "evt_acme", "--tenant", "acme"); got[0]["endpoints"] != float64(1) {
		t.Fatalf("event send --tenant printed %v", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	var logged []map[string]any
	for time.Now().Before(deadline) {
		if logged = must("attempts", "--tenant", "acme"); len(logged) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(logged) != 1 || logged[0]["tenant"] != "acme" || logged[0]["endpoint"] != "ep_acme" {
		t.Fatalf("attempts --tenant acme printed %v", logged)
	}
	if rc.count("evt_acme") != 1 || rc.total() != 1 {
		t.Fatalf("the receiver got %d requests, %d of evt_acme; want the one to acme's endpoint", rc.total(), rc.count("evt_acme"))
	}
	must("endpoint", "recover", "ep_acme", "--since", "1h", "--tenant", "acme")
	exit(cli.ExitFailure, "endpoint", "recover", "ep_own", "--since", "1h", "--tenant", "acme") // not acme's

	if got := must("tenant", "rm", "acme"); got[0]["deleted"] != true {
		t.Fatalf("rm printed %v", got)
	}
	exit(cli.ExitFailure, "endpoint", "get", "ep_acme")
	must("endpoint", "get", "ep_own")
}
