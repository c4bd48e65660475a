package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack's documented limits for webhook messages. Lengths are in characters
// (Unicode code points), not bytes.
const (
	// MaxText is the longest text Slack takes; it truncates longer text.
	MaxText = 40000
	// MaxBlocks is the most blocks a message may hold.
	MaxBlocks = 50
	// MaxAttachments is the most attachments; past it Slack answers
	// too_many_attachments.
	MaxAttachments = 100
	// MaxBlockID is the longest block_id.
	MaxBlockID = 255
	// errorValueCharLimit bounds the value quoted in an error.
	errorValueCharLimit = 40
)

// InvalidError says why a message or webhook URL is refused before anything
// is sent. Its text names the field and the limit, e.g.
// "slack: blocks[3].block_id is 256 characters, the limit is 255".
type InvalidError struct {
	// Field is the JSON path of the offending field, e.g.
	// "blocks[3].type"; empty for the message as a whole.
	Field string
	// Reason is what is wrong with it.
	Reason string
}

// Error reads "slack: <field> <reason>", or "slack: <reason>" for the
// message as a whole.
func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "slack: " + e.Reason
	}
	return "slack: " + e.Field + " " + e.Reason
}

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks m against Slack's documented limits for webhook messages,
// so that no request Slack would refuse is sent. It returns an
// *InvalidError.
//
// It checks: at least one of text, blocks and attachments; text at most
// MaxText characters; at most MaxBlocks blocks, each a JSON object with a
// non-empty string "type" and, when set, a string block_id of at most
// MaxBlockID characters, unique in the message; at most MaxAttachments
// attachments, each a JSON object; response_type in_channel or ephemeral;
// metadata with an event_type and an object event_payload; thread_ts a
// Slack timestamp ("1712345678.123456"); icon_emoji an emoji code
// (":rocket:"); icon_url an absolute http or https URL.
func (m Message) Validate() error {
	if strings.TrimSpace(m.Text) == "" && len(m.Blocks) == 0 && len(m.Attachments) == 0 {
		return invalid("", "message needs text, blocks or attachments")
	}
	if n := utf8.RuneCountInString(m.Text); n > MaxText {
		return invalid("text", "is %d characters, the limit is %d", n, MaxText)
	}
	if err := checkBlocks(m.Blocks); err != nil {
		return err
	}
	if n := len(m.Attachments); n > MaxAttachments {
		return invalid("attachments", "has %d attachments, the limit is %d", n, MaxAttachments)
	}
	for i, a := range m.Attachments {
		if !isObject(a) {
			return invalid(fmt.Sprintf("attachments[%d]", i), "is not a JSON object")
		}
	}
	switch m.ResponseType {
	case "", InChannel, Ephemeral:
	default:
		return invalid("response_type", "is %s, want %q or %q", quote(m.ResponseType), InChannel, Ephemeral)
	}
	if md := m.Metadata; md != nil {
		if strings.TrimSpace(md.EventType) == "" {
			return invalid("metadata.event_type", "is required")
		}
		if !isObject(md.EventPayload) {
			return invalid("metadata.event_payload", "must be a JSON object")
		}
	}
	if m.ThreadTS != "" && !timestamp(m.ThreadTS) {
		return invalid("thread_ts", "is %s, not a message timestamp such as \"1712345678.123456\"", quote(m.ThreadTS))
	}
	if m.IconEmoji != "" && !emoji(m.IconEmoji) {
		return invalid("icon_emoji", "is %s, not an emoji code such as \":rocket:\"", quote(m.IconEmoji))
	}
	if m.IconURL != "" {
		u, err := url.Parse(m.IconURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("icon_url", "is not an absolute http or https URL")
		}
	}
	return nil
}

// block is the part of a block Validate looks at.
type block struct {
	Type    *string         `json:"type"`
	BlockID json.RawMessage `json:"block_id"`
}

// checkBlocks checks the structure of the blocks (see Validate).
func checkBlocks(blocks []json.RawMessage) error {
	if n := len(blocks); n > MaxBlocks {
		return invalid("blocks", "has %d blocks, the limit is %d", n, MaxBlocks)
	}
	var ids map[string]int
	for i, raw := range blocks {
		field := fmt.Sprintf("blocks[%d]", i)
		var b block
		if !isObject(raw) {
			return invalid(field, "is not a JSON object")
		}
		if err := json.Unmarshal(raw, &b); err != nil || b.Type == nil {
			return invalid(field+".type", "must be a string")
		}
		if strings.TrimSpace(*b.Type) == "" {
			return invalid(field+".type", "is empty")
		}
		if b.BlockID == nil || string(b.BlockID) == "null" {
			continue
		}
		var id string
		if json.Unmarshal(b.BlockID, &id) != nil {
			return invalid(field+".block_id", "must be a string")
		}
		if n := utf8.RuneCountInString(id); n > MaxBlockID {
			return invalid(field+".block_id", "is %d characters, the limit is %d", n, MaxBlockID)
		}
		if id == "" {
			return invalid(field+".block_id", "is empty")
		}
		if j, dup := ids[id]; dup {
			return invalid(field+".block_id", "%s repeats blocks[%d].block_id; block ids must be unique", quote(id), j)
		}
		if ids == nil {
			ids = make(map[string]int)
		}
		ids[id] = i
	}
	return nil
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// timestamp reports whether s is a Slack message timestamp: digits, a dot,
// digits.
func timestamp(s string) bool {
	sec, frac, ok := strings.Cut(s, ".")
	return ok && digits(sec) && digits(frac)
}

// emoji reports whether s is an emoji code: ":name:" where name is letters,
// digits, and _ + - ' characters, with an optional skin tone suffix
// "::skin-tone-N".
func emoji(s string) bool {
	inner, ok := strings.CutPrefix(s, ":")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, ":")
	if !ok || inner == "" {
		return false
	}
	for _, part := range strings.Split(inner, "::") {
		if part == "" {
			return false
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+-'", c)) {
				return false
			}
		}
	}
	return true
}

// digits reports whether s is one or more decimal digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// quote quotes s for an error, cut to errorValueCharLimit characters.
func quote(s string) string {
	if r := []rune(s); len(r) > errorValueCharLimit {
		s = string(r[:errorValueCharLimit]) + "…"
	}
	return strconv.Quote(s)
}
