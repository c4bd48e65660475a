package discord

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Discord's documented limits for webhook messages. Lengths are in
// characters (Unicode code points), not bytes.
const (
	MaxContent          = 2000
	MaxEmbeds           = 10
	MaxTitle            = 256
	MaxDescription      = 4096
	MaxFields           = 25
	MaxFieldName        = 256
	MaxFieldValue       = 1024
	MaxFooterText       = 2048
	MaxAuthorName       = 256
	MaxEmbedText        = 6000 // all embeds of a message together
	MaxUsername         = 80
	MaxThreadName       = 100
	MaxMentionIDs       = 100
	maxColor            = 0xFFFFFF
	webhookFlags        = SuppressEmbeds | SuppressNotifications
	maxSnowflakeDigits  = 20
	errorValueCharLimit = 40
)

// InvalidError says why a message is refused before it is sent. Its text
// names the field and the limit, e.g. "discord: embeds[0].fields[3].value is
// 1025 characters, the limit is 1024".
type InvalidError struct {
	// Field is the JSON path of the offending field, e.g.
	// "embeds[0].title"; empty for the message as a whole.
	Field string
	// Reason is what is wrong with it.
	Reason string
}

// Error reads "discord: <field> <reason>", or "discord: <reason>" for the
// message as a whole.
func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "discord: " + e.Reason
	}
	return "discord: " + e.Field + " " + e.Reason
}

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// tooLong returns an error when s is longer than limit characters.
func tooLong(field, s string, limit int) error {
	if n := utf8.RuneCountInString(s); n > limit {
		return invalid(field, "is %d characters, the limit is %d", n, limit)
	}
	return nil
}

// Validate checks m against Discord's limits for webhook messages, so that
// no request Discord would refuse is sent. It returns an *InvalidError.
func (m Message) Validate() error {
	if strings.TrimSpace(m.Content) == "" && len(m.Embeds) == 0 {
		return invalid("", "message needs content or embeds")
	}
	if err := tooLong("content", m.Content, MaxContent); err != nil {
		return err
	}
	if m.Username != "" {
		if err := CheckUsername(m.Username); err != nil {
			return err
		}
	}
	if m.AvatarURL != "" {
		if err := checkURL("avatar_url", m.AvatarURL); err != nil {
			return err
		}
	}
	if len(m.Embeds) > MaxEmbeds {
		return invalid("embeds", "has %d embeds, the limit is %d", len(m.Embeds), MaxEmbeds)
	}
	total := 0
	for i := range m.Embeds {
		n, err := m.Embeds[i].check(fmt.Sprintf("embeds[%d]", i))
		if err != nil {
			return err
		}
		total += n
	}
	if total > MaxEmbedText {
		return invalid("embeds", "hold %d characters of text in all, the limit is %d", total, MaxEmbedText)
	}
	if m.AllowedMentions != nil {
		if err := m.AllowedMentions.check(); err != nil {
			return err
		}
	}
	if extra := m.Flags &^ webhookFlags; extra != 0 || m.Flags < 0 {
		return invalid("flags", "%d sets flags a webhook may not set (only SUPPRESS_EMBEDS %d and SUPPRESS_NOTIFICATIONS %d)",
			m.Flags, SuppressEmbeds, SuppressNotifications)
	}
	if m.ThreadID != "" && m.ThreadName != "" {
		return invalid("", "thread_id and thread_name cannot both be set")
	}
	if m.ThreadID != "" && !snowflake(m.ThreadID) {
		return invalid("thread_id", "%s is not a snowflake (digits)", quote(m.ThreadID))
	}
	if m.ThreadName != "" {
		if strings.TrimSpace(m.ThreadName) == "" {
			return invalid("thread_name", "is blank")
		}
		if err := tooLong("thread_name", m.ThreadName, MaxThreadName); err != nil {
			return err
		}
	}
	return nil
}

// CheckUsername applies Discord's rules for a webhook username (not blank,
// at most MaxUsername characters, no "discord" or "clyde", not "everyone"
// or "here"); it returns an *InvalidError. It is the one place the rules
// are checked.
func CheckUsername(name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid("username", "is blank")
	}
	if err := tooLong("username", name, MaxUsername); err != nil {
		return err
	}
	lower := strings.ToLower(name)
	for _, word := range []string{"discord", "clyde"} {
		if strings.Contains(lower, word) {
			return invalid("username", "%s contains %q, which Discord refuses", quote(name), word)
		}
	}
	switch strings.TrimSpace(lower) {
	case "everyone", "here":
		return invalid("username", "%s is refused by Discord", quote(name))
	}
	return nil
}

// check checks one embed and returns the characters of text it holds.
func (e *Embed) check(path string) (int, error) {
	limits := []struct {
		field string
		text  string
		limit int
	}{
		{"title", e.Title, MaxTitle},
		{"description", e.Description, MaxDescription},
	}
	total := 0
	for _, l := range limits {
		if err := tooLong(path+"."+l.field, l.text, l.limit); err != nil {
			return 0, err
		}
		total += utf8.RuneCountInString(l.text)
	}
	if e.URL != "" {
		if err := checkURL(path+".url", e.URL); err != nil {
			return 0, err
		}
	}
	if e.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339Nano, e.Timestamp); err != nil {
			return 0, invalid(path+".timestamp", "%s is not an RFC 3339 timestamp", quote(e.Timestamp))
		}
	}
	if e.Color < 0 || e.Color > maxColor {
		return 0, invalid(path+".color", "%d is not a colour from 0 to %d (0xFFFFFF)", e.Color, maxColor)
	}
	if f := e.Footer; f != nil {
		if f.Text == "" {
			return 0, invalid(path+".footer.text", "is required")
		}
		if err := tooLong(path+".footer.text", f.Text, MaxFooterText); err != nil {
			return 0, err
		}
		total += utf8.RuneCountInString(f.Text)
		if f.IconURL != "" {
			if err := checkURL(path+".footer.icon_url", f.IconURL); err != nil {
				return 0, err
			}
		}
	}
	for _, m := range []struct {
		field string
		media *Media
	}{{"image", e.Image}, {"thumbnail", e.Thumbnail}} {
		if m.media != nil {
			if err := checkURL(path+"."+m.field+".url", m.media.URL); err != nil {
				return 0, err
			}
		}
	}
	if a := e.Author; a != nil {
		if a.Name == "" {
			return 0, invalid(path+".author.name", "is required")
		}
		if err := tooLong(path+".author.name", a.Name, MaxAuthorName); err != nil {
			return 0, err
		}
		total += utf8.RuneCountInString(a.Name)
		for _, u := range [...]struct{ field, url string }{{"url", a.URL}, {"icon_url", a.IconURL}} {
			if u.url != "" {
				if err := checkURL(path+".author."+u.field, u.url); err != nil {
					return 0, err
				}
			}
		}
	}
	if len(e.Fields) > MaxFields {
		return 0, invalid(path+".fields", "has %d fields, the limit is %d", len(e.Fields), MaxFields)
	}
	for i, f := range e.Fields {
		fp := fmt.Sprintf("%s.fields[%d]", path, i)
		if strings.TrimSpace(f.Name) == "" {
			return 0, invalid(fp+".name", "is required")
		}
		if strings.TrimSpace(f.Value) == "" {
			return 0, invalid(fp+".value", "is required")
		}
		if err := tooLong(fp+".name", f.Name, MaxFieldName); err != nil {
			return 0, err
		}
		if err := tooLong(fp+".value", f.Value, MaxFieldValue); err != nil {
			return 0, err
		}
		total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
	}
	return total, nil
}

// check applies Discord's rules for allowed_mentions.
func (a *AllowedMentions) check() error {
	var users, roles bool
	for i, p := range a.Parse {
		switch p {
		case "users":
			users = true
		case "roles":
			roles = true
		case "everyone":
		default:
			return invalid(fmt.Sprintf("allowed_mentions.parse[%d]", i), "%s is not one of roles, users, everyone", quote(p))
		}
	}
	if users && len(a.Users) > 0 {
		return invalid("allowed_mentions", "cannot both parse users and list users")
	}
	if roles && len(a.Roles) > 0 {
		return invalid("allowed_mentions", "cannot both parse roles and list roles")
	}
	for _, l := range [...]struct {
		name string
		ids  []string
	}{{"users", a.Users}, {"roles", a.Roles}} {
		name, ids := l.name, l.ids
		if len(ids) > MaxMentionIDs {
			return invalid("allowed_mentions."+name, "has %d ids, the limit is %d", len(ids), MaxMentionIDs)
		}
		for i, id := range ids {
			if !snowflake(id) {
				return invalid(fmt.Sprintf("allowed_mentions.%s[%d]", name, i), "%s is not a snowflake (digits)", quote(id))
			}
		}
	}
	return nil
}

// checkURL requires an absolute http or https URL with a host.
func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return invalid(field, "is not an absolute http or https URL")
	}
	switch u.Scheme {
	case "http", "https":
		return nil
	case "attachment":
		return invalid(field, "refers to an attachment; attachments are not supported")
	}
	return invalid(field, "has scheme %q; only http and https are allowed", u.Scheme)
}

// snowflake reports whether s is a Discord id: 1 to 20 decimal digits.
func snowflake(s string) bool {
	if s == "" || len(s) > maxSnowflakeDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// quote quotes a value for an error, cut to a few characters.
func quote(s string) string {
	if utf8.RuneCountInString(s) > errorValueCharLimit {
		r := []rune(s)
		s = string(r[:errorValueCharLimit]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
