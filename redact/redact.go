// Package redact removes secrets from URLs and proxy addresses before they are
// written to a log line, an error or a result. It is the one place that does so.
//
// The secrets it knows are URL user info (user names and passwords), query
// values (API keys and signatures often travel there), fragments, the token
// of a Discord-style webhook URL, the segment after the webhook id in
// /api/webhooks/{id}/{token} or /api/v10/webhooks/{id}/{token}, and the token
// of a Slack webhook or response URL, the last segment of
// /services/T…/B…/{token}, /actions/T…/{id}/{token} or
// /commands/T…/{id}/{token}. Webhook paths are recognised on any host, so
// that a relay or a local test server in front of the service is covered
// too.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces every secret that URL removes.
const Mask = "REDACTED"

// Invalid is what URL returns for input it cannot parse.
const Invalid = "(invalid url)"

// URL returns raw with its secrets removed: the user info is dropped, every
// query value is replaced by Mask (keys are kept), the fragment is dropped and
// the token of a webhook path is replaced by Mask wherever that path appears:
// Discord's /api/webhooks/{id}/{token} (with an optional version segment such
// as /api/v10/webhooks/...) and Slack's /services/T…/B…/{token},
// /actions/T…/{id}/{token} and /commands/T…/{id}/{token}. Input that does not parse as a URL gives Invalid, so the
// result never carries more than the input's redacted form.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Invalid
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	u.RawQuery = query(u.RawQuery)
	if u.Opaque != "" {
		return opaque(u)
	}
	p := webhookPath(u.EscapedPath())
	path, err := url.PathUnescape(p)
	if err != nil {
		return Invalid
	}
	u.Path, u.RawPath = path, p
	return u.String()
}

// Path is URL with the whole path hidden as well (replaced by "/" + Mask),
// for a URL whose path may itself be a secret: a mistyped webhook URL still
// holds its token, and some services (Slack's incoming webhooks) put theirs
// in the path. A well-formed webhook path keeps all but its token, as URL
// does; an empty path or "/" is kept.
func Path(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Invalid
	}
	p := u.EscapedPath()
	if p != webhookPath(p) {
		return URL(raw)
	}
	if u.Path != "" && u.Path != "/" {
		u.Path, u.RawPath = "/"+Mask, ""
	}
	u.Opaque = ""
	return URL(u.String())
}

// Secret is Mask for a secret that is set (a signing secret), "" for one
// that is not: its presence may be shown, never its value.
func Secret(s string) string {
	if s == "" {
		return ""
	}
	return Mask
}

// Error returns msg, an error's text, with every occurrence of rawURL
// replaced by URL(rawURL) and the password of proxy, if any, by Mask:
// net/http's errors repeat the URL they were given, and a proxy's dial
// errors may repeat its credentials.
func Error(msg, rawURL string, proxy *url.URL) string {
	if rawURL != "" && strings.Contains(msg, rawURL) {
		msg = strings.ReplaceAll(msg, rawURL, URL(rawURL))
	}
	if proxy != nil && proxy.User != nil {
		if pw, ok := proxy.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, Mask)
		}
	}
	return msg
}

// Servers redacts each URL of a comma-separated server list, such as a NATS
// URL list ("nats://user:pass@a:4222, b:4222"); an entry without a scheme is
// read as nats://. An empty list gives "".
func Servers(list string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "://") {
			p = "nats://" + p
		}
		parts[i] = URL(p)
	}
	return strings.Join(parts, ",")
}

// Proxy returns the host:port of a proxy URL, without scheme or credentials.
// A nil URL gives "".
func Proxy(u *url.URL) string {
	if u == nil {
		return ""
	}
	host := u.Host
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	return host
}

// opaque redacts a URL without an authority, such as "user:pass@host/path"
// read as scheme "user": everything up to the last '@' may be credentials, so
// it goes, scheme included.
func opaque(u *url.URL) string {
	o := u.Opaque
	prefix := u.Scheme + ":"
	if i := strings.LastIndexByte(o, '@'); i >= 0 {
		o, prefix = o[i+1:], ""
	}
	s := prefix + webhookPath(o)
	if u.ForceQuery || u.RawQuery != "" {
		s += "?" + u.RawQuery
	}
	return s
}

// query replaces every value of a raw query string by Mask, keeping the keys
// and their order.
func query(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if key, _, ok := strings.Cut(p, "="); ok {
			parts[i] = key + "=" + Mask
		}
	}
	return strings.Join(parts, "&")
}

// webhookPath replaces the token segment of every Discord
// api/[vN/]webhooks/{id}/{token} and every Slack services/T…/B…/{token},
// actions/T…/{id}/{token} or commands/T…/{id}/{token} sequence in an escaped
// path.
func webhookPath(p string) string {
	segs := strings.Split(p, "/")
	changed := false
	for i := 0; i < len(segs); i++ {
		if t := slackToken(segs, i); t > 0 {
			segs[t] = Mask
			changed = true
			i = t
			continue
		}
		if !strings.EqualFold(segs[i], "api") {
			continue
		}
		j := i + 1
		if j < len(segs) && isVersion(segs[j]) {
			j++
		}
		if j+2 < len(segs) && strings.EqualFold(segs[j], "webhooks") && segs[j+2] != "" {
			segs[j+2] = Mask
			changed = true
			i = j + 2
		}
	}
	if !changed {
		return p
	}
	return strings.Join(segs, "/")
}

// slackToken returns the index of the token segment when segs[i:] starts a
// Slack webhook path: services/T…/B…/{token}, actions/T…/{id}/{token} or
// commands/T…/{id}/{token}, where T… is a team (or enterprise, E…) id.
// It returns 0 otherwise.
func slackToken(segs []string, i int) int {
	if i+3 >= len(segs) || segs[i+3] == "" || !slackTeam(segs[i+1]) || segs[i+2] == "" {
		return 0
	}
	switch {
	case strings.EqualFold(segs[i], "services"):
		if c := segs[i+2][0]; c != 'B' && c != 'b' {
			return 0
		}
	case strings.EqualFold(segs[i], "actions"), strings.EqualFold(segs[i], "commands"):
	default:
		return 0
	}
	return i + 3
}

// slackTeam reports whether s looks like a Slack team or enterprise id:
// T or E followed by letters and digits.
func slackTeam(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("TtEe", rune(s[0])) {
		return false
	}
	for _, c := range s[1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// isVersion reports whether s is an API version segment such as "v10".
func isVersion(s string) bool {
	if len(s) < 2 || (s[0] != 'v' && s[0] != 'V') {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
