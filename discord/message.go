// Package discord sends Discord webhook messages: it decodes and builds the
// execute-webhook body, checks it against Discord's documented limits before
// any request is made (an invalid request costs Discord's invalid-request
// budget, which ends in a temporary ban of the address), applies the worker's
// default identity, and paces requests per webhook from Discord's rate-limit
// headers so that bursts wait for the bucket's reset instead of collecting
// 429s. The HTTP delivery itself (retries, proxies, results) is delegated to
// a Sender, normally a *sender.Sender.
//
// A webhook's token (the last segment of its URL path) never appears in an
// error, a Result or a log line.
package discord

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Message flags a webhook may set.
const (
	// SuppressEmbeds hides the link previews of the message.
	SuppressEmbeds = 1 << 2
	// SuppressNotifications sends the message without a push or desktop
	// notification.
	SuppressNotifications = 1 << 12
)

// Message is one Discord webhook message: the job's discord object. It
// encodes as that object (thread_id included); the body sent to Discord is
// built from it without thread_id, which goes in the query string. Fields
// left at their zero value are not sent.
type Message struct {
	// Content is the message text, at most 2000 characters.
	Content string `json:"content,omitempty"`
	// Username overrides the webhook's name (and the Client's default), 1 to
	// 80 characters.
	Username string `json:"username,omitempty"`
	// AvatarURL overrides the webhook's avatar (and the Client's default).
	AvatarURL string `json:"avatar_url,omitempty"`
	// TTS sends the message as text-to-speech.
	TTS bool `json:"tts,omitempty"`
	// Embeds are up to 10 rich embeds.
	Embeds []Embed `json:"embeds,omitempty"`
	// AllowedMentions controls which mentions in Content notify anyone.
	// Nil leaves Discord's default (mentions are parsed from the content).
	AllowedMentions *AllowedMentions `json:"allowed_mentions,omitempty"`
	// Flags is a combination of SuppressEmbeds and SuppressNotifications.
	Flags int `json:"flags,omitempty"`
	// ThreadID posts into this thread of the webhook's channel: a snowflake
	// (digits). It is sent as the thread_id query parameter.
	ThreadID string `json:"thread_id,omitempty"`
	// ThreadName creates a thread with this name (forum and media channels
	// only). It cannot be combined with ThreadID.
	ThreadName string `json:"thread_name,omitempty"`
}

// messageFields are the keys a discord object may hold, for the error on an
// unknown one.
var messageFields = []string{"content", "username", "avatar_url", "tts", "embeds",
	"allowed_mentions", "flags", "thread_id", "thread_name"}

// UnmarshalJSON decodes a discord object. A key that Message does not know
// (attachments, components, poll, a misspelt "content", …) is an error that
// names the key, rather than being dropped silently: such a message would not
// be sent as its producer meant it. The same holds for allowed_mentions;
// an embed, by contrast, passes keys it does not know on to Discord (see
// Embed).
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var p plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown field %s (not supported; the fields are %s)", name, strings.Join(messageFields, ", "))
		}
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the discord object")
	}
	*m = Message(p)
	return nil
}

// Body returns the JSON body of the execute-webhook request for m: every
// field that is set, except ThreadID (a query parameter). It does not
// check m; see Validate.
func (m Message) Body() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// thread_id goes in the query string, not the body.
	m.ThreadID = ""
	err := enc.Encode(m)
	if err != nil {
		return nil, fmt.Errorf("discord: encode body: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// AllowedMentions is Discord's allowed_mentions object.
type AllowedMentions struct {
	// Parse lists the mention types parsed from the content: "roles",
	// "users", "everyone". A non-nil empty slice (JSON []) parses none; nil
	// leaves the key out.
	Parse []string `json:"parse"`
	// Roles and Users list the role and user ids that may be mentioned, at
	// most 100 each.
	Roles []string `json:"roles,omitempty"`
	Users []string `json:"users,omitempty"`
	// RepliedUser is for replies, which webhooks do not send; kept for
	// completeness.
	RepliedUser bool `json:"replied_user,omitempty"`
}

// mentionFields are the keys an allowed_mentions object may hold.
var mentionFields = []string{"parse", "roles", "users", "replied_user"}

// UnmarshalJSON decodes an allowed_mentions object. As in Message, an unknown
// key is an error that names it: a misspelt "parse" would otherwise leave
// every mention enabled.
func (a *AllowedMentions) UnmarshalJSON(data []byte) error {
	type plain AllowedMentions
	var p plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("allowed_mentions: unknown field %s (the fields are %s)", name, strings.Join(mentionFields, ", "))
		}
		return err
	}
	*a = AllowedMentions(p)
	return nil
}

// MarshalJSON encodes a, leaving parse out when it is nil and keeping an
// empty parse as [] (which suppresses every mention).
func (a AllowedMentions) MarshalJSON() ([]byte, error) {
	type plain AllowedMentions
	if a.Parse != nil {
		return json.Marshal(plain(a))
	}
	return json.Marshal(struct {
		Roles       []string `json:"roles,omitempty"`
		Users       []string `json:"users,omitempty"`
		RepliedUser bool     `json:"replied_user,omitempty"`
	}{a.Roles, a.Users, a.RepliedUser})
}

// Embed is one rich embed. An Embed decoded from JSON remembers that JSON
// and, as long as its typed fields are not changed, encodes back to it
// verbatim, so that fields this type does not know are passed on to
// Discord. When a decoded Embed is changed, it encodes as its typed fields
// plus the unknown top-level keys of the original JSON.
type Embed struct {
	// Title is at most 256 characters.
	Title string `json:"title,omitempty"`
	// Description is at most 4096 characters.
	Description string `json:"description,omitempty"`
	// URL is the link of the title.
	URL string `json:"url,omitempty"`
	// Timestamp is shown in the footer: RFC 3339, for example
	// time.Now().UTC().Format(time.RFC3339).
	Timestamp string `json:"timestamp,omitempty"`
	// Color is the side bar colour, 0xRRGGBB.
	Color int `json:"color,omitempty"`
	// Footer's text is at most 2048 characters.
	Footer *Footer `json:"footer,omitempty"`
	// Image and Thumbnail are shown by URL.
	Image     *Media `json:"image,omitempty"`
	Thumbnail *Media `json:"thumbnail,omitempty"`
	// Author's name is at most 256 characters.
	Author *Author `json:"author,omitempty"`
	// Fields are at most 25; each needs a name (at most 256 characters) and
	// a value (at most 1024).
	Fields []Field `json:"fields,omitempty"`

	// raw is the JSON the Embed was decoded from; typed is the encoding of
	// its typed fields at that time, to tell whether they changed since.
	raw   json.RawMessage
	typed []byte
}

// Footer is an embed's footer.
type Footer struct {
	// Text is at most 2048 characters.
	Text string `json:"text"`
	// IconURL is the footer's icon.
	IconURL string `json:"icon_url,omitempty"`
}

// Media is an embed's image or thumbnail.
type Media struct {
	// URL is where the image is.
	URL string `json:"url"`
}

// Author is an embed's author line.
type Author struct {
	// Name is at most 256 characters.
	Name string `json:"name"`
	// URL is the link of the name.
	URL string `json:"url,omitempty"`
	// IconURL is the author's icon.
	IconURL string `json:"icon_url,omitempty"`
}

// Field is one name/value pair of an embed.
type Field struct {
	// Name is required, at most 256 characters.
	Name string `json:"name"`
	// Value is required, at most 1024 characters.
	Value string `json:"value"`
	// Inline shows the field beside its neighbours.
	Inline bool `json:"inline,omitempty"`
}

// embedFields is Embed without its methods, for encoding its typed fields
// (encoding/json skips the unexported memory).
type embedFields Embed

// UnmarshalJSON decodes an embed object and remembers it (see Embed).
func (e *Embed) UnmarshalJSON(data []byte) error {
	var f embedFields
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	typed, err := json.Marshal(f)
	if err != nil {
		return err
	}
	*e = Embed(f)
	e.raw, e.typed = bytes.Clone(data), typed
	return nil
}

// MarshalJSON encodes the embed: verbatim as decoded when unchanged, else its
// typed fields plus the unknown keys it was decoded with.
func (e Embed) MarshalJSON() ([]byte, error) {
	typed, err := json.Marshal(embedFields(e))
	if err != nil || e.raw == nil {
		return typed, err
	}
	if bytes.Equal(typed, e.typed) {
		return e.raw, nil
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(e.raw, &merged); err != nil {
		return nil, err
	}
	for _, k := range embedKeys {
		delete(merged, k)
	}
	var current map[string]json.RawMessage
	if err := json.Unmarshal(typed, &current); err != nil {
		return nil, err
	}
	for k, v := range current {
		merged[k] = v
	}
	return json.Marshal(merged)
}

// embedKeys are the keys Embed knows.
var embedKeys = []string{"title", "description", "url", "timestamp", "color", "footer", "image", "thumbnail", "author", "fields"}
