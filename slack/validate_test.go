package slack_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/slack"
)

// blocks returns n divider blocks.
func blocks(n int) []json.RawMessage {
	b := make([]json.RawMessage, n)
	for i := range b {
		b[i] = json.RawMessage(`{"type":"divider"}`)
	}
	return b
}

func TestValidate(t *testing.T) {
	t.Parallel()
	raw := func(s ...string) []json.RawMessage {
		out := make([]json.RawMessage, len(s))
		for i, v := range s {
			out[i] = json.RawMessage(v)
		}
		return out
	}
	tests := []struct {
		name      string
		msg       slack.Message
		wantField string // "-" when valid
		wantText  string
	}{
		{"text", slack.Message{Text: "hi"}, "-", ""},
		{"blocks only", slack.Message{Blocks: blocks(1)}, "-", ""},
		{"attachments only", slack.Message{Attachments: raw(`{"text":"a"}`)}, "-", ""},
		{"text at the limit", slack.Message{Text: strings.Repeat("é", slack.MaxText)}, "-", ""},
		{"50 blocks", slack.Message{Blocks: blocks(50)}, "-", ""},
		{"100 attachments", slack.Message{Attachments: raw(slices100(`{}`)...)}, "-", ""},
		{"every option", slack.Message{Text: "x", ResponseType: slack.Ephemeral, ThreadTS: "1712345678.123456",
			IconEmoji: ":skin-tone::skin-tone-2:", IconURL: "https://example.com/i.png",
			Metadata: &slack.Metadata{EventType: "deploy", EventPayload: json.RawMessage(`{}`)}}, "-", ""},
		{"block ids", slack.Message{Blocks: raw(`{"type":"section","block_id":"a"}`, `{"type":"section","block_id":"b"}`, `{"type":"divider","block_id":null}`)}, "-", ""},

		{"empty", slack.Message{}, "", "message needs text, blocks or attachments"},
		{"blank text", slack.Message{Text: " \n"}, "", "message needs text, blocks or attachments"},
		{"text too long", slack.Message{Text: strings.Repeat("é", slack.MaxText+1)}, "text", "is 40001 characters, the limit is 40000"},
		{"51 blocks", slack.Message{Blocks: blocks(51)}, "blocks", "has 51 blocks, the limit is 50"},
		{"101 attachments", slack.Message{Attachments: raw(append(slices100(`{}`), `{}`)...)}, "attachments", "has 101 attachments, the limit is 100"},
		{"block not an object", slack.Message{Blocks: raw(`{"type":"divider"}`, `"divider"`)}, "blocks[1]", "is not a JSON object"},
		{"block without type", slack.Message{Blocks: raw(`{"text":"x"}`)}, "blocks[0].type", "must be a string"},
		{"block type number", slack.Message{Blocks: raw(`{"type":5}`)}, "blocks[0].type", "must be a string"},
		{"block type empty", slack.Message{Blocks: raw(`{"type":""}`)}, "blocks[0].type", "is empty"},
		{"block_id number", slack.Message{Blocks: raw(`{"type":"divider","block_id":1}`)}, "blocks[0].block_id", "must be a string"},
		{"block_id empty", slack.Message{Blocks: raw(`{"type":"divider","block_id":""}`)}, "blocks[0].block_id", "is empty"},
		{"block_id too long", slack.Message{Blocks: raw(`{"type":"divider","block_id":"` + strings.Repeat("b", 256) + `"}`)}, "blocks[0].block_id", "is 256 characters, the limit is 255"},
		{"block_id repeated", slack.Message{Blocks: raw(`{"type":"divider","block_id":"a"}`, `{"type":"divider"}`, `{"type":"divider","block_id":"a"}`)}, "blocks[2].block_id", `"a" repeats blocks[0].block_id`},
		{"attachment not an object", slack.Message{Attachments: raw(`{}`, `[]`)}, "attachments[1]", "is not a JSON object"},
		{"response_type", slack.Message{Text: "x", ResponseType: "channel"}, "response_type", `is "channel", want "in_channel" or "ephemeral"`},
		{"metadata without type", slack.Message{Text: "x", Metadata: &slack.Metadata{EventPayload: json.RawMessage(`{}`)}}, "metadata.event_type", "is required"},
		{"metadata without payload", slack.Message{Text: "x", Metadata: &slack.Metadata{EventType: "e"}}, "metadata.event_payload", "must be a JSON object"},
		{"metadata payload array", slack.Message{Text: "x", Metadata: &slack.Metadata{EventType: "e", EventPayload: json.RawMessage(`[1]`)}}, "metadata.event_payload", "must be a JSON object"},
		{"thread_ts", slack.Message{Text: "x", ThreadTS: "yesterday"}, "thread_ts", `is "yesterday"`},
		{"thread_ts without fraction", slack.Message{Text: "x", ThreadTS: "1712345678"}, "thread_ts", "not a message timestamp"},
		{"icon_emoji", slack.Message{Text: "x", IconEmoji: "rocket"}, "icon_emoji", `is "rocket", not an emoji code`},
		{"icon_emoji empty name", slack.Message{Text: "x", IconEmoji: "::"}, "icon_emoji", "not an emoji code"},
		{"icon_url relative", slack.Message{Text: "x", IconURL: "/i.png"}, "icon_url", "is not an absolute http or https URL"},
		{"icon_url scheme", slack.Message{Text: "x", IconURL: "ftp://example.com/i.png"}, "icon_url", "is not an absolute http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.msg.Validate()
			if tt.wantField == "-" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ie *slack.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Validate = %v, want an *InvalidError", err)
			}
			if ie.Field != tt.wantField || !strings.Contains(ie.Reason, tt.wantText) {
				t.Errorf("Validate = field %q reason %q, want field %q reason containing %q", ie.Field, ie.Reason, tt.wantField, tt.wantText)
			}
			if want := "slack: "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

// slices100 returns 100 copies of s.
func slices100(s string) []string {
	out := make([]string, 100)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestInvalidErrorQuoteIsBounded(t *testing.T) {
	t.Parallel()
	err := slack.Message{Text: "x", ResponseType: strings.Repeat("z", 1000)}.Validate()
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("Validate = %v, want a short error", err)
	}
}
