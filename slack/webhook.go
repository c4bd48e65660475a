package slack

import (
	"net/url"
	"strings"

	"github.com/hookworker/hookworker/redact"
)

// Hosts Slack serves webhooks and response URLs on.
const (
	// Host is Slack's commercial host.
	Host = "hooks.slack.com"
	// GovHost is GovSlack's host.
	GovHost = "hooks.slack-gov.com"
)

// CheckWebhookURL checks that raw is a URL Slack takes messages on, one of
//
//	https://hooks.slack.com/services/T…/B…/{token}         an incoming webhook
//	https://hooks.slack.com/actions/T…/{id}/{token}        a response_url of an interaction
//	https://hooks.slack.com/commands/T…/{id}/{token}       a response_url of a slash command
//
// where T… is the team id (T or, for organisation-wide apps, E followed by
// letters and digits), B… the webhook's id, {id} digits and {token} letters
// and digits. Any http or https host is accepted with these paths, as for
// Discord: Slack's own are Host and GovHost, and another serves a relay or
// a test server; the Sender's network rules still decide where a request
// may go. Its error shows the URL redacted.
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &InvalidError{Field: "url", Reason: redactURL(raw) + " is not an http or https URL"}
	}
	if u.User != nil {
		return &InvalidError{Field: "url", Reason: redactURL(raw) + " carries user info, which Slack does not take"}
	}
	if !webhookPath(u.EscapedPath()) {
		return &InvalidError{Field: "url", Reason: redactURL(raw) +
			" is not a Slack webhook URL (/services/T…/B…/{token}) or response URL (/actions/T…/{id}/{token}, /commands/T…/{id}/{token})"}
	}
	return nil
}

// webhookPath reports whether an escaped URL path is a Slack webhook or
// response URL path (see CheckWebhookURL).
func webhookPath(path string) bool {
	segs := strings.Split(path, "/")
	if len(segs) != 5 || segs[0] != "" || !team(segs[2]) || !alnum(segs[4]) {
		return false
	}
	switch segs[1] {
	case "services":
		return len(segs[3]) > 1 && segs[3][0] == 'B' && alnum(segs[3][1:])
	case "actions", "commands":
		return digits(segs[3])
	}
	return false
}

// team reports whether s is a Slack team id (T…) or enterprise id (E…).
func team(s string) bool {
	return len(s) > 1 && (s[0] == 'T' || s[0] == 'E') && alnum(s[1:])
}

// alnum reports whether s is one or more ASCII letters and digits.
func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// redactURL is redact.URL, and for a URL that is not a well-formed webhook
// URL also its path hidden, since a mistyped webhook URL still holds its
// token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redact.URL(raw)
	}
	if webhookPath(u.EscapedPath()) {
		return redact.URL(raw)
	}
	if u.Path != "" && u.Path != "/" {
		u.Path, u.RawPath = "/REDACTED", ""
	}
	u.Opaque = ""
	return redact.URL(u.String())
}
