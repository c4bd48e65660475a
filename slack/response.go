package slack

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/hookworker/hookworker/sender"
)

// Kind is what a Slack response means for a delivery.
type Kind int

// The kinds of Slack response.
const (
	// Delivered: Slack took the message (a 2xx, normally 200 "ok").
	Delivered Kind = iota + 1
	// Failed: Slack refused the message and will refuse it again (an error
	// code such as channel_not_found, with a 4xx; a 3xx). Verdict.Code
	// says why when Slack did.
	Failed
	// RateLimited: a 429; send again after Verdict.RetryAfter (or a
	// backoff when Slack named no wait).
	RateLimited
	// Retry: a 5xx, 408 or 425; send again after a backoff.
	Retry
)

// String returns the kind's name: "delivered", "failed", "rate_limited",
// "retry".
func (k Kind) String() string {
	switch k {
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	case RateLimited:
		return "rate_limited"
	case Retry:
		return "retry"
	}
	return "unknown"
}

// Slack's error codes for webhook and response_url requests. Slack answers
// them as the plain-text body of a 400, 403, 404 or 410 (a response_url
// also as {"ok": false, "error": "<code>"}); Classify passes any code on,
// these are the ones documented.
const (
	CodeInvalidPayload         = "invalid_payload"
	CodeNoText                 = "no_text"
	CodeChannelNotFound        = "channel_not_found"
	CodeChannelIsArchived      = "channel_is_archived"
	CodeActionProhibited       = "action_prohibited"
	CodePostingToGeneralDenied = "posting_to_general_channel_denied"
	CodeTooManyAttachments     = "too_many_attachments"
	CodeNoService              = "no_service"
	CodeNoServiceID            = "no_service_id"
	CodeNoTeam                 = "no_team"
	CodeTeamDisabled           = "team_disabled"
	CodeInvalidToken           = "invalid_token"
	CodeUserNotFound           = "user_not_found"
	CodeInvalidBlocks          = "invalid_blocks"
	CodeExpiredURL             = "expired_url"
	CodeRateLimited            = "rate_limited"
)

// maxCode bounds the length of a body taken for an error code.
const maxCode = 64

// Verdict is a classified Slack response.
type Verdict struct {
	// Kind is what the response means for the delivery.
	Kind Kind
	// Code is Slack's error code ("channel_not_found"), "" when the
	// response carries none.
	Code string
	// RetryAfter is the wait a 429 asks for (its Retry-After header); 0
	// when it names none.
	RetryAfter time.Duration
}

// Classify tells what one Slack response means: its status, header and body
// (as read, at least its first maxCode bytes), with now for a Retry-After
// given as a date. It is a pure function.
//
//   - 2xx: Delivered, unless the body is {"ok": false, "error": …}, which is
//     Failed with that code.
//   - 429: RateLimited, with Retry-After.
//   - 5xx, 408, 425: Retry.
//   - any other status: Failed.
//
// A body that is an error code (lower-case letters, digits and _), or a
// JSON object whose "error" is one, gives Code, whatever the status.
func Classify(status int, header http.Header, body []byte, now time.Time) Verdict {
	v := Verdict{Code: code(body)}
	switch {
	case status >= 200 && status < 300:
		v.Kind = Delivered
		if v.Code != "" && refused(body) {
			v.Kind = Failed
		} else {
			v.Code = ""
		}
	case status == http.StatusTooManyRequests:
		v.Kind = RateLimited
		if d, ok := sender.ParseRetryAfter(header.Get("Retry-After"), now); ok {
			v.RetryAfter = d
		}
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooEarly:
		v.Kind = Retry
	default:
		v.Kind = Failed
	}
	return v
}

// slackReply is a JSON body of a response_url answer.
type slackReply struct {
	OK    *bool  `json:"ok"`
	Error string `json:"error"`
}

// code returns the error code body carries: the body itself when it is a
// code, or the "error" of a JSON object. "ok" is not a code.
func code(body []byte) string {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '{' {
		var r slackReply
		if json.Unmarshal(b, &r) != nil || !isCode(r.Error) {
			return ""
		}
		return r.Error
	}
	if s := string(b); s != "ok" && isCode(s) {
		return s
	}
	return ""
}

// refused reports whether a 2xx body is {"ok": false, …}.
func refused(body []byte) bool {
	var r slackReply
	return json.Unmarshal(body, &r) == nil && r.OK != nil && !*r.OK
}

// isCode reports whether s looks like a Slack error code: 1 to maxCode
// lower-case letters, digits and underscores, starting with a letter.
func isCode(s string) bool {
	if s == "" || len(s) > maxCode || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
