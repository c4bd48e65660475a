package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/internal/freeport"
)

// workerRole runs the hookworker command itself (cli.Main "run", exactly
// what the hookworker binary runs), configured by the HOOKWORKER_
// environment the bench sets, until standard input closes. It announces
// ready once the worker's /readyz answers 200, that is once it is connected
// and bound to its streams and consumer.
func workerRole([]string) error {
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	if err := os.Setenv("HOOKWORKER_HTTP_ADDR", addr); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() { exited <- cli.Main(ctx, []string{"run"}, strings.NewReader(""), io.Discard, os.Stderr) }()
	if err := waitReady(ctx, "http://"+addr+"/readyz", exited, 30*time.Second); err != nil {
		return err
	}
	err = serve(os.Stdin, os.Stdout, "", nil)
	cancel()
	if code := <-exited; code != cli.ExitOK && err == nil {
		err = fmt.Errorf("hookworker run exited with status %d", code)
	}
	return err
}

// waitReady polls url until it answers 200, the worker exits or wait ends.
func waitReady(ctx context.Context, url string, exited <-chan int, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case code := <-exited:
			return fmt.Errorf("hookworker run exited with status %d before it was ready", code)
		case <-ctx.Done():
			return fmt.Errorf("worker not ready: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
