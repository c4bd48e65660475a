package slack_test

import (
	"encoding/json"
	"errors"
	"testing"
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
