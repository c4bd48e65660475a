package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/internal/syncbuf"
	"github.com/hookworker/hookworker/job"
)

// resultStream creates the result stream on the server at url and returns a
// function that publishes a result for id on it, as the worker does.
func resultStream(t *testing.T, url string) func(id string) {
	t.Helper()
	_, js := bustest.Connect(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS_RESULTS", Subjects: []string{"hooks.result"}}); err != nil {
		t.Fatal(err)
	}
	return func(id string) {
		t.Helper()
		r := job.Result{ID: id, Type: job.Webhook, OK: true, Outcome: job.Delivered, Status: 204, Attempts: 1,
			StartedAt: time.Now(), FinishedAt: time.Now()}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg("hooks.result")
		msg.Data = data
		msg.Header.Set(nats.MsgIdHdr, id)
		msg.Header.Set(job.HeaderJobID, id)
		msg.Header.Set(job.HeaderOutcome, string(r.Outcome))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
}

// ids returns the ids of the JSON result lines in out.
func ids(t *testing.T, out string) []string {
	t.Helper()
	var list []string
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r job.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("results printed %q, not a result: %v", line, err)
		}
		list = append(list, r.ID)
	}
	return list
}

func TestResultsFollow(t *testing.T) {
	srv := bustest.Server(t)
	publish := resultStream(t, srv.ClientURL())
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": srv.ClientURL()})
	publish("stored-1")

	tests := []struct {
		name string
		args []string
		want []string // ids printed, in order
	}{
		{"every result", []string{"results", "--follow"}, []string{"stored-1", "new-1", "new-2"}},
		{"one job id", []string{"results", "--follow", "--id", "new-2"}, []string{"new-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
			done := make(chan int, 1)
			go func() { done <- cli.Main(ctx, tt.args, nil, stdout, stderr) }()

			if tt.name == "every result" {
				waitFor(t, "the stored result", func() bool { return strings.Contains(stdout.String(), `"stored-1"`) })
				publish("new-1")
				publish("new-2")
			}
			waitFor(t, "the new results", func() bool { return strings.Contains(stdout.String(), `"new-2"`) })
			select {
			case code := <-done:
				t.Fatalf("results --follow exited (%d) instead of waiting for more; stderr: %s", code, stderr.String())
			default:
			}
			cancel()
			select {
			case code := <-done:
				if code != cli.ExitOK {
					t.Errorf("exit %d after interruption, want %d; stderr: %s", code, cli.ExitOK, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("results --follow did not stop when its context ended")
			}
			if got := ids(t, stdout.String()); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("printed %v, want %v", got, tt.want)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
