package redact_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/redact"
)

const token = "aBcD-eFgH_1234567890xyzXYZsecretTOKEN"

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"discord", "https://discord.com/api/webhooks/123456789/" + token, "https://discord.com/api/webhooks/123456789/REDACTED"},
		{"discordapp", "https://discordapp.com/api/webhooks/123456789/" + token, "https://discordapp.com/api/webhooks/123456789/REDACTED"},
		{"ptb", "https://ptb.discord.com/api/webhooks/123456789/" + token, "https://ptb.discord.com/api/webhooks/123456789/REDACTED"},
		{"canary", "https://canary.discord.com/api/webhooks/123456789/" + token, "https://canary.discord.com/api/webhooks/123456789/REDACTED"},
		{"api version", "https://discord.com/api/v10/webhooks/123456789/" + token, "https://discord.com/api/v10/webhooks/123456789/REDACTED"},
		{"any host", "http://127.0.0.1:8080/api/webhooks/1/" + token, "http://127.0.0.1:8080/api/webhooks/1/REDACTED"},
		{"prefixed path", "https://relay.example/discord/api/webhooks/1/" + token, "https://relay.example/discord/api/webhooks/1/REDACTED"},
		{"slack suffix", "https://discord.com/api/webhooks/1/" + token + "/slack", "https://discord.com/api/webhooks/1/REDACTED/slack"},
		{"message path", "https://discord.com/api/webhooks/1/" + token + "/messages/2", "https://discord.com/api/webhooks/1/REDACTED/messages/2"},
		{"token with query", "https://discord.com/api/webhooks/1/" + token + "?wait=true&thread_id=42", "https://discord.com/api/webhooks/1/REDACTED?wait=REDACTED&thread_id=REDACTED"},
		{"escaped token", "https://discord.com/api/webhooks/1/" + token + "%2Fmore", "https://discord.com/api/webhooks/1/REDACTED"},
		{"no token", "https://discord.com/api/webhooks/1", "https://discord.com/api/webhooks/1"},
		{"empty token", "https://discord.com/api/webhooks/1/", "https://discord.com/api/webhooks/1/"},
		{"slack webhook", "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/" + token, "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/REDACTED"},
		{"slack gov webhook", "https://hooks.slack-gov.com/services/T0123ABCD/B0456EFGH/" + token, "https://hooks.slack-gov.com/services/T0123ABCD/B0456EFGH/REDACTED"},
		{"slack enterprise webhook", "https://hooks.slack.com/services/E0123ABCD/B0456EFGH/" + token, "https://hooks.slack.com/services/E0123ABCD/B0456EFGH/REDACTED"},
		{"slack action response url", "https://hooks.slack.com/actions/T0123ABCD/1234567890123/" + token, "https://hooks.slack.com/actions/T0123ABCD/1234567890123/REDACTED"},
		{"slack command response url", "https://hooks.slack.com/commands/T0123ABCD/1234567890123/" + token, "https://hooks.slack.com/commands/T0123ABCD/1234567890123/REDACTED"},
		{"slack any host", "http://127.0.0.1:8080/services/T1/B2/" + token, "http://127.0.0.1:8080/services/T1/B2/REDACTED"},
		{"slack lower case", "https://hooks.slack.com/Services/t1/b2/" + token, "https://hooks.slack.com/Services/t1/b2/REDACTED"},
		{"slack with suffix and query", "https://hooks.slack.com/services/T1/B2/" + token + "/x?a=" + token, "https://hooks.slack.com/services/T1/B2/REDACTED/x?a=REDACTED"},
		{"slack escaped token", "https://hooks.slack.com/services/T1/B2/" + token + "%2Fmore", "https://hooks.slack.com/services/T1/B2/REDACTED"},
		{"slack no token", "https://hooks.slack.com/services/T1/B2", "https://hooks.slack.com/services/T1/B2"},
		{"slack empty token", "https://hooks.slack.com/services/T1/B2/", "https://hooks.slack.com/services/T1/B2/"},
		{"services not slack", "https://api.example.com/services/users/B2/orders", "https://api.example.com/services/users/B2/orders"},
		{"services without bot id", "https://api.example.com/services/T1/orders/3", "https://api.example.com/services/T1/orders/3"},
		{"user info", "https://alice:" + token + "@example.com/hook", "https://example.com/hook"},
		{"user only", "https://" + token + "@example.com/hook", "https://example.com/hook"},
		{"password with at", "https://alice:p@ss" + token + "@example.com/hook", "https://example.com/hook"},
		{"query values", "https://example.com/hook?key=" + token + "&sig=abc&flag&=v", "https://example.com/hook?key=REDACTED&sig=REDACTED&flag&=REDACTED"},
		{"fragment", "https://example.com/hook#" + token, "https://example.com/hook"},
		{"plain", "https://example.com/hook", "https://example.com/hook"},
		{"no scheme", "discord.com/api/webhooks/1/" + token, "discord.com/api/webhooks/1/REDACTED"},
		{"opaque credentials", "alice:" + token + "@example.com/hook", "example.com/hook"},
		{"empty", "", ""},
		{"bad escape", "https://example.com/%zz/" + token, redact.Invalid},
		{"bad port", "https://alice:" + token + "@example.com:port/", redact.Invalid},
		{"control character", "https://example.com/\x00" + token, redact.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := redact.URL(tt.in)
			if got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, token) {
				t.Errorf("URL(%q) = %q still holds the secret", tt.in, got)
			}
		})
	}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   *url.URL
		want string
	}{
		{"nil", nil, ""},
		{"http", &url.URL{Scheme: "http", User: url.UserPassword("alice", token), Host: "10.0.0.1:3128"}, "10.0.0.1:3128"},
		{"socks5", &url.URL{Scheme: "socks5", Host: "proxy.example:1080"}, "proxy.example:1080"},
		{"ipv6", &url.URL{Scheme: "http", Host: "[::1]:8080"}, "[::1]:8080"},
		{"credentials in host", &url.URL{Scheme: "http", Host: "alice:" + token + "@10.0.0.1:3128"}, "10.0.0.1:3128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := redact.Proxy(tt.in); got != tt.want {
				t.Errorf("Proxy(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzURLSecrets builds URLs around fuzzed secrets and checks that the
// redacted form does not depend on them: changing only the password, the
// webhook token or the query value never changes the output, so no part of
// any of them can show through.
func FuzzURLSecrets(f *testing.F) {
	f.Add("https", "discord.com", "alice", "hunter2", "123", token, "s3cret")
	f.Add("http", "127.0.0.1:8080", "u", "p:a@s/s", "1", "t/o?k#en", "a&b=c")
	f.Add("socks5", "[::1]:1080", "", "x", "", "%zz", "")
	f.Fuzz(func(t *testing.T, scheme, host, user, pass, id, tok, value string) {
		if pass == "" || tok == "" || value == "" {
			t.Skip("secrets must be present to be changed")
		}
		build := func(pass, tok, value string) string {
			u := url.URL{
				Scheme:   scheme,
				User:     url.UserPassword(user, pass),
				Host:     host,
				Path:     "/api/v10/webhooks/" + id + "/" + tok,
				RawPath:  "/api/v10/webhooks/" + url.PathEscape(id) + "/" + url.PathEscape(tok),
				RawQuery: "wait=true&key=" + url.QueryEscape(value),
			}
			return u.String()
		}
		got := redact.URL(build(pass, tok, value))
		other := redact.URL(build("other-password", "other-token", "other-value"))
		if got != other {
			t.Fatalf("redacted output depends on the secrets: %q vs %q", got, other)
		}
	})
}

// FuzzURL checks that URL never panics and that a password it can see in
// its input never shows in its output.
func FuzzURL(f *testing.F) {
	f.Add("https://alice:" + token + "@discord.com/api/webhooks/1/" + token + "?a=b#c")
	f.Add("alice:pw@host")
	f.Add("://")
	f.Add("%")
	f.Fuzz(func(t *testing.T, raw string) {
		got := redact.URL(raw)
		u, err := url.Parse(raw)
		if err != nil {
			if got != redact.Invalid {
				t.Fatalf("URL(%q) = %q for unparseable input", raw, got)
			}
			return
		}
		if u.User == nil {
			return
		}
		pass, ok := u.User.Password()
		// Only a password that is written out once, in the user info, can be
		// told apart from the same text elsewhere in the URL.
		if !ok || len(pass) < 8 || strings.Count(raw, pass) != 1 || !strings.Contains(raw, ":"+pass+"@") {
			return
		}
		if strings.Contains(got, pass) || strings.Contains(got, url.PathEscape(pass)) {
			t.Fatalf("URL(%q) = %q shows the password %q", raw, got, pass)
		}
	})
}

func TestServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"nats://alice:s3cret@127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://token123@a:4222, nats://bob:pw9@b:4222", "nats://a:4222,nats://b:4222"},
		{"tls://h:4222?auth=zzz", "tls://h:4222?auth=" + redact.Mask},
		{"a:4222,b:4222", "nats://a:4222,nats://b:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := redact.Servers(tt.in); got != tt.want {
				t.Errorf("Servers(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://discord.com/api/webhooks/123/t0ken?wait=true", "https://discord.com/api/webhooks/123/REDACTED?wait=REDACTED"},
		{"https://discord.com/api/webhook/123/t0ken", "https://discord.com/REDACTED"},
		{"https://hooks.slack.com/services/T0/B0/s3cret", "https://hooks.slack.com/services/T0/B0/REDACTED"},
		{"https://hooks.slack.com/servics/T0/B0/s3cret", "https://hooks.slack.com/REDACTED"},
		{"https://user:pw@example.com/", "https://example.com/"},
		{"https://example.com", "https://example.com"},
		{"::", redact.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := redact.Path(tt.in); got != tt.want {
				t.Errorf("Path(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSecretAndError(t *testing.T) {
	t.Parallel()
	if redact.Secret("") != "" || redact.Secret("whsec_abc") != redact.Mask {
		t.Error("Secret shows a value, or hides an absent secret")
	}
	proxy := &url.URL{Scheme: "http", User: url.UserPassword("u", "pr0xy-pw"), Host: "10.0.0.1:3128"}
	raw := "https://example.com/hook?key=k3y"
	msg := `Post "` + raw + `": proxyconnect tcp: auth u:pr0xy-pw failed`
	got := redact.Error(msg, raw, proxy)
	for _, secret := range []string{"k3y", "pr0xy-pw"} {
		if strings.Contains(got, secret) {
			t.Errorf("Error(...) = %q, holds %q", got, secret)
		}
	}
	if !strings.Contains(got, "https://example.com/hook?key=REDACTED") {
		t.Errorf("Error(...) = %q, want the URL redacted in place", got)
	}
	if redact.Error("plain", "", nil) != "plain" {
		t.Error("Error changed a message without secrets")
	}
}
