package e2e_test

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/hookworker/hookworker/internal/cli"
)

// workerProcess, set to 1 in its environment, makes the test binary run
// hookworker run instead of the tests: a worker in a process of its own,
// which a test can kill as a crash would (see startProcess).
const workerProcess = "E2E_HOOKWORKER_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(workerProcess) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		code := cli.Main(ctx, nil, strings.NewReader(""), io.Discard, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
