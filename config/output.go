package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/lmittmann/tint"

	"github.com/hookworker/hookworker/proxies"
	"github.com/hookworker/hookworker/redact"
)

// usageFormat is Usage's envconfig.Usagef template: a heading, then one
// line a variable with its default (the shown tag where there is one) and
// its meaning, the columns separated by tabs.
const usageFormat = "VARIABLE\tDEFAULT\tMEANING\n" +
	"{{range .}}{{usage_key .}}\t" +
	`{{or (.Tags.Get "shown") (usage_default .) "(empty)"}}` + "\t" +
	"{{usage_description .}}\n{{end}}"

// Usage writes every variable with its default and meaning, as an aligned
// table.
func Usage(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef("", &Config{}, tw, usageFormat); err != nil {
		panic("config: usage template: " + err.Error()) // the template is a constant
	}
	tw.Flush()
}

// parseLevel reads a log level: debug, info, warn or error, in any case;
// "" is info. It is the one place the rule is checked.
func parseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be debug, info, warn or error, got %q", level)
}

// NewLogger returns a logger writing to w at level (debug, info, warn or
// error) in format text (tint, coloured only when w is a terminal) or json.
// In both formats a time.Duration value is written as a short string such as
// "30s", "1m30s" or "168h", never as a number of nanoseconds.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", envName("LogLevel"), err)
	}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "text", "":
		return slog.New(tint.NewTextHandler(w, &tint.Options{
			Level:       lvl,
			TimeFormat:  time.DateTime + ".000",
			NoColor:     !isTerminal(w),
			ReplaceAttr: readableDurations,
		})), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: readableDurations})), nil
	default:
		return nil, fmt.Errorf("%s: must be text or json, got %q", envName("LogFormat"), format)
	}
}

// readableDurations is a ReplaceAttr function that writes every duration as
// shortDuration does.
func readableDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(shortDuration(a.Value.Duration()))
	}
	return a
}

// shortDuration writes d as time.Duration.String does, without the zero
// units it ends with: 30s, 1m, 1h30m, 168h, 500ms.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// LogValue shows every setting under its variable's name in snake_case
// (nats_url, timeout, …), durations as short strings (see shortDuration),
// with the signing secret, the API's operator keys and token secret, proxy
// credentials and URL user info and query values redacted.
func (c Config) LogValue() slog.Value {
	rv := reflect.ValueOf(c)
	vars := variables()
	attrs := make([]slog.Attr, 0, len(vars))
	for _, v := range vars {
		key := strings.ToLower(strings.TrimPrefix(v.name, Prefix+"_"))
		var val slog.Value
		switch v.field {
		case "NATSURL":
			val = slog.StringValue(redact.Servers(c.NATSURL))
		case "SigningSecret":
			val = slog.StringValue(redact.Secret(c.SigningSecret))
		case "APIKeys":
			val = slog.StringValue(redact.Secret(c.APIKeys))
		case "TokenSecret":
			val = slog.StringValue(redact.Secret(c.TokenSecret))
		case "APICORSOrigins":
			val = slog.StringValue(c.APICORSOrigins.String())
		case "Proxies":
			val = slog.StringValue(redactProxies(c.Proxies))
		case "DiscordAvatarURL":
			if c.DiscordAvatarURL != "" {
				val = slog.StringValue(redact.URL(c.DiscordAvatarURL))
			} else {
				val = slog.StringValue("")
			}
		case "AllowedNetworks":
			val = slog.StringValue(c.AllowedNetworks.String())
		case "RetrySchedule":
			val = slog.StringValue(c.RetrySchedule.String())
		default:
			f := rv.FieldByName(v.field).Interface()
			if d, ok := f.(time.Duration); ok {
				val = slog.StringValue(shortDuration(d))
			} else {
				val = slog.AnyValue(f)
			}
		}
		attrs = append(attrs, slog.Attr{Key: key, Value: val})
	}
	return slog.GroupValue(attrs...)
}

// redactProxies shows host:port of each proxy, never credentials.
func redactProxies(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	list, err := proxies.ParseList(s)
	if err != nil {
		return "(invalid)"
	}
	out := make([]string, len(list))
	for i, u := range list {
		out[i] = redact.Proxy(u)
	}
	return strings.Join(out, ",")
}
