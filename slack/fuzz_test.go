package slack_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookworker/hookworker/slack"
)

// FuzzDecode decodes arbitrary slack objects: Decode never panics, every
// error it returns is an *InvalidError, and a message it accepts has a
// body that is valid UTF-8 JSON and decodes back to the same body.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"text":"hi"}`,
		`{"text":"t","blocks":[{"type":"section","block_id":"a","text":{"type":"mrkdwn","text":"x"}}],"attachments":[{"color":"good"}],"response_type":"in_channel","replace_original":false,"delete_original":true,"unfurl_links":false,"unfurl_media":false,"metadata":{"event_type":"e","event_payload":{"k":1}},"thread_ts":"1.2","username":"u","icon_emoji":":x:","icon_url":"https://e.x/i.png","channel":"#c"}`,
		`{"blocks":[{"type":"divider","block_id":"a"},{"type":"divider","block_id":"a"}]}`,
		`{"txt":"x"}`,
		`{"text":"x","metadata":{"event_type":"e","payload":{}}}`,
		`[]`, `null`, `{"text":5}`, `{"blocks":[1]}`, "{\"text\":\"\xff\"}", "{\"blocks\":[{\"type\":\"\xff\"}],\"attachments\":[{\"t\":\"\xfe\"}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := slack.Decode(data)
		if err != nil {
			var ie *slack.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Decode error %v is a %T, not an *InvalidError", err, err)
			}
			return
		}
		body, err := m.Body()
		if err != nil {
			t.Fatalf("Body of a valid message: %v", err)
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("body %q is not valid UTF-8 JSON", body)
		}
		back, err := slack.Decode(body)
		if err != nil {
			t.Fatalf("body %s of a valid message does not decode: %v", body, err)
		}
		again, err := back.Body()
		if err != nil || string(again) != string(body) {
			t.Fatalf("body %s encodes back to %s (%v)", body, again, err)
		}
	})
}

// FuzzClassify classifies arbitrary responses: Classify never panics, every
// status gets a kind, and a code is only ever Slack-shaped.
func FuzzClassify(f *testing.F) {
	f.Add(200, "ok", "")
	f.Add(200, `{"ok":false,"error":"expired_url"}`, "")
	f.Add(404, "channel_not_found", "")
	f.Add(429, "rate_limited", "1.5")
	f.Add(503, "<html>", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		v := slack.Classify(status, http.Header{"Retry-After": {retryAfter}}, []byte(body), time.Now())
		if v.Kind < slack.Delivered || v.Kind > slack.Retry {
			t.Fatalf("Classify(%d, %q) kind %d", status, body, v.Kind)
		}
		if v.RetryAfter < 0 || (v.RetryAfter > 0 && v.Kind != slack.RateLimited) {
			t.Fatalf("Classify(%d) retry after %v with kind %s", status, v.RetryAfter, v.Kind)
		}
		for _, c := range v.Code {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				t.Fatalf("Classify(%d, %q) code %q", status, body, v.Code)
			}
		}
		if v.Kind == slack.Delivered && v.Code != "" {
			t.Fatalf("Classify(%d, %q) delivered with code %q", status, body, v.Code)
		}
	})
}
