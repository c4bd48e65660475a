package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/job"
)

const slackHook = "https://hooks.slack.com/services/T0001/B0001/s3cr3tT0k"

func TestSendSlackFlags(t *testing.T) {
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS", Subjects: []string{"hooks.send"}})
	if err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": srv.ClientURL()})

	tests := []struct {
		name string
		args []string
		want string // the published slack object
	}{
		{"text", []string{"--text", "deployed *v1.2*"}, `{"text":"deployed *v1.2*"}`},
		{"type and text", []string{"--type", "slack", "--text", "hi"}, `{"text":"hi"}`},
		{"slack object", []string{"--slack", `{"blocks":[{"type":"divider"}],"unfurl_links":false}`},
			`{"blocks":[{"type":"divider"}],"unfurl_links":false}`},
		{"text into the object", []string{"--slack", `{"text":"old","thread_ts":"1712345678.123456"}`, "--text", "new"},
			`{"text":"new","thread_ts":"1712345678.123456"}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "slack-flags-" + string(rune('a'+i))
			args := append([]string{"send", "--id", id, "--url", slackHook}, tt.args...)
			code, out, errOut := mainOut(t, nil, args...)
			if code != cli.ExitOK || strings.TrimSpace(out) != id {
				t.Fatalf("send: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			m, err := stream.GetLastMsgForSubject(ctx, "hooks.send")
			if err != nil {
				t.Fatal(err)
			}
			j, err := job.Decode(m.Data, "")
			if err != nil || j.ID != id || j.Type != job.Slack {
				t.Fatalf("published job %s: %v", m.Data, err)
			}
			var got, want any
			if json.Unmarshal(j.Slack, &got) != nil || json.Unmarshal([]byte(tt.want), &want) != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("slack object %s, want %s", j.Slack, tt.want)
			}
		})
	}
}

func TestSendRefusesInvalidSlackJob(t *testing.T) {
	// No server is needed: the job is refused before anything connects.
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": "nats://127.0.0.1:1"})
	blocks := "[" + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]`
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no text, blocks or attachments", "", []string{"--url", slackHook, "--slack", `{"unfurl_links":true}`}, "needs text, blocks or attachments"},
		{"51 blocks", "", []string{"--url", slackHook, "--slack", `{"blocks":` + blocks + `}`}, "blocks has 51 blocks"},
		{"unknown key", `{"type":"slack","url":"` + slackHook + `","slack":{"txt":"hi"}}`, []string{"-"}, "txt is not supported"},
		{"not a webhook url", "", []string{"--url", "https://hooks.slack.com/workflows/s3cr3tT0k", "--text", "hi"}, "not a Slack webhook URL"},
		{"slack not an object", "", []string{"--url", slackHook, "--slack", `null`}, "--slack must be a JSON object"},
		{"text for a discord job", "", []string{"--url", slackHook, "--type", "discord", "--text", "hi"}, "for a job of type slack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdin io.Reader
			if tt.stdin != "" {
				stdin = strings.NewReader(tt.stdin)
			}
			code, out, errOut := mainOut(t, stdin, append([]string{"send"}, tt.args...)...)
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
