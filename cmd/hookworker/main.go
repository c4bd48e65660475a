// Command hookworker delivers webhook, Discord and Slack jobs published on NATS
// JetStream. See `hookworker help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hookworker/hookworker/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
