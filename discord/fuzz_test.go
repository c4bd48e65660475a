package discord_test

import (
	"encoding/json"
	"testing"

	"github.com/hookworker/hookworker/discord"
)

// FuzzMessage decodes arbitrary discord objects: decoding, Validate and Body
// never panic, and a message that passes Validate has a body that decodes
// back to a message that passes too.
func FuzzMessage(f *testing.F) {
	for _, s := range []string{
		`{"content":"hi"}`,
		`{"content":"c","username":"u","avatar_url":"https://e.x/a.png","tts":true,"embeds":[{"title":"t","fields":[{"name":"a","value":"b"}]}],"allowed_mentions":{"parse":[]},"flags":4096,"thread_name":"n"}`,
		`{"embeds":[{"description":"d","type":"rich","video":{"url":"https://e.x/v"}}],"thread_id":"123"}`,
		`{"contnet":"x"}`,
		`{"content":"x","allowed_mentions":{"pars":[]}}`,
		`[]`, `null`, `{"content":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m discord.Message
		if json.Unmarshal(data, &m) != nil {
			return
		}
		if m.Validate() != nil {
			return
		}
		body, err := m.Body()
		if err != nil {
			t.Fatalf("Body of a valid message: %v", err)
		}
		var back discord.Message
		if err := json.Unmarshal(body, &back); err != nil {
			t.Fatalf("body %s does not decode: %v", body, err)
		}
		back.ThreadID = m.ThreadID
		if err := back.Validate(); err != nil {
			t.Fatalf("body %s of a valid message is invalid: %v", body, err)
		}
	})
}
