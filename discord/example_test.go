package discord_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// A message built in Go is checked against Discord's limits before it is
// sent.
func ExampleMessage_Validate() {
	m := discord.Message{
		Content: "deployed v1.2.0",
		Embeds: []discord.Embed{{
			Title: "deploy",
			Color: 0x58B9FF,
			Fields: []discord.Field{
				{Name: "env", Value: "prod", Inline: true},
				{Name: "changes", Value: strings.Repeat("é", 1025)},
			},
		}},
	}
	fmt.Println(m.Validate())

	m.Embeds[0].Fields[1].Value = "fix the login page"
	fmt.Println(m.Validate())
	// Output:
	// discord: embeds[0].fields[1].value is 1025 characters, the limit is 1024
	// <nil>
}

// A job's discord object decodes into a Message; the body sent to Discord
// leaves out thread_id, which goes in the query string, and passes raw embed
// fields on unchanged.
func ExampleMessage_Body() {
	var m discord.Message
	job := `{"content": "shipped", "thread_id": "1234567890",
	         "embeds": [{"title": "deploy", "type": "rich"}],
	         "allowed_mentions": {"parse": []}}`
	if err := json.Unmarshal([]byte(job), &m); err != nil {
		fmt.Println(err)
		return
	}
	body, err := m.Body()
	fmt.Println(string(body), err)
	// Output:
	// {"content":"shipped","embeds":[{"title":"deploy","type":"rich"}],"allowed_mentions":{"parse":[]}} <nil>
}

// A Client applies the default identity, checks the message and sends it
// through a sender, paced per webhook.
func ExampleClient_Send() {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s?%s\n%s\n", r.Method, strings.Replace(r.URL.Path, "TOKEN", "…", 1), r.URL.RawQuery, body)
		w.Header().Set("X-RateLimit-Limit", "5")
		w.Header().Set("X-RateLimit-Remaining", "4")
		w.Header().Set("X-RateLimit-Reset-After", "2.000")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "1100000000000000001"}`)
	}))
	defer fake.Close()

	s, err := sender.New(sender.Config{AllowPrivateNetworks: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := discord.New(s, discord.Config{Username: "hookworker"})
	res := c.Send(context.Background(),
		discord.Message{Content: "deployed", ThreadID: "42"},
		sender.Request{ID: "deploy-1", URLs: []string{fake.URL + "/api/webhooks/123/TOKEN"}})
	fmt.Println(res.Outcome, res.Status, strings.TrimPrefix(res.URL, fake.URL))

	res = c.Send(context.Background(),
		discord.Message{Content: "hi", Username: "Discord"},
		sender.Request{ID: "deploy-2", URLs: []string{fake.URL + "/api/webhooks/123/TOKEN"}})
	fmt.Println(res.Outcome, res.Attempts, res.Error)
	// Output:
	// POST /api/webhooks/123/…?thread_id=42&wait=true
	// {"content":"deployed","username":"hookworker"}
	// delivered 200 /api/webhooks/123/REDACTED
	// rejected 0 discord: username "Discord" contains "discord", which Discord refuses
}

// Client.Prepare is the worker's Deliverer of Discord jobs: a job whose
// message Discord would refuse is rejected before it takes a slot, and the
// send it returns delivers the others.
func ExampleClient_Prepare() {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "1100000000000000001"}`)
	}))
	defer fake.Close()
	s, err := sender.New(sender.Config{AllowPrivateNetworks: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := discord.New(s, discord.Config{})
	url := fake.URL + "/api/webhooks/123/TOKEN"

	_, err = c.Prepare(&job.Job{ID: "empty", Type: job.Discord, URLs: []string{url}, Discord: []byte(`{"tts": true}`)})
	fmt.Println(err)

	j := &job.Job{ID: "deploy-3", Type: job.Discord, URLs: []string{url}, Discord: []byte(`{"content": "deployed"}`)}
	send, err := c.Prepare(j)
	if err != nil {
		fmt.Println(err)
		return
	}
	res := send(context.Background(), sender.Request{ID: j.ID, URLs: j.URLs})
	fmt.Println(res.Outcome, res.Status, strings.TrimPrefix(res.URL, fake.URL))
	// Output:
	// discord: message needs content or embeds
	// delivered 200 /api/webhooks/123/REDACTED
}
