package slacktest_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/slack/slacktest"
)

// post sends body to url and returns the status, body and Retry-After.
func post(t *testing.T, url, body string) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Retry-After")
}

func TestServerAnswers(t *testing.T) {
	t.Parallel()
	s := slacktest.NewServer(slacktest.Config{Burst: 100})
	t.Cleanup(s.Close)
	hook := s.WebhookURL("T1", "B1", "tok")
	tests := []struct {
		name       string
		url        string
		body       string
		fail       string
		wantStatus int
		wantBody   string
	}{
		{"ok", hook, `{"text":"hi"}`, "", 200, "ok"},
		{"response url", s.ResponseURL("T1", "123", "tok"), `{"text":"hi"}`, "", 200, "ok"},
		{"blocks only", hook, `{"blocks":[{"type":"divider"}]}`, "", 200, "ok"},
		{"no text", hook, `{"unfurl_links":false}`, "", 400, "no_text"},
		{"not json", hook, `text=hi`, "", 400, "invalid_payload"},
		{"too many attachments", hook, `{"attachments":[` + strings.Repeat(`{},`, 100) + `{}]}`, "", 400, "too_many_attachments"},
		{"unknown path", s.URL + "/services/T1/B1", `{"text":"hi"}`, "", 404, "no_service"},
		{"told to fail", hook, `{"text":"hi"}`, "channel_is_archived", 410, "channel_is_archived"},
		{"unknown code", hook, `{"text":"hi"}`, "some_new_error", 400, "some_new_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Fail(tt.fail)
			defer s.Fail("")
			status, body, _ := post(t, tt.url, tt.body)
			if status != tt.wantStatus || body != tt.wantBody {
				t.Errorf("answer %d %q, want %d %q", status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("%d messages taken, want the 3 answered ok", n)
	}
}

func TestServerRateLimit(t *testing.T) {
	t.Parallel()
	s := slacktest.NewServer(slacktest.Config{Interval: time.Hour, Burst: 3})
	t.Cleanup(s.Close)
	hook := s.WebhookURL("T1", "B1", "tok")
	for i := range 3 {
		if status, _, _ := post(t, hook, `{"text":"hi"}`); status != 200 {
			t.Fatalf("message %d of the burst answered %d", i, status)
		}
	}
	status, body, retryAfter := post(t, hook, `{"text":"hi"}`)
	if status != http.StatusTooManyRequests || body != "rate_limited" {
		t.Fatalf("past the burst: %d %q, want 429 rate_limited", status, body)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 3599 || n > 3600 {
		t.Errorf("Retry-After %q, want about an hour in whole seconds", retryAfter)
	}
	// Another webhook has its own limit.
	if status, _, _ := post(t, s.WebhookURL("T1", "B2", "tok"), `{"text":"hi"}`); status != 200 {
		t.Errorf("another webhook answered %d", status)
	}
	if s.Limited() != 1 || s.Answers()[200] != 4 || s.Answers()[429] != 1 {
		t.Errorf("limited %d, answers %v", s.Limited(), s.Answers())
	}
}

func TestServerFractionalRetryAfter(t *testing.T) {
	t.Parallel()
	s := slacktest.NewServer(slacktest.Config{Interval: 500 * time.Millisecond, Burst: 1})
	t.Cleanup(s.Close)
	hook := s.WebhookURL("T1", "B1", "tok")
	post(t, hook, `{"text":"hi"}`)
	status, _, retryAfter := post(t, hook, `{"text":"hi"}`)
	f, err := strconv.ParseFloat(retryAfter, 64)
	if status != 429 || err != nil || f <= 0 || f > 0.5 || !strings.Contains(retryAfter, ".") {
		t.Errorf("answer %d with Retry-After %q, want 429 and a fraction of a second", status, retryAfter)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		"invalid_payload": 400, "no_text": 400, "channel_not_found": 404, "channel_is_archived": 410,
		"action_prohibited": 403, "posting_to_general_channel_denied": 403, "too_many_attachments": 400,
		"no_service": 404, "invalid_token": 403, "user_not_found": 400, "rollup_error": 500, "unknown": 400,
	} {
		if got := slacktest.Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
}
