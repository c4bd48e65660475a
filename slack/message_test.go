package slack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/slack"
)

func TestMessageDecodeStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string // "" when it decodes
	}{
		{"text", `{"text":"hi"}`, ""},
		{"every field", `{"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"x"}}],
			"attachments":[{"color":"#36a64f","text":"a"}],"response_type":"ephemeral","replace_original":false,
			"delete_original":false,"unfurl_links":false,"unfurl_media":true,
			"metadata":{"event_type":"deploy","event_payload":{"v":"1.2.0"}},"thread_ts":"1712345678.123456",
			"username":"ci","icon_emoji":":rocket:","icon_url":"https://example.com/i.png","channel":"#deploys"}`, ""},
		{"unknown key", `{"text":"hi","txt":"x"}`, `unknown field "txt"`},
		{"headers is not a body field", `{"text":"hi","headers":{}}`, `unknown field "headers"`},
		{"unknown metadata key", `{"text":"hi","metadata":{"event_type":"e","event_payload":{},"x":1}}`, `metadata: unknown field "x"`},
		{"wrong type", `{"text":5}`, "cannot unmarshal number"},
		{"not an object", `[]`, "cannot unmarshal array"},
		{"trailing data", `{"text":"hi"} {}`, "after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var m slack.Message
			err := json.Unmarshal([]byte(tt.in), &m)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Unmarshal error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMessageTrailingDataDirect(t *testing.T) {
	t.Parallel()
	// json.Unmarshal refuses trailing data before UnmarshalJSON runs; a
	// direct call must refuse it too.
	var m slack.Message
	if err := m.UnmarshalJSON([]byte(`{"text":"hi"} {}`)); err == nil || !strings.Contains(err.Error(), "unexpected data") {
		t.Fatalf("UnmarshalJSON error = %v, want unexpected data", err)
	}
}

func TestMessageBody(t *testing.T) {
	t.Parallel()
	no := false
	tests := []struct {
		name string
		msg  slack.Message
		want string
	}{
		{"text only", slack.Message{Text: "a <https://example.com|link> & more"}, `{"text":"a <https://example.com|link> & more"}`},
		{"explicit false kept", slack.Message{Text: "x", UnfurlLinks: &no, ReplaceOriginal: &no},
			`{"text":"x","replace_original":false,"unfurl_links":false}`},
		{"raw blocks compacted", slack.Message{Blocks: []json.RawMessage{json.RawMessage(`{ "type": "divider" }`)}},
			`{"blocks":[{"type":"divider"}]}`},
		{"metadata", slack.Message{Text: "x", Metadata: &slack.Metadata{EventType: "deploy", EventPayload: json.RawMessage(`{"v":1}`)}},
			`{"text":"x","metadata":{"event_type":"deploy","event_payload":{"v":1}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, err := tt.msg.Body()
			if err != nil {
				t.Fatalf("Body: %v", err)
			}
			if string(body) != tt.want {
				t.Errorf("Body = %s, want %s", body, tt.want)
			}
		})
	}
}

func TestMessageBodyRoundTrip(t *testing.T) {
	t.Parallel()
	in := `{"text":"t","blocks":[{"type":"section","block_id":"b1","text":{"type":"mrkdwn","text":"*x*"}}],"attachments":[{"color":"#36a64f","fallback":"f"}],"response_type":"in_channel","replace_original":true,"delete_original":false,"unfurl_links":false,"unfurl_media":false,"metadata":{"event_type":"deploy","event_payload":{"v":"1"}},"thread_ts":"1712345678.123456","username":"ci","icon_emoji":":rocket:","icon_url":"https://example.com/i.png","channel":"#deploys"}`
	var m slack.Message
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	body, err := m.Body()
	if err != nil {
		t.Fatalf("Body: %v", err)
	}
	if string(body) != in {
		t.Errorf("Body = %s\nwant    %s", body, in)
	}
}

func TestMessageBodyInvalidRaw(t *testing.T) {
	t.Parallel()
	m := slack.Message{Blocks: []json.RawMessage{json.RawMessage(`{`)}}
	if _, err := m.Body(); err == nil {
		t.Fatal("Body of a message with a broken block: no error")
	}
}
