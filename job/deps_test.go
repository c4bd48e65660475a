package job_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestWireLinksNoEngine checks that the wire types stand alone: a producer
// importing client, a receiver importing receiver, or either importing job,
// links no part of the delivery engine (no HTTP retry loop, no consumer,
// no proxies, no Discord or Slack client) and no NATS server.
func TestWireLinksNoEngine(t *testing.T) {
	t.Parallel()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies with")
	}
	const module = "github.com/hookworker/hookworker"
	wire := []string{module + "/job", module + "/client", module + "/receiver"}
	engine := []string{
		module + "/sender", module + "/consumer", module + "/proxies", module + "/discord", module + "/slack",
		module + "/internal/endpoint", module + "/internal/fanout", module + "/internal/bus",
		"github.com/nats-io/nats-server",
	}
	for _, pkg := range wire {
		t.Run(strings.TrimPrefix(pkg, module+"/"), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(goCmd, "list", "-deps", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) == 0 {
				t.Fatalf("go list -deps %s listed nothing", pkg)
			}
			for _, dep := range deps {
				for _, e := range engine {
					if dep == e || strings.HasPrefix(dep, e+"/") {
						t.Errorf("%s links %s", pkg, dep)
					}
				}
			}
		})
	}
}
