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
	"github.com/hookworker/hookworker/job"
)

func TestSendWaitDuplicatePrintsStoredResult(t *testing.T) {
	rc, _ := runWorker(t)

	args := []string{"send", "--wait", "--timeout", "20s", "--id", "dup-1", "--url", rc.URL, "--payload", `{"n":1}`}
	code, first, errOut := mainOut(t, nil, args...)
	if code != cli.ExitOK {
		t.Fatalf("first send: exit %d\nstdout %s\nstderr %s", code, first, errOut)
	}
	// The same job again, within the duplicate window: JetStream drops it,
	// and --wait prints the result the first copy already has.
	args[3] = "5s"
	code, second, errOut := mainOut(t, nil, args...)
	if code != cli.ExitOK {
		t.Fatalf("second send: exit %d\nstdout %s\nstderr %s", code, second, errOut)
	}
	if !strings.Contains(errOut, "published before") {
		t.Errorf("second send did not say the job was a duplicate: %s", errOut)
	}
	var a, b job.Result
	if err := json.Unmarshal([]byte(first), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(second), &b); err != nil {
		t.Fatalf("second send printed %q: %v", second, err)
	}
	if b.ID != "dup-1" || b.Outcome != job.Delivered || !b.FinishedAt.Equal(a.FinishedAt) {
		t.Errorf("second send printed %+v, want the first result %+v", b, a)
	}
	if n := rc.count("dup-1"); n != 1 {
		t.Errorf("receiver saw the job %d times, want 1", n)
	}
}

func TestSendRefusesInvalidDiscordMessage(t *testing.T) {
	// No server is needed: the job is refused before anything connects.
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": "nats://127.0.0.1:1"})
	tests := []struct {
		name, job, want string
	}{
		{"unknown key", `{"type":"discord","url":"https://discord.com/api/webhooks/1/s3cr3tT0k","discord":{"contnet":"hi"}}`, `unknown field "contnet"`},
		{"over a limit", `{"type":"discord","url":"https://discord.com/api/webhooks/1/s3cr3tT0k","discord":{"content":"` + strings.Repeat("x", 2001) + `"}}`, "content"},
		{"not a webhook url", `{"type":"discord","url":"https://discord.com/channels/1/s3cr3tT0k","discord":{"content":"hi"}}`, "not a webhook URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := mainOut(t, strings.NewReader(tt.job), "send", "-")
			if code != cli.ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and an error containing %q", code, errOut, cli.ExitUsage, tt.want)
			}
			if out != "" {
				t.Errorf("printed %q for a refused job", out)
			}
			if strings.Contains(errOut, "s3cr3tT0k") {
				t.Errorf("the error shows the webhook token: %s", errOut)
			}
		})
	}
}

func TestSendJobFlags(t *testing.T) {
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send"}})
	if err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": srv.ClientURL()})

	code, out, errOut := mainOut(t, nil, "send", "--id", "flags-1", "--url", "https://example.com/hook",
		"--job-timeout", "5s", "--max-retries", "0", "--max-proxy-retries", "2")
	if code != cli.ExitOK || strings.TrimSpace(out) != "flags-1" {
		t.Fatalf("send: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	m, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	j, err := job.Decode(m.Data, "")
	if err != nil {
		t.Fatalf("published job %s: %v", m.Data, err)
	}
	if time.Duration(j.Timeout) != 5*time.Second || j.MaxRetries == nil || *j.MaxRetries != 0 ||
		j.MaxProxyRetries == nil || *j.MaxProxyRetries != 2 {
		t.Errorf("published job %s", m.Data)
	}
	if got := m.Header.Get(nats.MsgIdHdr); got != "flags-1" {
		t.Errorf("Nats-Msg-Id = %q, want the job id", got)
	}

	// Without the flags, the job leaves them to the worker.
	if code, _, errOut := mainOut(t, nil, "send", "--id", "flags-2", "--url", "https://example.com/hook"); code != cli.ExitOK {
		t.Fatalf("send: exit %d, stderr %q", code, errOut)
	}
	if m, err = stream.GetMsg(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m.Data), "timeout") || strings.Contains(string(m.Data), "retries") {
		t.Errorf("published job %s sets what no flag asked for", m.Data)
	}

	if code, _, errOut := mainOut(t, nil, "send", "--url", "https://example.com/hook", "--max-retries", "-1"); code != cli.ExitUsage || !strings.Contains(errOut, "max_retries") {
		t.Errorf("negative --max-retries: exit %d, stderr %q", code, errOut)
	}
}

func TestSendRefusesJobOverMaxPayload(t *testing.T) {
	srv := bustest.Server(t)
	nc, js := bustest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send"}})
	if err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": srv.ClientURL()})
	limit := int(nc.MaxPayload()) // the server's, 1 MiB by default
	jobOf := func(size int) string {
		const frame = `{"id":"big","url":"https://example.com/hook","payload":""}`
		return `{"id":"big","url":"https://example.com/hook","payload":"` + strings.Repeat("x", size-len(frame)) + `"}`
	}
	// The header block ("NATS/1.0", Nats-Msg-Id: big) counts too.
	const headers = len("NATS/1.0\r\n\r\n") + len("Nats-Msg-Id: big\r\n")

	code, out, errOut := mainOut(t, strings.NewReader(jobOf(limit-headers+1)), "send", "-")
	if code != cli.ExitUsage || !strings.Contains(errOut, "max_payload") || out != "" {
		t.Fatalf("one byte over: exit %d, stdout %q, stderr %q; want exit %d naming max_payload", code, out, errOut, cli.ExitUsage)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("stream after a refused job: %+v, %v; want nothing published", info, err)
	}

	code, out, errOut = mainOut(t, strings.NewReader(jobOf(limit-headers)), "send", "-")
	if code != cli.ExitOK || strings.TrimSpace(out) != "big" {
		t.Fatalf("at the limit: exit %d, stdout %q, stderr %q; want it published", code, out, errOut)
	}
}

func TestSendWarnsAboutUnknownVariables(t *testing.T) {
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send"}}); err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": srv.ClientURL(), "HOOKWORKER_TIMEOTU": "5s"})
	code, _, errOut := mainOut(t, nil, "send", "--url", "https://example.com/hook")
	if code != cli.ExitOK || !strings.Contains(errOut, "unknown variable HOOKWORKER_TIMEOTU") {
		t.Fatalf("exit %d, stderr %q; want the job sent and a warning naming HOOKWORKER_TIMEOTU", code, errOut)
	}
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": srv.ClientURL()})
	if code, _, errOut := mainOut(t, nil, "send", "--url", "https://example.com/hook"); code != cli.ExitOK || strings.Contains(errOut, "unknown variable") {
		t.Fatalf("exit %d, stderr %q; want no warning without a misspelt variable", code, errOut)
	}
}
