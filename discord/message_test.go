package discord_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/discord"
)

func TestMessageJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		job      string // the job's discord object
		wantBody string // the body sent to Discord
		wantErr  string
	}{
		{"content only", `{"content": "hi"}`, `{"content":"hi"}`, ""},
		{"thread id goes to the query, not the body",
			`{"content": "hi", "thread_id": "123"}`, `{"content":"hi"}`, ""},
		{"every field",
			`{"content":"c","username":"u","avatar_url":"https://e.x/a.png","tts":true,"embeds":[{"title":"t"}],"allowed_mentions":{"parse":[]},"flags":4096,"thread_name":"n"}`,
			`{"content":"c","username":"u","avatar_url":"https://e.x/a.png","tts":true,"embeds":[{"title":"t"}],"allowed_mentions":{"parse":[]},"flags":4096,"thread_name":"n"}`, ""},
		{"mentions without parse keep it out",
			`{"content":"c","allowed_mentions":{"users":["1"]}}`, `{"content":"c","allowed_mentions":{"users":["1"]}}`, ""},
		{"raw embed verbatim",
			`{"embeds":[{"title":"t","type":"rich","video":{"url":"https://e.x/v"},"fields":[{"name":"a","value":"b","inline":false}]}]}`,
			`{"embeds":[{"title":"t","type":"rich","video":{"url":"https://e.x/v"},"fields":[{"name":"a","value":"b","inline":false}]}]}`, ""},
		{"html characters not escaped", `{"content":"<b> & </b>"}`, `{"content":"<b> & </b>"}`, ""},
		{"unknown field", `{"content":"hi","components":[]}`, "", `unknown field "components" (not supported`},
		{"attachments", `{"content":"hi","attachments":[{"id":0}]}`, "", `unknown field "attachments"`},
		{"misspelt field", `{"contnet":"hi"}`, "", `unknown field "contnet"`},
		{"unknown mention field names its path",
			`{"content":"hi","allowed_mentions":{"pars":[]}}`, "", `allowed_mentions: unknown field "pars" (the fields are parse, roles, users, replied_user)`},
		{"wrong type", `{"content": 5}`, "", "content"},
		{"not an object", `[1]`, "", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var m discord.Message
			err := json.Unmarshal([]byte(tt.job), &m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := m.Body()
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", body, tt.wantBody)
			}
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	t.Parallel()
	in := `{"content":"c","embeds":[{"title":"t","provider":{"name":"p"}}],"thread_id":"42"}`
	var m discord.Message
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip\n got %s\nwant %s", out, in)
	}
}

func TestEmbedEncoding(t *testing.T) {
	t.Parallel()
	decode := func(t *testing.T, s string) discord.Embed {
		t.Helper()
		var e discord.Embed
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name string
		emb  func(t *testing.T) discord.Embed
		want string
	}{
		{"typed, zero fields left out", func(*testing.T) discord.Embed {
			return discord.Embed{Title: "t", Footer: &discord.Footer{Text: "f"}, Fields: []discord.Field{{Name: "n", Value: "v", Inline: true}}}
		}, `{"title":"t","footer":{"text":"f"},"fields":[{"name":"n","value":"v","inline":true}]}`},
		{"decoded and unchanged: verbatim", func(t *testing.T) discord.Embed {
			return decode(t, `{"zeta": 1, "title": "t", "color": 0}`)
		}, `{"zeta":1,"title":"t","color":0}`},
		{"decoded then changed: typed plus unknown keys", func(t *testing.T) discord.Embed {
			e := decode(t, `{"zeta": 1, "title": "t", "description": "old"}`)
			e.Description = ""
			e.Fields = append(e.Fields, discord.Field{Name: "n", Value: "v"})
			return e
		}, `{"fields":[{"name":"n","value":"v"}],"title":"t","zeta":1}`},
		{"decoded then a field changed in place", func(t *testing.T) discord.Embed {
			e := decode(t, `{"fields": [{"name": "n", "value": "old"}], "x": true}`)
			e.Fields[0].Value = "new"
			return e
		}, `{"fields":[{"name":"n","value":"new"}],"x":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tt.emb(t))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDecodedEmbedIsChecked(t *testing.T) {
	t.Parallel()
	var m discord.Message
	job := `{"embeds": [{"title": "` + strings.Repeat("x", 257) + `", "unknown": 1}]}`
	if err := json.Unmarshal([]byte(job), &m); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "embeds[0].title is 257 characters") {
		t.Errorf("Validate = %v, want the title over its limit", err)
	}
}
