package discord_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Prepare decodes and checks a Discord job before it takes a slot: a job
// Discord would refuse is rejected with nothing sent, its token never in
// the error; the send it returns delivers the others.
func TestPrepare(t *testing.T) {
	t.Parallel()
	fake := newFakeDiscord(t, 100, time.Minute)
	d := &countingSender{next: newSender(t)}
	c := discord.New(d, discord.Config{Username: "hookworker"})
	hook := fake.webhook(testID, testToken)
	tests := []struct {
		name, url, discord string
		want               string // the error; "" delivers
	}{
		{"content", hook, `{"content":"hi"}`, ""},
		{"wrong type", hook, `{"content":5}`, "discord: content: wrong type (number)"},
		{"not an object", hook, `[1]`, "discord: wrong type (array)"},
		{"empty", hook, `{}`, "discord: "},
		{"not a webhook url", fake.URL + "/api/hooks/" + testToken, `{"content":"hi"}`, "discord: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := d.calls.Load()
			j := &job.Job{ID: "j-" + strings.ReplaceAll(tt.name, " ", "-"), Type: job.Discord, URLs: []string{tt.url}, Discord: json.RawMessage(tt.discord)}
			send, err := c.Prepare(j)
			if tt.want != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.want) || send != nil {
					t.Fatalf("Prepare = %v, want an error starting %q and no send", err, tt.want)
				}
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("error %q holds the token", err)
				}
				if d.calls.Load() != before {
					t.Error("a rejected message was sent")
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			res := send(context.Background(), sender.Request{ID: j.ID, URLs: j.URLs})
			if res.Outcome != sender.Delivered {
				t.Fatalf("outcome %s (%s), want delivered", res.Outcome, res.Error)
			}
			reqs := fake.Requests()
			if got := reqs[len(reqs)-1].body(t); got["content"] != "hi" || got["username"] != "hookworker" {
				t.Errorf("sent %v, want the content with the default identity", got)
			}
		})
	}
}
