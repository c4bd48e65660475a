// Package slack sends Slack messages to incoming webhooks and response URLs:
// it decodes and builds the message body (the fields Slack's webhook client
// sends: text, blocks, attachments, response_type, replace_original,
// delete_original, unfurl_links, unfurl_media, metadata, thread_ts and the
// legacy username, icon_emoji, icon_url and channel), checks it against
// Slack's documented limits before any request is made, tells Slack's answers
// apart (Classify: "ok", an error code such as channel_not_found, a 429, a
// server error), and paces requests per webhook to Slack's documented rate of
// about one message a second, so that a burst is spaced out instead of
// answered with 429s. The HTTP delivery itself (retries, proxies, results)
// is delegated to a Sender, normally a *sender.Sender.
//
// The pieces stand alone: Message and Validate need no network, Classify is a
// pure function of a response, Pacer is a sender.Pacer, and Client only
// glues them to a Sender. Client.Prepare is the worker's Deliverer of
// jobs of type slack.
//
// A webhook's token (the last segment of its URL path) never appears in an
// error, a Result or a log line.
package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Values of Message.ResponseType.
const (
	// InChannel shows a response_url message to everyone in the channel.
	InChannel = "in_channel"
	// Ephemeral shows a response_url message only to the user who acted.
	Ephemeral = "ephemeral"
)

// Message is one Slack webhook message: the job's slack object. It encodes
// as that object, which is also the body sent to Slack. Fields left at their
// zero value (nil for the pointers) are not sent.
//
// Blocks and attachments are passed on as the JSON they were given, after
// structural checks (see Validate): Slack's Block Kit grows faster than a
// copy of its types would.
type Message struct {
	// Text is the message text (mrkdwn), at most 40,000 characters. With
	// blocks, it is the fallback shown in notifications.
	Text string `json:"text,omitempty"`
	// Blocks are up to 50 Block Kit blocks, each a JSON object with a
	// string "type".
	Blocks []json.RawMessage `json:"blocks,omitempty"`
	// Attachments are up to 100 legacy attachments, each a JSON object.
	Attachments []json.RawMessage `json:"attachments,omitempty"`
	// ResponseType is InChannel or Ephemeral, for a response_url.
	ResponseType string `json:"response_type,omitempty"`
	// ReplaceOriginal replaces the message a response_url belongs to.
	ReplaceOriginal *bool `json:"replace_original,omitempty"`
	// DeleteOriginal deletes the message a response_url belongs to.
	DeleteOriginal *bool `json:"delete_original,omitempty"`
	// UnfurlLinks and UnfurlMedia turn link and media previews on or off;
	// nil leaves Slack's default.
	UnfurlLinks *bool `json:"unfurl_links,omitempty"`
	UnfurlMedia *bool `json:"unfurl_media,omitempty"`
	// Metadata is the message's event metadata.
	Metadata *Metadata `json:"metadata,omitempty"`
	// ThreadTS posts the message as a reply in this thread: the parent's
	// ts, such as "1712345678.123456".
	ThreadTS string `json:"thread_ts,omitempty"`
	// Username, IconEmoji, IconURL and Channel are legacy overrides that
	// only webhooks of legacy custom integrations honour; app webhooks
	// ignore them.
	Username  string `json:"username,omitempty"`
	IconEmoji string `json:"icon_emoji,omitempty"`
	IconURL   string `json:"icon_url,omitempty"`
	Channel   string `json:"channel,omitempty"`
}

// Metadata is a message's event metadata.
type Metadata struct {
	// EventType names the event, such as "task_created"; required.
	EventType string `json:"event_type"`
	// EventPayload is the event's data, a JSON object; required.
	EventPayload json.RawMessage `json:"event_payload"`
}

// messageFields and metadataFields are the keys the objects may hold, for
// the error on an unknown one.
var (
	messageFields = []string{"text", "blocks", "attachments", "response_type", "replace_original",
		"delete_original", "unfurl_links", "unfurl_media", "metadata", "thread_ts",
		"username", "icon_emoji", "icon_url", "channel"}
	metadataFields = []string{"event_type", "event_payload"}
)

// UnmarshalJSON decodes a slack object. A key that Message does not know (a
// misspelt "text", or "headers", which is not part of the body) is an
// *InvalidError that names the key, rather than being dropped silently:
// such a message would not be sent as its producer meant it. The same holds
// for metadata.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var p plain
	if err := strict(data, &p, "", messageFields); err != nil {
		return err
	}
	*m = Message(p)
	return nil
}

// UnmarshalJSON decodes a metadata object, refusing unknown keys as Message
// does.
func (md *Metadata) UnmarshalJSON(data []byte) error {
	type plain Metadata
	var p plain
	if err := strict(data, &p, "metadata.", metadataFields); err != nil {
		return err
	}
	*md = Metadata(p)
	return nil
}

// strict decodes data into v refusing unknown keys, with an error that names
// the key (after prefix, its path) and lists the known ones.
func strict(data []byte, v any, prefix string, known []string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if n, err := strconv.Unquote(name); err == nil {
				name = n
			}
			return &InvalidError{Field: prefix + name, Reason: "is not supported (the fields are " + strings.Join(known, ", ") + ")"}
		}
		return err
	}
	if dec.More() {
		return &InvalidError{Field: strings.TrimSuffix(prefix, "."), Reason: "has data after the object"}
	}
	return nil
}

// Decode decodes a job's slack object and checks it (see Validate): what a
// job decoder calls, so that a message Slack would refuse is rejected before
// the job is taken on. Every error is an *InvalidError naming the field,
// without Go type names ("slack: text is a JSON number, want a string").
func Decode(data []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return Message{}, decodeError(err)
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// decodeError turns a JSON decoding error into an *InvalidError.
func decodeError(err error) error {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "message"
		}
		return &InvalidError{Field: field, Reason: "is a JSON " + te.Value + ", want " + jsonKind(te.Type)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &InvalidError{Reason: "message is not valid JSON: " + strings.TrimPrefix(se.Error(), "json: ")}
	}
	return &InvalidError{Reason: "message: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		if t == reflect.TypeFor[json.RawMessage]() {
			return "a JSON value"
		}
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	}
	return "another value"
}

// Body returns the JSON body of the request for m: every field that is set,
// blocks, attachments and the metadata's payload as given (compacted, with
// any invalid UTF-8 replaced by U+FFFD, as encoding/json does for strings).
// It does not check m; see Validate.
func (m Message) Body() ([]byte, error) {
	m.Blocks = validUTF8(m.Blocks)
	m.Attachments = validUTF8(m.Attachments)
	if md := m.Metadata; md != nil && !utf8.Valid(md.EventPayload) {
		m.Metadata = &Metadata{EventType: md.EventType, EventPayload: bytes.ToValidUTF8(md.EventPayload, replacement)}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("slack: encode body: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// replacement is U+FFFD, the Unicode replacement character, in UTF-8.
var replacement = []byte("\uFFFD")

// validUTF8 returns raws, or a copy with invalid UTF-8 replaced when one
// holds some. Invalid bytes can only sit in JSON strings, so the result is
// still valid JSON.
func validUTF8(raws []json.RawMessage) []json.RawMessage {
	for i, r := range raws {
		if utf8.Valid(r) {
			continue
		}
		out := append([]json.RawMessage(nil), raws...)
		for j := i; j < len(out); j++ {
			if !utf8.Valid(out[j]) {
				out[j] = bytes.ToValidUTF8(out[j], replacement)
			}
		}
		return out
	}
	return raws
}
