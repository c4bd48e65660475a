package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/sender"
)

const (
	testID    = "112233445566778899"
	testToken = "s3cr3t-T0ken_abcdefghijklmnopqrstuvwxyz"
)

// newSender builds a sender for a local fake Discord: private networks
// allowed, a few retries with short backoffs.
func newSender(t testing.TB) *sender.Sender {
	t.Helper()
	s, err := sender.New(sender.Config{
		AllowPrivateNetworks: true,
		MaxRetries:           3,
		BackoffMin:           time.Millisecond,
		BackoffMax:           5 * time.Millisecond,
		Timeout:              5 * time.Second,
	})
	if err != nil {
		t.Fatalf("sender.New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitRecorder records pacing waits.
type waitRecorder struct {
	n     atomic.Int64
	total atomic.Int64
}

func (w *waitRecorder) PaceWait(d time.Duration) {
	w.n.Add(1)
	w.total.Add(int64(d))
}

// countingSender counts the requests it is given and delivers them.
type countingSender struct {
	next  discord.Sender
	calls atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, req sender.Request) sender.Result {
	c.calls.Add(1)
	return c.next.Send(ctx, req)
}

func TestClientIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		cfg                  discord.Config
		msg                  discord.Message
		wantUser, wantAvatar any
	}{
		{"defaults", discord.Config{Username: "deploy bot", AvatarURL: "https://example.com/a.png"},
			discord.Message{Content: "hi"}, "deploy bot", "https://example.com/a.png"},
		{"message overrides", discord.Config{Username: "deploy bot", AvatarURL: "https://example.com/a.png"},
			discord.Message{Content: "hi", Username: "ci", AvatarURL: "https://example.com/ci.png"}, "ci", "https://example.com/ci.png"},
		{"no identity at all", discord.Config{},
			discord.Message{Content: "hi"}, nil, nil},
		{"username only from message", discord.Config{AvatarURL: "https://example.com/a.png"},
			discord.Message{Content: "hi", Username: "ci"}, "ci", "https://example.com/a.png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDiscord(t, 100, time.Second)
			c := discord.New(newSender(t), tt.cfg)
			res := c.Send(context.Background(), tt.msg, sender.Request{ID: "job-1", URLs: []string{f.webhook(testID, testToken)}})
			if !res.OK {
				t.Fatalf("result %+v", res)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			body := reqs[0].body(t)
			if got := body["username"]; got != tt.wantUser {
				t.Errorf("username = %v, want %v", got, tt.wantUser)
			}
			if got := body["avatar_url"]; got != tt.wantAvatar {
				t.Errorf("avatar_url = %v, want %v", got, tt.wantAvatar)
			}
		})
	}
}

func TestClientBadDefaultUsernameRejected(t *testing.T) {
	t.Parallel()
	f := newFakeDiscord(t, 100, time.Second)
	c := discord.New(newSender(t), discord.Config{Username: "Discord Bot"})
	res := c.Send(context.Background(), discord.Message{Content: "hi"}, sender.Request{URLs: []string{f.webhook(testID, testToken)}})
	if res.Outcome != sender.Rejected || !strings.Contains(res.Error, "username") {
		t.Fatalf("result %+v, want rejected for the username", res)
	}
	// A message's own username takes precedence over a bad default.
	res = c.Send(context.Background(), discord.Message{Content: "hi", Username: "ci"}, sender.Request{URLs: []string{f.webhook(testID, testToken)}})
	if !res.OK {
		t.Fatalf("result %+v, want delivered", res)
	}
}

func TestClientQueryAndBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		url        string // path and query after the server URL
		msg        discord.Message
		wantThread string
	}{
		{"wait only", "/api/webhooks/" + testID + "/" + testToken, discord.Message{Content: "a"}, ""},
		{"thread id", "/api/webhooks/" + testID + "/" + testToken, discord.Message{Content: "a", ThreadID: "1234567890"}, "1234567890"},
		{"thread id replaces one in the url", "/api/webhooks/" + testID + "/" + testToken + "?thread_id=42", discord.Message{Content: "a", ThreadID: "77"}, "77"},
		{"thread name stays in the body", "/api/webhooks/" + testID + "/" + testToken, discord.Message{Content: "a", ThreadName: "deploys"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDiscord(t, 100, time.Second)
			c := discord.New(newSender(t), discord.Config{})
			res := c.Send(context.Background(), tt.msg, sender.Request{ID: "job-q", URLs: []string{f.URL + tt.url}})
			if !res.OK || res.Status != http.StatusOK {
				t.Fatalf("result %+v, want delivered with 200 (wait=true)", res)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			q := reqs[0].Query
			if q.Get("wait") != "true" {
				t.Errorf("wait = %q, want true", q.Get("wait"))
			}
			if got := q.Get("thread_id"); got != tt.wantThread {
				t.Errorf("thread_id = %q, want %q", got, tt.wantThread)
			}
			body := reqs[0].body(t)
			if _, ok := body["thread_id"]; ok {
				t.Errorf("body %s holds thread_id", reqs[0].Body)
			}
			if tt.msg.ThreadName != "" && body["thread_name"] != tt.msg.ThreadName {
				t.Errorf("body %s lacks thread_name", reqs[0].Body)
			}
			if h := reqs[0].Header; h.Get("Webhook-Signature") != "" || h.Get("Webhook-Id") != "" {
				t.Errorf("Discord request carries Standard Webhooks headers: %v", h)
			}
			if strings.Contains(res.URL, testToken) || strings.Contains(res.URL, "wait") {
				t.Errorf("result url %q holds the token or the added query", res.URL)
			}
			if !bytes.Contains(res.Response, []byte(`"id"`)) {
				t.Errorf("response %s is not the created message", res.Response)
			}
		})
	}
}

func TestClientRawEmbedPreserved(t *testing.T) {
	t.Parallel()
	f := newFakeDiscord(t, 100, time.Second)
	c := discord.New(newSender(t), discord.Config{})
	var m discord.Message
	job := `{"content": "x", "thread_id": "99", "embeds": [
		{"title": "deploy", "type": "rich", "provider": {"name": "ci"}, "color": 5814783,
		 "image": {"url": "https://example.com/i.png", "width": 10},
		 "fields": [{"name": "env", "value": "prod", "inline": true}]},
		{"title": "typed"}]}`
	if err := json.Unmarshal([]byte(job), &m); err != nil {
		t.Fatal(err)
	}
	m.Embeds[1].Description = "added in Go"
	res := c.Send(context.Background(), m, sender.Request{URLs: []string{f.webhook(testID, testToken)}})
	if !res.OK {
		t.Fatalf("result %+v", res)
	}
	var sent struct {
		Embeds []map[string]any `json:"embeds"`
	}
	if err := json.Unmarshal(f.Requests()[0].Body, &sent); err != nil {
		t.Fatal(err)
	}
	e := sent.Embeds[0]
	if e["type"] != "rich" || e["provider"] == nil || e["image"].(map[string]any)["width"] != 10.0 {
		t.Errorf("unknown fields lost: %v", e)
	}
	if e["color"] != 5814783.0 || e["title"] != "deploy" {
		t.Errorf("known fields changed: %v", e)
	}
	if sent.Embeds[1]["description"] != "added in Go" || sent.Embeds[1]["title"] != "typed" {
		t.Errorf("changed embed sent as %v", sent.Embeds[1])
	}
}

func TestClientRejectsWithoutRequest(t *testing.T) {
	t.Parallel()
	f := newFakeDiscord(t, 100, time.Second)
	good := f.webhook(testID, testToken)
	tests := []struct {
		name    string
		msg     discord.Message
		urls    []string
		wantErr string
	}{
		{"invalid message", discord.Message{Content: strings.Repeat("é", 2001)}, []string{good}, "content is 2001 characters, the limit is 2000"},
		{"no url", discord.Message{Content: "a"}, nil, "no webhook url"},
		{"not a webhook path", discord.Message{Content: "a"}, []string{f.URL + "/hooks/" + testID + "/" + testToken}, "not a webhook URL"},
		{"id not a snowflake", discord.Message{Content: "a"}, []string{f.URL + "/api/webhooks/abc/" + testToken}, "not a webhook URL"},
		{"no token", discord.Message{Content: "a"}, []string{f.URL + "/api/webhooks/" + testID}, "not a webhook URL"},
		{"ftp scheme", discord.Message{Content: "a"}, []string{"ftp://discord.com/api/webhooks/" + testID + "/" + testToken}, "not an http or https URL"},
		{"bad url in a pool", discord.Message{Content: "a"}, []string{good, f.URL + "/api/webhooks/" + testID + "/" + testToken + "/extra"}, "not a webhook URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &countingSender{next: newSender(t)}
			c := discord.New(d, discord.Config{})
			res := c.Send(context.Background(), tt.msg, sender.Request{ID: "job-r", URLs: tt.urls})
			if res.Outcome != sender.Rejected || res.OK || res.Attempts != 0 {
				t.Fatalf("result %+v, want rejected with 0 attempts", res)
			}
			if !strings.Contains(res.Error, tt.wantErr) {
				t.Errorf("error %q does not contain %q", res.Error, tt.wantErr)
			}
			if strings.Contains(res.Error, testToken) || strings.Contains(res.URL, testToken) {
				t.Errorf("token leaked: error %q, url %q", res.Error, res.URL)
			}
			if d.calls.Load() != 0 {
				t.Errorf("deliverer called %d times", d.calls.Load())
			}
		})
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("fake Discord received %d requests", n)
	}
}

func TestClientErrorResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		wantErr string
	}{
		{"unknown webhook", http.StatusNotFound, "Unknown Webhook (code 10015)"},
		{"unauthorized", http.StatusUnauthorized, "status 401"},
		{"forbidden", http.StatusForbidden, "status 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDiscord(t, 100, time.Second)
			f.fail(tt.status)
			var logs bytes.Buffer
			c := discord.New(newSender(t), discord.Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			res := c.Send(context.Background(), discord.Message{Content: "a"}, sender.Request{ID: "job-e", URLs: []string{f.webhook(testID, testToken)}})
			if res.Outcome != sender.Failed || res.Status != tt.status || res.Attempts != 1 {
				t.Fatalf("result %+v, want failed at once with %d", res, tt.status)
			}
			if !strings.Contains(res.Error, tt.wantErr) {
				t.Errorf("error %q does not contain %q", res.Error, tt.wantErr)
			}
			if !json.Valid(res.Response) || !bytes.Contains(res.Response, []byte("message")) {
				t.Errorf("response %s is not Discord's error body", res.Response)
			}
			for _, s := range []string{res.Error, res.URL, string(res.Response), logs.String()} {
				if strings.Contains(s, testToken) {
					t.Errorf("token leaked in %q", s)
				}
			}
		})
	}
}

// sendConcurrently sends n messages to one webhook from n goroutines and
// returns their results.
func sendConcurrently(t *testing.T, c *discord.Client, url string, n int) []sender.Result {
	t.Helper()
	results := make([]sender.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = c.Send(context.Background(), discord.Message{Content: "message"}, sender.Request{ID: "job", URLs: []string{url}})
		})
	}
	wg.Wait()
	return results
}

// TestClientPacesConcurrentBurst sends a burst of 30 messages to one
// webhook of a fake Discord allowing 5 per 200ms, through the sender, over
// HTTP. TestPacerPacesBurstAtDiscordWindow holds the same burst at
// Discord's real window (5 per 2s) on synctest's clock.
func TestClientPacesConcurrentBurst(t *testing.T) {
	t.Parallel()
	const n = 30
	f := newFakeDiscord(t, 5, 200*time.Millisecond)
	rec := &waitRecorder{}
	c := discord.New(newSender(t), discord.Config{Observer: rec})
	results := sendConcurrently(t, c, f.webhook(testID, testToken), n)
	for i, r := range results {
		if !r.OK {
			t.Errorf("message %d: %+v", i, r)
		}
	}
	if got := len(f.Requests()); got != n {
		t.Errorf("%d messages delivered, want %d", got, n)
	}
	if l := f.Limited(); l > 2 {
		t.Errorf("%d requests answered 429, want at most 2", l)
	}
	if rec.n.Load() == 0 {
		t.Error("no pacing wait was reported")
	}
	t.Logf("429s: %d, pacing waits: %d", f.Limited(), rec.n.Load())
}

// TestPacerPacesBurstAtDiscordWindow sends a burst of 30 requests to one
// webhook of a fake Discord allowing 5 per 2s, as Discord does, each
// request asking the Pacer first and telling it the response, as the
// sender does, with round trips of 1 to 40ms. It runs on synctest's clock,
// so the five resets of the real window take no time. Sent without the
// Pacer, the same burst collects 429s: the fake's limit is there to be hit.
func TestPacerPacesBurstAtDiscordWindow(t *testing.T) {
	t.Parallel()
	const (
		n      = 30
		limit  = 5
		window = 2 * time.Second
	)
	u, err := url.Parse("https://discord.com/api/webhooks/" + testID + "/" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	// burst sends n requests at once, each until it is answered other
	// than 429 (once, without a Pacer), and returns the fake and how long
	// the whole burst took.
	burst := func(t *testing.T, p *discord.Pacer) (*fakeDiscord, time.Duration) {
		f := &fakeDiscord{limit: limit, window: window, buckets: make(map[string]*fakeBucket)}
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			rtt := time.Duration(1+i*7%40) * time.Millisecond
			wg.Go(func() {
				for {
					if p != nil {
						if err := p.Wait(context.Background(), u); err != nil {
							t.Errorf("request %d: %v", i, err)
							return
						}
					}
					time.Sleep(rtt / 2)
					w := httptest.NewRecorder()
					f.serve(w, httptest.NewRequest(http.MethodPost, u.String(), strings.NewReader(`{"content":"message"}`)))
					time.Sleep(rtt - rtt/2)
					resp := w.Result()
					if p != nil {
						p.Observe(u, resp)
					}
					if resp.StatusCode != http.StatusTooManyRequests || p == nil {
						return
					}
				}
			})
		}
		wg.Wait()
		return f, time.Since(start)
	}
	synctest.Test(t, func(t *testing.T) {
		rec := &waitRecorder{}
		f, took := burst(t, discord.NewPacer(discord.PacerConfig{Observer: rec}))
		if got := len(f.Requests()); got != n {
			t.Errorf("%d requests delivered, want %d", got, n)
		}
		if l := f.Limited(); l > 2 {
			t.Errorf("%d requests answered 429, want at most 2", l)
		}
		if rec.n.Load() == 0 {
			t.Error("no pacing wait was reported")
		}
		// Six windows' worth: the last starts after five resets, and
		// none is left with slots unused.
		if most := n / limit * window; took >= most {
			t.Errorf("the burst took %s, want less than %s", took, most)
		}
		t.Logf("429s: %d, pacing waits: %d, burst took %s", f.Limited(), rec.n.Load(), took)
	})
	synctest.Test(t, func(t *testing.T) {
		f, _ := burst(t, nil)
		if l := f.Limited(); l != n-limit {
			t.Errorf("unpaced, %d requests answered 429, want %d", l, n-limit)
		}
	})
}

func TestClientSeparateWebhooksDoNotWaitOnEachOther(t *testing.T) {
	t.Parallel()
	f := newFakeDiscord(t, 5, time.Hour)
	c := discord.New(newSender(t), discord.Config{})
	// Fill one webhook's bucket for the hour.
	for _, r := range sendConcurrently(t, c, f.webhook(testID, testToken), 5) {
		if !r.OK {
			t.Fatalf("result %+v", r)
		}
	}
	// Another webhook is not held back by it (this would block for an hour).
	for _, r := range sendConcurrently(t, c, f.webhook("998877665544332211", "other-token"), 5) {
		if !r.OK {
			t.Fatalf("result %+v", r)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := c.Send(ctx, discord.Message{Content: "late"}, sender.Request{URLs: []string{f.webhook(testID, testToken)}})
	if res.OK || res.Outcome != sender.Interrupted {
		t.Errorf("send on an empty bucket with a cancelled context: %+v", res)
	}
	if f.Limited() != 0 {
		t.Errorf("%d requests answered 429", f.Limited())
	}
}
