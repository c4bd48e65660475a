package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
	"github.com/hookworker/hookworker/slack"
	"github.com/hookworker/hookworker/slack/slacktest"
)

// A job's slack object is decoded strictly and checked against Slack's
// limits in one step.
func ExampleDecode() {
	_, err := slack.Decode([]byte(`{"text": "deployed", "unfurl_link": false}`))
	fmt.Println(err)

	_, err = slack.Decode([]byte(`{"blocks": [{"type": "divider"}, {"text": "no type"}]}`))
	fmt.Println(err)

	m, err := slack.Decode([]byte(`{"text": "deployed *v1.2.0*", "unfurl_links": false,
		"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*v1.2.0* is live"}}]}`))
	fmt.Println(err)
	body, _ := m.Body()
	fmt.Println(string(body))
	// Output:
	// slack: unfurl_link is not supported (the fields are text, blocks, attachments, response_type, replace_original, delete_original, unfurl_links, unfurl_media, metadata, thread_ts, username, icon_emoji, icon_url, channel)
	// slack: blocks[1].type must be a string
	// <nil>
	// {"text":"deployed *v1.2.0*","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*v1.2.0* is live"}}],"unfurl_links":false}
}

// A message built in Go is checked against Slack's limits before it is
// sent.
func ExampleMessage_Validate() {
	m := slack.Message{Text: strings.Repeat("x", slack.MaxText+1)}
	fmt.Println(m.Validate())

	m = slack.Message{Text: "build 42 failed", ResponseType: "public"}
	fmt.Println(m.Validate())

	m.ResponseType = slack.InChannel
	fmt.Println(m.Validate())
	// Output:
	// slack: text is 40001 characters, the limit is 40000
	// slack: response_type is "public", want "in_channel" or "ephemeral"
	// <nil>
}

// Classify tells Slack's answers apart.
func ExampleClassify() {
	now := time.Now()
	for _, r := range []struct {
		status int
		body   string
	}{
		{200, "ok"},
		{404, "channel_not_found"},
		{410, "channel_is_archived"},
		{500, "rollup_error"},
	} {
		v := slack.Classify(r.status, nil, []byte(r.body), now)
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%d %s %s", r.status, v.Kind, v.Code)))
	}
	v := slack.Classify(429, http.Header{"Retry-After": {"30"}}, nil, now)
	fmt.Println(429, v.Kind, v.RetryAfter)
	// Output:
	// 200 delivered
	// 404 failed channel_not_found
	// 410 failed channel_is_archived
	// 500 retry rollup_error
	// 429 rate_limited 30s
}

// A webhook's token never shows: not in a check's error, not in a Result.
func ExampleCheckWebhookURL() {
	fmt.Println(slack.CheckWebhookURL("https://hooks.slack.com/services/T0001/B0001/s3cr3t"))
	fmt.Println(slack.CheckWebhookURL("https://hooks.slack.com/services/T0001/B0001s3cr3t"))
	fmt.Println(slack.CheckWebhookURL("https://hooks.slack.com/commands/T0001/1234567890/s3cr3t"))
	// Output:
	// <nil>
	// slack: url https://hooks.slack.com/REDACTED is not a Slack webhook URL (/services/T…/B…/{token}) or response URL (/actions/T…/{id}/{token}, /commands/T…/{id}/{token})
	// <nil>
}

// A Client checks the message and sends it through a sender, paced per
// webhook; Slack's error codes end the Result's error.
func ExampleClient_Send() {
	fake := slacktest.NewServer(slacktest.Config{})
	defer fake.Close()
	s, err := sender.New(sender.Config{AllowPrivateNetworks: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	c := slack.New(s, slack.Config{})
	hook := fake.WebhookURL("T0001", "B0001", "s3cr3t")

	res := c.Send(context.Background(), slack.Message{Text: "deployed"}, sender.Request{ID: "deploy-1", URLs: []string{hook}})
	fmt.Println(res.Outcome, res.Status, strings.TrimPrefix(res.URL, fake.URL))

	fake.Fail(slack.CodeChannelIsArchived)
	res = c.Send(context.Background(), slack.Message{Text: "deployed"}, sender.Request{ID: "deploy-2", URLs: []string{hook}})
	fmt.Println(res.Outcome, res.Status, res.Error)

	res = c.Send(context.Background(), slack.Message{}, sender.Request{ID: "deploy-3", URLs: []string{hook}})
	fmt.Println(res.Outcome, res.Attempts, res.Error)
	// Output:
	// delivered 200 /services/T0001/B0001/REDACTED
	// failed 410 status 410 Gone: channel_is_archived
	// rejected 0 slack: message needs text, blocks or attachments
}

// Client.Prepare is the worker's Deliverer of Slack jobs: a job whose
// message Slack would refuse is rejected before it takes a slot, and the
// send it returns delivers the others.
func ExampleClient_Prepare() {
	fake := slacktest.NewServer(slacktest.Config{})
	defer fake.Close()
	s, err := sender.New(sender.Config{AllowPrivateNetworks: true})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	c := slack.New(s, slack.Config{})
	url := fake.WebhookURL("T0123", "B0456", "abcdef123456")

	_, err = c.Prepare(&job.Job{ID: "empty", Type: job.Slack, URLs: []string{url}, Slack: []byte(`{"unfurl_links": false}`)})
	fmt.Println(err)

	j := &job.Job{ID: "deploy-42", Type: job.Slack, URLs: []string{url}, Slack: []byte(`{"text": "deployed *v1.2.0*"}`)}
	send, err := c.Prepare(j)
	if err != nil {
		panic(err)
	}
	res := send(context.Background(), sender.Request{ID: j.ID, URLs: j.URLs})
	fmt.Println(res.Outcome, res.Status, strings.TrimPrefix(res.URL, fake.URL))
	// Output:
	// slack: message needs text, blocks or attachments
	// delivered 200 /services/T0123/B0456/REDACTED
}
