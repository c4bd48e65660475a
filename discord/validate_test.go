package discord_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/discord"
)

// text returns n characters of multibyte text (é is two bytes, 🚀 four),
// so that a byte count would break every limit.
func text(n int) string {
	var b strings.Builder
	for i := range n {
		if i%2 == 0 {
			b.WriteString("é")
		} else {
			b.WriteString("🚀")
		}
	}
	return b.String()
}

// embedWith returns a message with one embed changed by set.
func embedWith(set func(e *discord.Embed)) discord.Message {
	e := discord.Embed{Title: "t"}
	set(&e)
	return discord.Message{Embeds: []discord.Embed{e}}
}

func fields(n int) []discord.Field {
	fs := make([]discord.Field, n)
	for i := range fs {
		fs[i] = discord.Field{Name: "n", Value: "v"}
	}
	return fs
}

func embeds(n int) []discord.Embed {
	es := make([]discord.Embed, n)
	for i := range es {
		es[i] = discord.Embed{Description: "d"}
	}
	return es
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		at   discord.Message // exactly at the limit: valid
		over discord.Message // one over: invalid
		want string          // in the error of over
	}{
		{"content",
			discord.Message{Content: text(2000)},
			discord.Message{Content: text(2001)},
			"discord: content is 2001 characters, the limit is 2000"},
		{"embeds count",
			discord.Message{Embeds: embeds(10)},
			discord.Message{Embeds: embeds(11)},
			"discord: embeds has 11 embeds, the limit is 10"},
		{"title",
			embedWith(func(e *discord.Embed) { e.Title = text(256) }),
			embedWith(func(e *discord.Embed) { e.Title = text(257) }),
			"discord: embeds[0].title is 257 characters, the limit is 256"},
		{"description",
			embedWith(func(e *discord.Embed) { e.Description = text(4096) }),
			embedWith(func(e *discord.Embed) { e.Description = text(4097) }),
			"discord: embeds[0].description is 4097 characters, the limit is 4096"},
		{"fields count",
			embedWith(func(e *discord.Embed) { e.Fields = fields(25) }),
			embedWith(func(e *discord.Embed) { e.Fields = fields(26) }),
			"discord: embeds[0].fields has 26 fields, the limit is 25"},
		{"field name",
			embedWith(func(e *discord.Embed) { e.Fields = fields(4); e.Fields[3].Name = text(256) }),
			embedWith(func(e *discord.Embed) { e.Fields = fields(4); e.Fields[3].Name = text(257) }),
			"discord: embeds[0].fields[3].name is 257 characters, the limit is 256"},
		{"field value",
			embedWith(func(e *discord.Embed) { e.Fields = fields(4); e.Fields[3].Value = text(1024) }),
			embedWith(func(e *discord.Embed) { e.Fields = fields(4); e.Fields[3].Value = text(1025) }),
			"discord: embeds[0].fields[3].value is 1025 characters, the limit is 1024"},
		{"footer text",
			embedWith(func(e *discord.Embed) { e.Footer = &discord.Footer{Text: text(2048)} }),
			embedWith(func(e *discord.Embed) { e.Footer = &discord.Footer{Text: text(2049)} }),
			"discord: embeds[0].footer.text is 2049 characters, the limit is 2048"},
		{"author name",
			embedWith(func(e *discord.Embed) { e.Author = &discord.Author{Name: text(256)} }),
			embedWith(func(e *discord.Embed) { e.Author = &discord.Author{Name: text(257)} }),
			"discord: embeds[0].author.name is 257 characters, the limit is 256"},
		{"all embed text together",
			// 3 embeds: title 256 + description 1744 = 2000 each, 6000 in all.
			discord.Message{Embeds: []discord.Embed{
				{Title: text(256), Description: text(1744)},
				{Title: text(256), Description: text(1744)},
				{Title: text(256), Description: text(1744)},
			}},
			discord.Message{Embeds: []discord.Embed{
				{Title: text(256), Description: text(1744)},
				{Title: text(256), Description: text(1744)},
				{Title: text(256), Description: text(1743), Fields: []discord.Field{{Name: "n", Value: "v"}}},
			}},
			"discord: embeds hold 6001 characters of text in all, the limit is 6000"},
		{"embed text counts footer and author",
			discord.Message{Embeds: []discord.Embed{
				{Description: text(4000), Footer: &discord.Footer{Text: text(1744)}, Author: &discord.Author{Name: text(256)}},
			}},
			discord.Message{Embeds: []discord.Embed{
				{Description: text(4000), Footer: &discord.Footer{Text: text(1745)}, Author: &discord.Author{Name: text(256)}},
			}},
			"hold 6001 characters"},
		{"username",
			discord.Message{Content: "a", Username: text(80)},
			discord.Message{Content: "a", Username: text(81)},
			"discord: username is 81 characters, the limit is 80"},
		{"thread name",
			discord.Message{Content: "a", ThreadName: text(100)},
			discord.Message{Content: "a", ThreadName: text(101)},
			"discord: thread_name is 101 characters, the limit is 100"},
		{"flags",
			discord.Message{Content: "a", Flags: discord.SuppressEmbeds | discord.SuppressNotifications},
			discord.Message{Content: "a", Flags: discord.SuppressEmbeds | 1<<15},
			"discord: flags 32772 sets flags a webhook may not set"},
		{"color",
			embedWith(func(e *discord.Embed) { e.Color = 0xFFFFFF }),
			embedWith(func(e *discord.Embed) { e.Color = 0xFFFFFF + 1 }),
			"discord: embeds[0].color 16777216 is not a colour"},
		{"mention ids",
			discord.Message{Content: "a", AllowedMentions: &discord.AllowedMentions{Users: ids(100)}},
			discord.Message{Content: "a", AllowedMentions: &discord.AllowedMentions{Users: ids(101)}},
			"discord: allowed_mentions.users has 101 ids, the limit is 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.at.Validate(); err != nil {
				t.Errorf("at the limit: %v", err)
			}
			err := tt.over.Validate()
			if err == nil {
				t.Fatal("one over the limit: no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			var ie *discord.InvalidError
			if !errors.As(err, &ie) {
				t.Errorf("error %T is not an *InvalidError", err)
			}
		})
	}
}

func ids(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "1234567890"
	}
	return s
}

func TestValidateRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  discord.Message
		want string // "" means valid
	}{
		{"content only", discord.Message{Content: "hi"}, ""},
		{"embeds only", discord.Message{Embeds: []discord.Embed{{Title: "t"}}}, ""},
		{"nothing", discord.Message{Username: "ci"}, "discord: message needs content or embeds"},
		{"blank content", discord.Message{Content: " \n\t"}, "needs content or embeds"},
		{"empty field name", embedWith(func(e *discord.Embed) { e.Fields = []discord.Field{{Value: "v"}} }), "embeds[0].fields[0].name is required"},
		{"empty field value", embedWith(func(e *discord.Embed) { e.Fields = []discord.Field{{Name: "n", Value: " "}} }), "embeds[0].fields[0].value is required"},
		{"footer without text", embedWith(func(e *discord.Embed) { e.Footer = &discord.Footer{IconURL: "https://example.com/i.png"} }), "footer.text is required"},
		{"author without name", embedWith(func(e *discord.Embed) { e.Author = &discord.Author{URL: "https://example.com"} }), "author.name is required"},
		{"username with discord", discord.Message{Content: "a", Username: "My DiScOrD bot"}, `username "My DiScOrD bot" contains "discord"`},
		{"username with clyde", discord.Message{Content: "a", Username: "CLYDE"}, `contains "clyde"`},
		{"username everyone", discord.Message{Content: "a", Username: "Everyone"}, "username"},
		{"username here", discord.Message{Content: "a", Username: "here"}, "username"},
		{"username blank", discord.Message{Content: "a", Username: "   "}, "username is blank"},
		{"username everyone inside a name", discord.Message{Content: "a", Username: "everyone's bot"}, ""},
		{"username one character", discord.Message{Content: "a", Username: "x"}, ""},
		{"thread id and name", discord.Message{Content: "a", ThreadID: "1", ThreadName: "t"}, "thread_id and thread_name cannot both be set"},
		{"thread id not digits", discord.Message{Content: "a", ThreadID: "12a"}, `thread_id "12a" is not a snowflake`},
		{"thread id too long", discord.Message{Content: "a", ThreadID: strings.Repeat("1", 21)}, "not a snowflake"},
		{"thread id", discord.Message{Content: "a", ThreadID: "1234567890123456789"}, ""},
		{"negative flags", discord.Message{Content: "a", Flags: -1}, "flags -1"},
		{"suppress notifications", discord.Message{Content: "a", Flags: discord.SuppressNotifications}, ""},
		{"timestamp", embedWith(func(e *discord.Embed) { e.Timestamp = "2026-11-22T10:00:00.123Z" }), ""},
		{"bad timestamp", embedWith(func(e *discord.Embed) { e.Timestamp = "yesterday" }), `embeds[0].timestamp "yesterday" is not an RFC 3339 timestamp`},
		{"negative color", embedWith(func(e *discord.Embed) { e.Color = -1 }), "color -1"},
		{"avatar not a url", discord.Message{Content: "a", AvatarURL: "ci.png"}, "avatar_url is not an absolute http or https URL"},
		{"avatar ftp", discord.Message{Content: "a", AvatarURL: "ftp://example.com/a.png"}, `avatar_url has scheme "ftp"`},
		{"image attachment", embedWith(func(e *discord.Embed) { e.Image = &discord.Media{URL: "attachment://a.png"} }), "attachments are not supported"},
		{"image without url", embedWith(func(e *discord.Embed) { e.Image = &discord.Media{} }), "embeds[0].image.url"},
		{"thumbnail", embedWith(func(e *discord.Embed) { e.Thumbnail = &discord.Media{URL: "https://example.com/t.png"} }), ""},
		{"author icon", embedWith(func(e *discord.Embed) {
			e.Author = &discord.Author{Name: "a", IconURL: "javascript:alert(1)"}
		}), "embeds[0].author.icon_url"},
		{"second embed named", discord.Message{Embeds: []discord.Embed{{Title: "a"}, {Title: text(257)}}}, "embeds[1].title"},
		{"parse none", discord.Message{Content: "a", AllowedMentions: &discord.AllowedMentions{Parse: []string{}}}, ""},
		{"parse unknown", discord.Message{Content: "a", AllowedMentions: &discord.AllowedMentions{Parse: []string{"channels"}}}, `allowed_mentions.parse[0] "channels"`},
		{"parse users and users", discord.Message{Content: "a", AllowedMentions: &discord.AllowedMentions{Parse: []string{"users"}, Users: []string{"1"}}}, "cannot both parse users and list users"},
		{"role id not a snowflake", discord.Message{Content: "a", AllowedMentions: &discord.AllowedMentions{Roles: []string{"admins"}}}, `allowed_mentions.roles[0] "admins"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.msg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestCheckWebhookURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://discord.com/api/webhooks/123/SECRETTOKEN-en_1", true},
		{"https://discord.com/api/v10/webhooks/123/SECRETTOKEN", true},
		{"https://canary.discord.com/api/v9/webhooks/123/SECRETTOKEN/", true},
		{"http://127.0.0.1:8080/api/webhooks/123/SECRETTOKEN?thread_id=5", true},
		{"https://discord.com/api/webhooks/123", false},
		{"https://discord.com/api/webhooks/abc/SECRETTOKEN", false},
		{"https://discord.com/api/vx/webhooks/123/SECRETTOKEN", false},
		{"https://discord.com/api/webhooks/123/SECRETTOKEN/github", false},
		{"https://discord.com/webhooks/123/SECRETTOKEN", false},
		{"discord.com/api/webhooks/123/SECRETTOKEN", false},
		{"https:///api/webhooks/123/SECRETTOKEN", false},
		{"::", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := discord.CheckWebhookURL(tt.url)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckWebhookURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "SECRETTOKEN") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}
