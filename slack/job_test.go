package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
	"github.com/hookworker/hookworker/slack"
	"github.com/hookworker/hookworker/slack/slacktest"
)

func TestPrepare(t *testing.T) {
	fake := newFake(t, slacktest.Config{})
	d := &countingSender{next: newSender(t, nil)}
	c := slack.New(d, slack.Config{})
	hook := fake.WebhookURL("T1", "B1", "SECRETTOKEN")
	blocks := `[` + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]`

	for _, tc := range []struct {
		name  string
		url   string
		slack string
		want  string // the error's start; "" delivers
	}{
		{name: "text", url: hook, slack: `{"text":"hi"}`},
		{name: "blocks", url: hook, slack: `{"blocks":[{"type":"divider"}]}`},
		{name: "empty", url: hook, slack: `{}`, want: "slack: "},
		{name: "51 blocks", url: hook, slack: `{"blocks":` + blocks + `}`, want: "slack: blocks"},
		{name: "unknown key", url: hook, slack: `{"text":"hi","txet":"x"}`, want: "slack: txet is not supported"},
		{name: "wrong type", url: hook, slack: `{"text":1}`, want: "slack: text is a JSON number"},
		{name: "not a webhook url", url: fake.URL + "/hooks/SECRETTOKEN", slack: `{"text":"hi"}`, want: "slack: url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.calls.Load()
			j := &job.Job{ID: "j-" + strings.ReplaceAll(tc.name, " ", "-"), Type: job.Slack, URLs: []string{tc.url}, Slack: json.RawMessage(tc.slack)}
			send, err := c.Prepare(j)
			if tc.want != "" {
				var ie *slack.InvalidError
				if err == nil || !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("Prepare error = %v, want an *InvalidError starting %q", err, tc.want)
				}
				if strings.Contains(err.Error(), "SECRETTOKEN") {
					t.Errorf("error %q holds the token", err)
				}
				if send != nil || d.calls.Load() != before {
					t.Errorf("a rejected message was sent")
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
			got := reqs[len(reqs)-1]
			if string(got.Body) != tc.slack || got.Header.Get("webhook-signature") != "" {
				t.Errorf("sent %s (signature %q), want %s unsigned", got.Body, got.Header.Get("webhook-signature"), tc.slack)
			}
		})
	}
}

func TestPrepareFailedCode(t *testing.T) {
	fake := newFake(t, slacktest.Config{})
	c := slack.New(newSender(t, nil), slack.Config{})
	j := &job.Job{ID: "j", Type: job.Slack, URLs: []string{fake.WebhookURL("T1", "B1", "SECRETTOKEN")}, Slack: json.RawMessage(`{"text":"hi"}`)}
	send, err := c.Prepare(j)
	if err != nil {
		t.Fatal(err)
	}
	fake.Fail(slack.CodeChannelIsArchived)
	res := send(context.Background(), sender.Request{ID: j.ID, URLs: j.URLs})
	if res.Outcome != sender.Failed || res.Status != 410 || !strings.HasSuffix(res.Error, ": channel_is_archived") {
		t.Errorf("result %s %d %q, want failed 410 ending in the code", res.Outcome, res.Status, res.Error)
	}
	if strings.Contains(res.URL, "SECRETTOKEN") {
		t.Errorf("result URL %q holds the token", res.URL)
	}
}

// TestPrepareRetryAfterHeaderOnly: a 429's wait is Slack's Retry-After
// header; a retry_after in the body (Discord's way) is not Slack's and is
// not read.
func TestPrepareRetryAfterHeaderOnly(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.050")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"retry_after": 3600}`)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	c := slack.New(newSender(t, nil), slack.Config{})
	j := &job.Job{ID: "j", Type: job.Slack, URLs: []string{srv.URL + "/services/T1/B1/tok"}, Slack: json.RawMessage(`{"text":"hi"}`)}
	send, err := c.Prepare(j)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := send(ctx, sender.Request{ID: j.ID, URLs: j.URLs})
	if res.Outcome != sender.Delivered || res.Attempts != 2 {
		t.Errorf("result %s after %d attempts (%s), want delivered after the header's 50ms", res.Outcome, res.Attempts, res.Error)
	}
}
