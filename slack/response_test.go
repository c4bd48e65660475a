package slack_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/slack"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	retryAfter := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   slack.Verdict
	}{
		{"ok", 200, nil, "ok", slack.Verdict{Kind: slack.Delivered}},
		{"ok with newline", 200, nil, "ok\n", slack.Verdict{Kind: slack.Delivered}},
		{"empty 200", 200, nil, "", slack.Verdict{Kind: slack.Delivered}},
		{"204", 204, nil, "", slack.Verdict{Kind: slack.Delivered}},
		{"json ok", 200, nil, `{"ok":true}`, slack.Verdict{Kind: slack.Delivered}},
		{"json refused", 200, nil, `{"ok":false,"error":"expired_url"}`, slack.Verdict{Kind: slack.Failed, Code: "expired_url"}},
		{"json error without ok", 200, nil, `{"error":"expired_url"}`, slack.Verdict{Kind: slack.Delivered}},
		{"invalid_payload", 400, nil, "invalid_payload", slack.Verdict{Kind: slack.Failed, Code: "invalid_payload"}},
		{"no_text", 400, nil, "no_text", slack.Verdict{Kind: slack.Failed, Code: "no_text"}},
		{"action_prohibited", 403, nil, "action_prohibited", slack.Verdict{Kind: slack.Failed, Code: "action_prohibited"}},
		{"invalid_token", 403, nil, "invalid_token", slack.Verdict{Kind: slack.Failed, Code: "invalid_token"}},
		{"channel_not_found", 404, nil, "channel_not_found", slack.Verdict{Kind: slack.Failed, Code: "channel_not_found"}},
		{"channel_is_archived", 410, nil, "channel_is_archived", slack.Verdict{Kind: slack.Failed, Code: "channel_is_archived"}},
		{"json error 404", 404, nil, `{"ok":false,"error":"no_service"}`, slack.Verdict{Kind: slack.Failed, Code: "no_service"}},
		{"html 404", 404, nil, "<html>Not Found</html>", slack.Verdict{Kind: slack.Failed}},
		{"capitalised text", 400, nil, "Bad Request", slack.Verdict{Kind: slack.Failed}},
		{"overlong code", 400, nil, strings.Repeat("a", 65), slack.Verdict{Kind: slack.Failed}},
		{"redirect", 302, nil, "", slack.Verdict{Kind: slack.Failed}},
		{"429 seconds", 429, retryAfter("3"), "rate_limited", slack.Verdict{Kind: slack.RateLimited, Code: "rate_limited", RetryAfter: 3 * time.Second}},
		{"429 fraction", 429, retryAfter("0.25"), "", slack.Verdict{Kind: slack.RateLimited, RetryAfter: 250 * time.Millisecond}},
		{"429 date", 429, retryAfter(now.Add(10 * time.Second).Format(http.TimeFormat)), "", slack.Verdict{Kind: slack.RateLimited, RetryAfter: 10 * time.Second}},
		{"429 without wait", 429, nil, "", slack.Verdict{Kind: slack.RateLimited}},
		{"429 bad wait", 429, retryAfter("soon"), "", slack.Verdict{Kind: slack.RateLimited}},
		{"500 rollup_error", 500, nil, "rollup_error", slack.Verdict{Kind: slack.Retry, Code: "rollup_error"}},
		{"503", 503, nil, "", slack.Verdict{Kind: slack.Retry}},
		{"408", 408, nil, "", slack.Verdict{Kind: slack.Retry}},
		{"425", 425, nil, "", slack.Verdict{Kind: slack.Retry}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := slack.Classify(tt.status, tt.header, []byte(tt.body), now)
			if got != tt.want {
				t.Errorf("Classify(%d, %q) = %+v, want %+v", tt.status, tt.body, got, tt.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[slack.Kind]string{
		slack.Delivered: "delivered", slack.Failed: "failed", slack.RateLimited: "rate_limited",
		slack.Retry: "retry", slack.Kind(0): "unknown",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
