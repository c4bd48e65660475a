package slack_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/slack"
)

const testToken = "s3cr3tT0kenABCDEFGHijklmnop"

func TestCheckWebhookURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"incoming webhook", "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/" + testToken, true},
		{"govslack", "https://hooks.slack-gov.com/services/T0123ABCD/B0456EFGH/" + testToken, true},
		{"enterprise team", "https://hooks.slack.com/services/E0123ABCD/B0456EFGH/" + testToken, true},
		{"action response url", "https://hooks.slack.com/actions/T0123ABCD/1234567890123/" + testToken, true},
		{"command response url", "https://hooks.slack.com/commands/T0123ABCD/1234567890123/" + testToken, true},
		{"local fake", "http://127.0.0.1:8080/services/T1/B2/" + testToken, true},

		{"not a url", "://hooks.slack.com/services/T1/B2/" + testToken, false},
		{"ftp", "ftp://hooks.slack.com/services/T1/B2/" + testToken, false},
		{"no host", "https:///services/T1/B2/" + testToken, false},
		{"user info", "https://u:p@hooks.slack.com/services/T1/B2/" + testToken, false},
		{"no token", "https://hooks.slack.com/services/T1/B2", false},
		{"empty token", "https://hooks.slack.com/services/T1/B2/", false},
		{"extra segment", "https://hooks.slack.com/services/T1/B2/" + testToken + "/x", false},
		{"bad team", "https://hooks.slack.com/services/X1/B2/" + testToken, false},
		{"bad hook id", "https://hooks.slack.com/services/T1/C2/" + testToken, false},
		{"token with symbols", "https://hooks.slack.com/services/T1/B2/" + testToken + "%2F", false},
		{"action id not digits", "https://hooks.slack.com/actions/T1/B2/" + testToken, false},
		{"workflow trigger", "https://hooks.slack.com/triggers/T1/123/" + testToken, false},
		{"discord", "https://discord.com/api/webhooks/123/" + testToken, false},
		{"prefixed path", "https://relay.example/slack/services/T1/B2/" + testToken, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := slack.CheckWebhookURL(tt.url)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckWebhookURL: %v", err)
				}
				return
			}
			var ie *slack.InvalidError
			if !errors.As(err, &ie) || ie.Field != "url" {
				t.Fatalf("CheckWebhookURL = %v, want an *InvalidError for url", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
}
