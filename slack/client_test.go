package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/sender"
	"github.com/hookworker/hookworker/slack"
	"github.com/hookworker/hookworker/slack/slacktest"
)

// newSender builds a sender for a local fake Slack: private networks
// allowed, a few retries with short backoffs, logging to log when set.
func newSender(t testing.TB, log *slog.Logger) *sender.Sender {
	t.Helper()
	s, err := sender.New(sender.Config{
		AllowPrivateNetworks: true,
		MaxRetries:           3,
		BackoffMin:           time.Millisecond,
		BackoffMax:           5 * time.Millisecond,
		Timeout:              5 * time.Second,
		Logger:               log,
	})
	if err != nil {
		t.Fatalf("sender.New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// newFake starts a fake Slack closed with the test.
func newFake(t testing.TB, cfg slacktest.Config) *slacktest.Server {
	t.Helper()
	f := slacktest.NewServer(cfg)
	t.Cleanup(f.Close)
	return f
}

// countingSender counts the requests it is given and delivers them.
type countingSender struct {
	next  slack.Sender
	calls atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, req sender.Request) sender.Result {
	c.calls.Add(1)
	return c.next.Send(ctx, req)
}

func TestClientDelivers(t *testing.T) {
	t.Parallel()
	no := false
	tests := []struct {
		name string
		url  func(f *slacktest.Server) string
		msg  slack.Message
	}{
		{"incoming webhook", func(f *slacktest.Server) string { return f.WebhookURL("T0001", "B0001", testToken) },
			slack.Message{Text: "deployed *v1.2.0*", UnfurlLinks: &no}},
		{"response url", func(f *slacktest.Server) string { return f.ResponseURL("T0001", "1234567890", testToken) },
			slack.Message{Text: "done", ResponseType: slack.Ephemeral, ReplaceOriginal: &no}},
		{"blocks", func(f *slacktest.Server) string { return f.WebhookURL("T0001", "B0001", testToken) },
			slack.Message{Blocks: []json.RawMessage{json.RawMessage(`{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, slacktest.Config{})
			c := slack.New(newSender(t, nil), slack.Config{})
			raw := tt.url(f)
			res := c.Send(context.Background(), tt.msg, sender.Request{
				ID: "job-1", URLs: []string{raw}, Header: http.Header{"X-Env": {"prod"}},
			})
			if !res.OK || res.Outcome != sender.Delivered || res.Status != 200 || res.Attempts != 1 || res.Error != "" {
				t.Fatalf("result %+v, want delivered at the first attempt", res)
			}
			if want := strings.Replace(raw, testToken, "REDACTED", 1); res.URL != want {
				t.Errorf("result url %q, want %q", res.URL, want)
			}
			if string(res.Response) != `"ok"` {
				t.Errorf("result response %s, want \"ok\"", res.Response)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			want, _ := tt.msg.Body()
			if !bytes.Equal(reqs[0].Body, want) {
				t.Errorf("body %s, want %s", reqs[0].Body, want)
			}
			h := reqs[0].Header
			if h.Get("Content-Type") != "application/json" || h.Get("X-Env") != "prod" {
				t.Errorf("headers %v, want application/json and the job's X-Env", h)
			}
			for _, k := range []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
				if v := h.Get(k); v != "" {
					t.Errorf("header %s: %q sent to Slack", k, v)
				}
			}
		})
	}
}

func TestClientErrorCodes(t *testing.T) {
	t.Parallel()
	for _, code := range slacktest.Codes() {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, slacktest.Config{Burst: 10})
			f.Fail(code)
			c := slack.New(newSender(t, nil), slack.Config{})
			res := c.Send(context.Background(), slack.Message{Text: "hi"},
				sender.Request{ID: "job-1", URLs: []string{f.WebhookURL("T0001", "B0001", testToken)}})
			status := slacktest.Status(code)
			if res.OK || res.Outcome != sender.Failed || res.Status != status {
				t.Fatalf("result %+v, want failed with status %d", res, status)
			}
			if !strings.HasSuffix(res.Error, ": "+code) {
				t.Errorf("error %q does not end with the code %q", res.Error, code)
			}
			wantAttempts := 1
			if status >= 500 {
				wantAttempts = 4 // the first and the three retries
			}
			if res.Attempts != wantAttempts {
				t.Errorf("%d attempts, want %d", res.Attempts, wantAttempts)
			}
			if len(f.Requests()) != 0 {
				t.Errorf("the fake took a message it was told to refuse")
			}
		})
	}
}

func TestClientRefusedWith200(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":false,"error":"expired_url"}`)
	}))
	t.Cleanup(srv.Close)
	c := slack.New(newSender(t, nil), slack.Config{})
	res := c.Send(context.Background(), slack.Message{Text: "late"},
		sender.Request{ID: "job-1", URLs: []string{srv.URL + "/actions/T0001/123/" + testToken}})
	if res.OK || res.Outcome != sender.Failed || res.Status != 200 || res.Error != "status 200 OK: expired_url" {
		t.Fatalf("result %+v, want failed with expired_url", res)
	}
}

func TestClientRetryAfter(t *testing.T) {
	t.Parallel()
	// The fake takes one message per 300ms; the pacer lets everything
	// through, so the second message meets a 429 and waits its Retry-After.
	f := newFake(t, slacktest.Config{Interval: 300 * time.Millisecond, Burst: 1})
	c := slack.New(newSender(t, nil), slack.Config{Pacer: slack.NewPacer(slack.PacerConfig{Interval: time.Nanosecond, Burst: 100})})
	u := f.WebhookURL("T0001", "B0001", testToken)
	first := c.Send(context.Background(), slack.Message{Text: "one"}, sender.Request{ID: "a", URLs: []string{u}})
	second := c.Send(context.Background(), slack.Message{Text: "two"}, sender.Request{ID: "b", URLs: []string{u}})
	if !first.OK || first.Attempts != 1 {
		t.Fatalf("first result %+v", first)
	}
	if !second.OK || second.Attempts != 2 || second.Retries != 1 {
		t.Fatalf("second result %+v, want delivered at the second attempt", second)
	}
	// One 429, and the retry came after its Retry-After, not after the
	// 1-5ms backoff: had it come earlier the fake would have answered 429
	// again.
	if n := f.Limited(); n != 1 {
		t.Errorf("%d answers 429, want 1", n)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d messages taken, want 2", n)
	}
}

func TestClientThirtyAtOnce(t *testing.T) {
	t.Parallel()
	// Slack's pace, ten times faster: the fake takes a message per 100ms
	// with a burst of 3, the pacer sends one per 100ms with a burst of 2.
	const n = 30
	interval := 100 * time.Millisecond
	f := newFake(t, slacktest.Config{Interval: interval})
	c := slack.New(newSender(t, nil), slack.Config{Pacer: slack.NewPacer(slack.PacerConfig{Interval: interval})})
	u := f.WebhookURL("T0001", "B0001", testToken)
	var wg sync.WaitGroup
	results := make([]sender.Result, n)
	for i := range n {
		wg.Go(func() {
			results[i] = c.Send(context.Background(), slack.Message{Text: "message"}, sender.Request{ID: "job", URLs: []string{u}})
		})
	}
	wg.Wait()
	for i, res := range results {
		if !res.OK {
			t.Errorf("message %d: %+v", i, res)
		}
	}
	if got := len(f.Requests()); got != n {
		t.Errorf("the fake took %d messages, want %d", got, n)
	}
	if got := f.Limited(); got > 1 {
		t.Errorf("%d answers 429, want at most 1", got)
	}
	t.Logf("answers: %v", f.Answers())
}

func TestClientThirtyAtOnceWithoutPacing(t *testing.T) {
	t.Parallel()
	// The positive control of TestClientThirtyAtOnce: without the pacer's
	// pace the same burst collects 429s from the same fake.
	interval := 100 * time.Millisecond
	f := newFake(t, slacktest.Config{Interval: interval})
	c := slack.New(newSender(t, nil), slack.Config{Pacer: slack.NewPacer(slack.PacerConfig{Interval: time.Nanosecond, Burst: 1000})})
	u := f.WebhookURL("T0001", "B0001", testToken)
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			c.Send(context.Background(), slack.Message{Text: "message"}, sender.Request{ID: "job", URLs: []string{u}, MaxRetries: -1})
		})
	}
	wg.Wait()
	if got := f.Limited(); got < 10 {
		t.Errorf("%d answers 429 without pacing, want many", got)
	}
}

func TestClientRejects(t *testing.T) {
	t.Parallel()
	f := newFake(t, slacktest.Config{})
	good := f.WebhookURL("T0001", "B0001", testToken)
	tests := []struct {
		name    string
		msg     slack.Message
		urls    []string
		wantErr string
	}{
		{"no text, blocks or attachments", slack.Message{}, []string{good}, "slack: message needs text, blocks or attachments"},
		{"51 blocks", slack.Message{Blocks: blocks(51)}, []string{good}, "slack: blocks has 51 blocks, the limit is 50"},
		{"no url", slack.Message{Text: "hi"}, nil, "slack: no webhook url"},
		{"not a slack url", slack.Message{Text: "hi"}, []string{f.URL + "/hooks/" + testToken}, "slack: url " + f.URL + "/REDACTED is not a Slack webhook URL"},
		{"one bad url of a pool", slack.Message{Text: "hi"}, []string{good, f.URL + "/services/T1/B2" + testToken}, "slack: url " + f.URL + "/REDACTED is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &countingSender{next: newSender(t, nil)}
			c := slack.New(d, slack.Config{})
			prior := sender.Progress{Attempts: 2, Retries: 1}
			res := c.Send(context.Background(), tt.msg, sender.Request{ID: "job-1", URLs: tt.urls, Prior: prior})
			if res.Outcome != sender.Rejected || res.OK || !strings.HasPrefix(res.Error, tt.wantErr) {
				t.Fatalf("result %+v, want rejected with %q", res, tt.wantErr)
			}
			if res.Attempts != 2 || res.Retries != 1 {
				t.Errorf("result attempts %d retries %d, want the prior 2 and 1", res.Attempts, res.Retries)
			}
			if d.calls.Load() != 0 {
				t.Errorf("the deliverer was called")
			}
			if err := c.Check(tt.msg, tt.urls); err == nil || err.Error() != res.Error {
				t.Errorf("Check = %v, want the result's error", err)
			}
		})
	}
	// Decoding refuses an unknown key before any message exists to send.
	if _, err := slack.Decode([]byte(`{"text":"hi","txt":"hi"}`)); err == nil {
		t.Error("Decode took an unknown key")
	}
	if n := len(f.Requests()) + f.Limited(); n != 0 {
		t.Errorf("the fake got %d requests", n)
	}
}

func TestClientTokenNeverShows(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFake(t, slacktest.Config{Interval: time.Hour, Burst: 1})
	closed := slacktest.NewServer(slacktest.Config{})
	closed.Close()
	c := slack.New(newSender(t, log), slack.Config{Logger: log, Pacer: slack.NewPacer(slack.PacerConfig{Interval: time.Nanosecond, Burst: 100})})
	u := f.WebhookURL("T0001", "B0001", testToken)
	send := func(m slack.Message, url string) sender.Result {
		return c.Send(context.Background(), m, sender.Request{ID: "job", URLs: []string{url}, MaxRetries: -1})
	}
	results := []sender.Result{
		send(slack.Message{Text: "ok"}, u),                                        // delivered
		send(slack.Message{Text: "limited"}, u),                                   // 429: the fake takes one an hour
		send(slack.Message{}, u),                                                  // rejected message
		send(slack.Message{Text: "hi"}, f.URL+"/services/T1/B2"+testToken),        // rejected url
		send(slack.Message{Text: "hi"}, closed.WebhookURL("T1", "B2", testToken)), // connection refused
	}
	f2 := newFake(t, slacktest.Config{})
	f2.Fail("invalid_token")
	results = append(results, send(slack.Message{Text: "x"}, f2.WebhookURL("T1", "B2", testToken)))

	wantOutcomes := []sender.Outcome{sender.Delivered, sender.Failed, sender.Rejected, sender.Rejected, sender.Failed, sender.Failed}
	for i, res := range results {
		if res.Outcome != wantOutcomes[i] {
			t.Errorf("result %d: %+v, want %s", i, res, wantOutcomes[i])
		}
		b, _ := json.Marshal(res)
		if bytes.Contains(b, []byte(testToken)) {
			t.Errorf("result %d holds the token: %s", i, b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the check below would prove nothing")
	}
	if bytes.Contains(logs.Bytes(), []byte(testToken)) {
		t.Errorf("the logs hold the token:\n%s", logs.String())
	}
	if !bytes.Contains(logs.Bytes(), []byte("REDACTED")) {
		t.Errorf("the logs name no redacted url:\n%s", logs.String())
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestClientLeavesDeferralAlone(t *testing.T) {
	t.Parallel()
	f := newFake(t, slacktest.Config{Interval: time.Hour, Burst: 1})
	s, err := sender.New(sender.Config{AllowPrivateNetworks: true, MaxRetries: 3, DeferAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c := slack.New(s, slack.Config{Pacer: slack.NewPacer(slack.PacerConfig{Interval: time.Nanosecond, Burst: 100})})
	u := f.WebhookURL("T0001", "B0001", testToken)
	if res := c.Send(context.Background(), slack.Message{Text: "one"}, sender.Request{URLs: []string{u}}); !res.OK {
		t.Fatalf("first result %+v", res)
	}
	res := c.Send(context.Background(), slack.Message{Text: "two"}, sender.Request{URLs: []string{u}})
	if res.Defer < 59*time.Minute || res.Status != http.StatusTooManyRequests || res.Outcome != sender.Deferred {
		t.Fatalf("result %+v, want deferred by about an hour", res)
	}
	if strings.Contains(res.Error, "rate_limited") {
		t.Errorf("deferred result's error %q was rewritten", res.Error)
	}
}
