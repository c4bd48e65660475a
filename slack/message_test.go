package slack_test

import (
	"encoding/json"
	"errors"
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
		{"unknown key", `{"text":"hi","txt":"x"}`, `slack: txt is not supported (the fields are text, blocks,`},
		{"headers is not a body field", `{"text":"hi","headers":{}}`, `slack: headers is not supported`},
		{"unknown metadata key", `{"text":"hi","metadata":{"event_type":"e","event_payload":{},"x":1}}`, `slack: metadata.x is not supported (the fields are event_type, event_payload)`},
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
	if err := m.UnmarshalJSON([]byte(`{"text":"hi"} {}`)); err == nil || !strings.Contains(err.Error(), "data after the object") {
		t.Fatalf("UnmarshalJSON error = %v, want data after the object", err)
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

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		wantField string // "-" when valid
		wantText  string
	}{
		{"valid", `{"text":"hi","blocks":[{"type":"divider"}]}`, "-", ""},
		{"no text, blocks or attachments", `{"unfurl_links":false}`, "", "slack: message needs text, blocks or attachments"},
		{"51 blocks", `{"blocks":[` + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]}`, "blocks", "slack: blocks has 51 blocks, the limit is 50"},
		{"unknown key", `{"text":"hi","attachment":[]}`, "attachment", "slack: attachment is not supported"},
		{"unknown metadata key", `{"text":"hi","metadata":{"event_type":"e","payload":{}}}`, "metadata.payload", "slack: metadata.payload is not supported"},
		{"text a number", `{"text":5}`, "text", "slack: text is a JSON number, want a string"},
		{"flag a string", `{"text":"x","unfurl_links":"no"}`, "unfurl_links", "slack: unfurl_links is a JSON string, want true or false"},
		{"blocks an object", `{"blocks":{}}`, "blocks", "slack: blocks is a JSON object, want an array"},
		{"metadata a string", `{"text":"x","metadata":"m"}`, "metadata", "slack: metadata is a JSON string, want an object"},
		{"event_type a number", `{"text":"x","metadata":{"event_type":1,"event_payload":{}}}`, "metadata.event_type", "slack: metadata.event_type is a JSON number, want a string"},
		{"array", `[]`, "message", "slack: message is a JSON array, want an object"},
		{"broken", `{"text":`, "", "slack: message is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := slack.Decode([]byte(tt.in))
			if tt.wantField == "-" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if m.Text != "hi" || len(m.Blocks) != 1 {
					t.Errorf("Decode = %+v", m)
				}
				return
			}
			var ie *slack.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Decode error = %v (%T), want an *InvalidError", err, err)
			}
			if ie.Field != tt.wantField || !strings.HasPrefix(err.Error(), tt.wantText) {
				t.Errorf("Decode error = field %q, %q; want field %q, %q…", ie.Field, err, tt.wantField, tt.wantText)
			}
			if strings.Contains(err.Error(), "Go") || strings.Contains(err.Error(), "plain") {
				t.Errorf("Decode error %q shows Go types", err)
			}
		})
	}
}
