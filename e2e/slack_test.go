package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/slack"
	"github.com/hookworker/hookworker/slack/slacktest"
)

// slackToken is the secret last segment of every webhook URL of the test;
// it must appear in no result and no line of the worker's log.
const slackToken = "SlackSecretTok3n0123456789"

// slackResult is the part of a published Slack result the test reads.
type slackResult struct {
	result
	URL string `json:"url"`
}

// slackWorker is a worker run for Slack jobs, with its producer.
type slackWorker struct {
	*worker
	js  jetstream.JetStream
	sub *nats.Subscription
	raw []string // every result published, as published
}

// publish publishes a Slack job to url with the slack object msg.
func (w *slackWorker) publish(t *testing.T, id, url, msg string) {
	t.Helper()
	data := fmt.Sprintf(`{"id":%q,"type":"slack","url":%q,"slack":%s}`, id, url, msg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.js.Publish(ctx, "hooks.send", []byte(data), jetstream.WithMsgID(id)); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
}

// results waits for the results of ids and returns them by id.
func (w *slackWorker) results(t *testing.T, ids ...string) map[string]slackResult {
	t.Helper()
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	got := make(map[string]slackResult, len(ids))
	for len(got) < len(ids) {
		msg, err := w.sub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %d more results: %v", len(ids)-len(got), err)
		}
		w.raw = append(w.raw, string(msg.Data))
		var r slackResult
		if err := json.Unmarshal(msg.Data, &r); err != nil {
			t.Fatalf("result %s: %v", msg.Data, err)
		}
		if !want[r.ID] {
			continue
		}
		if _, dup := got[r.ID]; dup {
			t.Errorf("two results for %s", r.ID)
		}
		got[r.ID] = r
	}
	return got
}

// TestSlackJobs runs Slack jobs through a worker against a fake Slack that
// answers as Slack does, with its pace shortened to 100ms a message (the
// worker's pacer likewise, through HOOKWORKER_SLACK_INTERVAL). The token of
// the webhooks appears in no result and no line of the worker's JSON log.
func TestSlackJobs(t *testing.T) {
	natsAddr := freeAddr(t)
	setEnv(t, map[string]string{
		"HOOKWORKER_NATS_URL":         "nats://" + natsAddr,
		"HOOKWORKER_ALLOWED_NETWORKS": "127.0.0.1/32",
		"HOOKWORKER_BACKOFF_MIN":      "10ms",
		"HOOKWORKER_BACKOFF_MAX":      "50ms",
		"HOOKWORKER_ACK_WAIT":         "5s",
		"HOOKWORKER_CONCURRENCY":      "16",
		"HOOKWORKER_HOST_CONCURRENCY": "4",
		"HOOKWORKER_SHUTDOWN_TIMEOUT": "5s",
		"HOOKWORKER_SLACK_INTERVAL":   "100ms",
		"HOOKWORKER_DEFER_AFTER":      "250ms",
		"HOOKWORKER_LOG_FORMAT":       "json",
		"HOOKWORKER_LOG_LEVEL":        "debug",
	})
	startNATS(t, natsAddr)
	js, sub := resultClient(t, natsAddr)
	w := &slackWorker{worker: startWorker(t), js: js, sub: sub}
	fast := slacktest.Config{Interval: 100 * time.Millisecond, Burst: 3}

	t.Run("ok", func(t *testing.T) {
		fake := newSlack(t, fast)
		w.publish(t, "slack-ok", fake.WebhookURL("T01", "B01", slackToken), `{"text":"deployed :rocket:","unfurl_links":false}`)
		r := w.results(t, "slack-ok")["slack-ok"]
		if r.Outcome != "delivered" || r.Status != http.StatusOK || r.Attempts != 1 {
			t.Fatalf("result %+v, want delivered 200 in 1 attempt", r)
		}
		reqs := fake.Requests()
		if len(reqs) != 1 || string(reqs[0].Body) != `{"text":"deployed :rocket:","unfurl_links":false}` {
			t.Fatalf("fake took %d requests (%v), want the message once", len(reqs), reqs)
		}
		if reqs[0].Header.Get("webhook-signature") != "" {
			t.Errorf("a Slack request carries webhook-signature")
		}
		if !strings.Contains(r.URL, "/services/T01/B01/") {
			t.Errorf("result url %q does not keep the webhook's ids", r.URL)
		}
	})

	t.Run("error codes", func(t *testing.T) {
		for _, code := range []string{slack.CodeChannelNotFound, slack.CodeChannelIsArchived, slack.CodeInvalidToken, slack.CodeNoService} {
			fake := newSlack(t, fast)
			fake.Fail(code)
			id := "slack-" + strings.ReplaceAll(code, "_", "-")
			w.publish(t, id, fake.WebhookURL("T01", "B02", slackToken), `{"text":"hi"}`)
			r := w.results(t, id)[id]
			if r.Outcome != "failed" || r.Status != slacktest.Status(code) || !strings.HasSuffix(r.Error, ": "+code) || r.Attempts != 1 {
				t.Errorf("%s: result %+v, want failed %d in 1 attempt with the code in error", code, r, slacktest.Status(code))
			}
		}
	})

	t.Run("429 with Retry-After", func(t *testing.T) {
		// One message a second, no burst: a message posted here spends
		// the webhook's slot, so the worker's first attempt gets a 429
		// asking it to wait out the rest of the second.
		fake := newSlack(t, slacktest.Config{Interval: time.Second, Burst: 1})
		url := fake.WebhookURL("T01", "B03", slackToken)
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"text":"first"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		start := time.Now()
		w.publish(t, "slack-429", url, `{"text":"second"}`)
		r := w.results(t, "slack-429")["slack-429"]
		if r.Outcome != "delivered" || r.Attempts != 2 {
			t.Fatalf("result %+v, want delivered in 2 attempts", r)
		}
		if n := fake.Limited(); n != 1 {
			t.Errorf("fake answered %d 429s, want 1", n)
		}
		if reqs := fake.Requests(); len(reqs) != 2 || string(reqs[1].Body) != `{"text":"second"}` {
			t.Errorf("fake took %d messages, want the test's and the job's", len(reqs))
		}
		// The retry came after the wait asked for, not after the 10ms
		// backoff: the fake would have answered 429 again before it.
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Errorf("delivered %s after publishing, before the Retry-After was over", d)
		}
	})

	t.Run("30 at once", func(t *testing.T) {
		fake := newSlack(t, fast)
		url := fake.WebhookURL("T01", "B04", slackToken)
		ids := make([]string, 30)
		for i := range ids {
			ids[i] = fmt.Sprintf("slack-burst-%02d", i)
			w.publish(t, ids[i], url, fmt.Sprintf(`{"text":"message %d"}`, i))
		}
		for id, r := range w.results(t, ids...) {
			if r.Outcome != "delivered" {
				t.Errorf("%s: %+v, want delivered", id, r)
			}
		}
		if n := len(fake.Requests()); n != 30 {
			t.Errorf("fake took %d messages, want 30", n)
		}
		if n := fake.Limited(); n > 1 {
			t.Errorf("fake answered %d 429s, want at most 1", n)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		fake := newSlack(t, fast)
		url := fake.WebhookURL("T01", "B05", slackToken)
		blocks := "[" + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]`
		cases := []struct{ id, msg, want string }{
			{"slack-empty", `{"unfurl_links":true}`, "slack: "},
			{"slack-51-blocks", `{"blocks":` + blocks + `}`, "slack: blocks"},
			{"slack-unknown-key", `{"text":"hi","attachements":[]}`, "slack: attachements is not supported"},
			{"slack-no-object", `"hi"`, "slack: must be an object"},
		}
		ids := make([]string, len(cases))
		for i, c := range cases {
			ids[i] = c.id
			w.publish(t, c.id, url, c.msg)
		}
		got := w.results(t, ids...)
		for _, c := range cases {
			if r := got[c.id]; r.Outcome != "rejected" || r.Attempts != 0 || !strings.HasPrefix(r.Error, c.want) {
				t.Errorf("%s: %+v, want rejected, no attempt, error starting %q", c.id, r, c.want)
			}
		}
		if a := fake.Answers(); len(a) != 0 {
			t.Errorf("fake answered %v, want no request", a)
		}
	})

	t.Run("bad url", func(t *testing.T) {
		fake := newSlack(t, fast)
		w.publish(t, "slack-bad-url", fake.URL+"/hooks/"+slackToken, `{"text":"hi"}`)
		r := w.results(t, "slack-bad-url")["slack-bad-url"]
		if r.Outcome != "rejected" || !strings.HasPrefix(r.Error, "slack: url") {
			t.Errorf("result %+v, want rejected for its url", r)
		}
		if a := fake.Answers(); len(a) != 0 {
			t.Errorf("fake answered %v, want no request", a)
		}
	})

	if w.stop(t) != 0 {
		t.Error("worker exited non-zero")
	}
	log := w.stderr.String()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for _, line := range lines {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
	// Positive control: the log does speak of the jobs and their URLs.
	if !strings.Contains(log, "slack-burst-29") || !strings.Contains(log, "/services/T01/B04/") {
		t.Errorf("the log names neither the jobs nor their webhooks; is it captured?")
	}
	// With DEFER_AFTER at 250ms, jobs of the burst whose webhook slot was
	// further away were handed back instead of waiting in their slot.
	if n := strings.Count(log, `"msg":"job deferred","job_id":"slack-burst-`); n == 0 {
		t.Errorf("no job of the burst was handed back for pacing")
	} else {
		t.Logf("%d log lines of jobs handed back for pacing", n)
	}
	if len(w.raw) < 30 {
		t.Errorf("only %d results seen", len(w.raw))
	}
	for _, where := range append([]string{log}, w.raw...) {
		if strings.Contains(where, slackToken) {
			t.Fatalf("the webhook token leaked: %s", where)
		}
	}
}

// newSlack starts a fake Slack closed with the test.
func newSlack(t *testing.T, cfg slacktest.Config) *slacktest.Server {
	t.Helper()
	f := slacktest.NewServer(cfg)
	t.Cleanup(f.Close)
	return f
}
