package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/proxies"
	"github.com/hookworker/hookworker/redact"
	"github.com/hookworker/hookworker/sender"
)

// maxNameLen is the longest stream or consumer name JetStream accepts.
const maxNameLen = 255

// maxReplicas is the most replicas JetStream keeps of a stream.
const maxReplicas = 5

// Validate checks every setting and returns all the problems found, joined,
// one per line, each starting with the variable's name. It expects the
// computed defaults to be applied already (Load does so). No error holds the
// signing secret or a proxy password.
func (c Config) Validate() error {
	v := validator{}

	v.natsURL(c.NATSURL)
	if c.NATSCreds != "" {
		v.credsFile("NATSCreds", c.NATSCreds)
	}
	if c.NATSURL == "" {
		v.hostPort("EmbeddedListen", c.EmbeddedListen)
		if strings.TrimSpace(c.EmbeddedDir) == "" {
			v.add("EmbeddedDir", "must not be empty when %s_NATS_URL is empty", Prefix)
		}
	}
	switch {
	case c.Replicas < 1 || c.Replicas > maxReplicas:
		v.add("Replicas", "must be 1 to %d, got %d", maxReplicas, c.Replicas)
	case c.Replicas > 1 && c.NATSURL == "":
		v.add("Replicas", "must be 1 with the embedded server (%s empty), got %d; replicas need a NATS cluster", envName("NATSURL"), c.Replicas)
	}

	v.subject("Subject", c.Subject)
	v.subject("ResultSubject", c.ResultSubject)
	if c.Subject != "" && c.Subject == c.ResultSubject {
		v.add("ResultSubject", "must differ from %s, both are %q", envName("Subject"), c.Subject)
	}
	v.name("Stream", c.Stream)
	v.name("ResultStream", c.ResultStream)
	v.name("Durable", c.Durable)
	if c.Stream != "" && c.Stream == c.ResultStream {
		v.add("ResultStream", "must differ from %s, both are %q", envName("Stream"), c.Stream)
	}
	v.notNegative("ResultMaxAge", c.ResultMaxAge)

	if c.Concurrency < 1 {
		v.add("Concurrency", "must be at least 1 (or 0 for the default), got %d", c.Concurrency)
	}
	switch {
	case c.HostConcurrency < 0:
		v.add("HostConcurrency", "must not be negative, got %d", c.HostConcurrency)
	case c.HostConcurrency == 0 && c.Concurrency >= 1:
		v.add("HostConcurrency", "must be at least 1 after defaults, got 0")
	case c.Concurrency >= 1 && c.HostConcurrency > c.Concurrency:
		v.add("HostConcurrency", "must not exceed %s (%d), got %d", envName("Concurrency"), c.Concurrency, c.HostConcurrency)
	}
	if c.AckWait < time.Second {
		v.add("AckWait", "must be at least 1s, got %s", c.AckWait)
	}
	v.positive("ShutdownTimeout", c.ShutdownTimeout)

	v.positive("Timeout", c.Timeout)
	v.count("MaxRetries", c.MaxRetries)
	v.count("MaxProxyRetries", c.MaxProxyRetries)
	v.count("MaxRedeliveries", c.MaxRedeliveries)
	v.positive("BackoffMin", c.BackoffMin)
	v.positive("BackoffMax", c.BackoffMax)
	if c.BackoffMin > 0 && c.BackoffMax > 0 && c.BackoffMin > c.BackoffMax {
		v.add("BackoffMin", "must not exceed %s (%s), got %s", envName("BackoffMax"), c.BackoffMax, c.BackoffMin)
	}
	v.notNegative("DeferAfter", c.DeferAfter)
	v.notNegative("MaxRetryWait", c.MaxRetryWait)
	v.positive("SlackInterval", c.SlackInterval)

	if strings.TrimSpace(c.Proxies) != "" {
		if _, err := proxies.ParseList(c.Proxies); err != nil {
			v.add("Proxies", "%v", err)
		}
	}
	if c.ProxiesFile != "" {
		if _, err := proxies.ReadFile(c.ProxiesFile); err != nil {
			v.add("ProxiesFile", "%v", err)
		}
	}
	v.positive("ProxyCooldown", c.ProxyCooldown)

	if c.SigningSecret != "" {
		if _, err := sender.NewSigner(c.SigningSecret); err != nil {
			v.add("SigningSecret", "%v", err)
		}
	}
	if c.DiscordUsername != "" {
		if err := discord.CheckUsername(c.DiscordUsername); err != nil {
			var ie *discord.InvalidError
			if errors.As(err, &ie) {
				v.add("DiscordUsername", "%s", ie.Reason)
			} else {
				v.add("DiscordUsername", "%v", err)
			}
		}
	}
	if c.DiscordAvatarURL != "" {
		v.httpURL("DiscordAvatarURL", c.DiscordAvatarURL)
	}
	for _, p := range c.AllowedNetworks {
		if !p.IsValid() {
			v.add("AllowedNetworks", "holds an invalid CIDR")
			break
		}
	}
	if c.HTTPAddr != "" {
		v.hostPort("HTTPAddr", c.HTTPAddr)
	}

	v.subject("APIPrefix", c.APIPrefix)
	v.positive("SecretGrace", c.SecretGrace)
	v.notNegative("EventMaxAge", c.EventMaxAge)
	v.notNegative("AttemptMaxAge", c.AttemptMaxAge)
	switch c.AttemptLog {
	case "events", "all", "off":
	default:
		v.add("AttemptLog", "must be events, all or off, got %q", c.AttemptLog)
	}
	v.notNegative("DisableAfter", c.DisableAfter)
	v.notNegative("AlertAfter", c.AlertAfter)
	if len(c.RetrySchedule) > job.MaxScheduleLen {
		v.add("RetrySchedule", "at most %d waits, got %d", job.MaxScheduleLen, len(c.RetrySchedule))
	}

	v.api(c)

	if _, err := parseLevel(c.LogLevel); err != nil || c.LogLevel == "" {
		v.add("LogLevel", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		v.add("LogFormat", "must be text or json, got %q", c.LogFormat)
	}
	return errors.Join(v.errs...)
}

// validator collects the problems found, each naming its variable.
type validator struct {
	errs []error
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", envName(field), fmt.Sprintf(format, args...)))
}

func (v *validator) positive(field string, d time.Duration) {
	if d <= 0 {
		v.add(field, "must be positive, got %s", d)
	}
}

func (v *validator) notNegative(field string, d time.Duration) {
	if d < 0 {
		v.add(field, "must not be negative, got %s", d)
	}
}

func (v *validator) count(field string, n int) {
	if n < 0 {
		v.add(field, "must not be negative, got %d", n)
	}
}

// subject checks a subject to publish on: dot-separated non-empty tokens, no
// whitespace, no wildcards.
func (v *validator) subject(field, s string) {
	if s == "" {
		v.add(field, "must not be empty")
		return
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		v.add(field, "must not contain whitespace, got %q", s)
		return
	}
	for tok := range strings.SplitSeq(s, ".") {
		switch tok {
		case "":
			v.add(field, "must be dot-separated non-empty tokens, got %q", s)
			return
		case "*", ">":
			v.add(field, "must not contain wildcards, got %q", s)
			return
		}
	}
}

// name checks a JetStream stream or consumer name.
func (v *validator) name(field, s string) {
	switch {
	case s == "":
		v.add(field, "must not be empty")
	case len(s) > maxNameLen:
		v.add(field, "must be at most %d bytes, got %d", maxNameLen, len(s))
	case strings.IndexFunc(s, unicode.IsSpace) >= 0 || strings.ContainsAny(s, ".*>/\\"):
		v.add(field, "must not contain whitespace or any of . * > / \\, got %q", s)
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.add(field, "must be printable text")
	}
}

// natsURL checks each comma-separated server URL; a URL without a scheme
// means nats://.
func (v *validator) natsURL(s string) {
	if s == "" {
		return
	}
	for raw := range strings.SplitSeq(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			v.add("NATSURL", "holds an empty entry")
			return
		}
		full := raw
		if !strings.Contains(full, "://") {
			full = "nats://" + full
		}
		u, err := url.Parse(full)
		if err != nil || u.Host == "" {
			v.add("NATSURL", "invalid server URL %s", redact.URL(raw))
			return
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			v.add("NATSURL", "scheme must be nats, tls, ws or wss, got %s", redact.URL(raw))
			return
		}
	}
}

// hostPort checks host:port; the host may be empty (all interfaces) and the
// port must be a number (0 picks a free one).
func (v *validator) hostPort(field, s string) {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(field, "must be host:port such as :9464, got %q", s)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		v.add(field, "port must be a number from 0 to 65535, got %q", s)
	}
}

// maxCredsFile bounds a credentials file: one holds a JWT and a seed, a few
// kilobytes.
const maxCredsFile = 1 << 20

// credsFile checks a NATS credentials file the way the connection will read
// it, so that a bad one stops start-up instead of failing every connection
// attempt: a readable regular file of at most 1 MiB holding a user JWT and an
// nkey seed (the seed signs a test nonce; neither is ever quoted).
func (v *validator) credsFile(field, path string) {
	n := len(v.errs)
	v.readableFile(field, path)
	if len(v.errs) > n {
		return
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || st.Size() > maxCredsFile {
		v.add(field, "must be a regular file of at most %d bytes, got %q", maxCredsFile, path)
		return
	}
	var o nats.Options
	if err = nats.UserCredentials(path)(&o); err == nil {
		if _, err = o.UserJWT(); err == nil {
			_, err = o.SignatureCB([]byte("hookworker"))
		}
	}
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		v.add(field, "is not a NATS credentials file (a user JWT and an nkey seed): %q: %v", path, err)
	}
}

func (v *validator) readableFile(field, path string) {
	f, err := os.Open(path)
	if err != nil {
		v.add(field, "cannot read %q: %v", path, errors.Unwrap(err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		v.add(field, "cannot read %q: %v", path, errors.Unwrap(err))
		return
	}
	if st.IsDir() {
		v.add(field, "is a directory, want a file: %q", path)
	}
}

func (v *validator) httpURL(field, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field, "must be an http or https URL, got %s", redact.URL(s))
	}
}

// api checks the HTTP API's settings: its address, the operator keys and
// the token secret (never quoted), and that someone could call it.
func (v *validator) api(c Config) {
	if c.APIAddr != "" {
		v.hostPort("APIAddr", c.APIAddr)
	}
	n := len(v.errs)
	keys, err := auth.ParseKeys(c.APIKeys)
	if err != nil {
		v.add("APIKeys", "%v", err)
	}
	if c.APIKeysFile != "" {
		more, err := auth.ReadKeysFile(c.APIKeysFile)
		if err != nil {
			v.add("APIKeysFile", "%v", err)
		}
		keys = append(keys, more...)
	}
	badKeys := len(v.errs) > n
	if c.TokenSecret != "" && len(c.TokenSecret) < auth.MinSecretLen {
		v.add("TokenSecret", "must be at least %d bytes, got %d", auth.MinSecretLen, len(c.TokenSecret))
	}
	if c.APIAddr != "" && len(keys) == 0 && !badKeys && c.TokenSecret == "" {
		v.add("APIAddr", "is set but no one could call the API: set %s (or %s) for operator keys, or %s for tenant tokens, or both",
			envName("APIKeys"), envName("APIKeysFile"), envName("TokenSecret"))
	}
	v.frameAncestors(c.PortalFrameAncestors)
}

// frameAncestors checks a CSP frame-ancestors source list: space-separated
// sources of printable ASCII, none of which ends the directive (; or ,);
// 'none' stands alone.
func (v *validator) frameAncestors(s string) {
	sources := strings.Fields(s)
	if len(sources) == 0 {
		v.add("PortalFrameAncestors", "must not be empty; 'none' forbids every frame")
		return
	}
	for _, src := range sources {
		for i := 0; i < len(src); i++ {
			if src[i] < '!' || src[i] > '~' || src[i] == ';' || src[i] == ',' {
				v.add("PortalFrameAncestors", "must be space-separated sources such as 'self' or https://app.example.com, without ; or ,, got %q", s)
				return
			}
		}
		if strings.EqualFold(src, "'none'") && len(sources) > 1 {
			v.add("PortalFrameAncestors", "'none' must stand alone, got %q", s)
			return
		}
	}
}
