package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewLogger(t *testing.T) {
	t.Parallel()
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		log, err := NewLogger(&buf, "warn", "json")
		if err != nil {
			t.Fatal(err)
		}
		log.Info("dropped")
		log.Warn("kept", "job_id", "j1", "status", 503)
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("output %q is not one JSON object: %v", buf.String(), err)
		}
		if line["msg"] != "kept" || line["job_id"] != "j1" || line["status"] != float64(503) || line["level"] != "WARN" {
			t.Errorf("logged %v", line)
		}
	})
	t.Run("text without colour off a terminal", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		log, err := NewLogger(&buf, "debug", "text")
		if err != nil {
			t.Fatal(err)
		}
		log.Debug("hello", "job_id", "j1")
		out := buf.String()
		if !strings.Contains(out, "hello") || !strings.Contains(out, "job_id=j1") {
			t.Errorf("logged %q", out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("logged colour codes to a buffer: %q", out)
		}
	})
	for _, tt := range []struct{ level, format, want string }{
		{"loud", "text", "HOOKWORKER_LOG_LEVEL"},
		{"info", "yaml", "HOOKWORKER_LOG_FORMAT"},
	} {
		t.Run("bad "+tt.level+" "+tt.format, func(t *testing.T) {
			t.Parallel()
			_, err := NewLogger(&bytes.Buffer{}, tt.level, tt.format)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewLogger(%q, %q) error = %v, want one naming %s", tt.level, tt.format, err, tt.want)
			}
		})
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	setenv(t, map[string]string{
		"HOOKWORKER_NATS_URL":           "nats://natsuser:natspw@nats.example:4222",
		"HOOKWORKER_PROXIES":            "10.0.0.1:8080:proxyuser:proxypw,http://u2:proxypw2@10.0.0.2:3128",
		"HOOKWORKER_SIGNING_SECRET":     "whsec_c2lnbmluZ3NlY3JldGtleS0yNGJ5dGVz",
		"HOOKWORKER_DISCORD_AVATAR_URL": "https://cdn.example/a.png?token=avatarpw",
		"HOOKWORKER_API_KEYS":           "hwk_operatorkey-0123456789abcdefghijk",
		"HOOKWORKER_TOKEN_SECRET":       "tokensecret-0123456789abcdefghijklm",
	})
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	out := buf.String()
	for _, secret := range []string{"natspw", "natsuser", "proxypw", "proxyuser", "c2lnbmluZ3NlY3JldGtleS0yNGJ5dGVz", "avatarpw", "operatorkey", "tokensecret"} {
		if strings.Contains(out, secret) {
			t.Errorf("logged config holds %q: %s", secret, out)
		}
	}
	var line struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"signing_secret": "REDACTED",
		"api_keys":       "REDACTED",
		"token_secret":   "REDACTED",
		"proxies":        "10.0.0.1:8080,10.0.0.2:3128",
		"subject":        "hooks.send",
		"max_retries":    float64(3),
		"ack_wait":       "30s",
		"backoff_min":    "500ms",
		"max_retry_wait": "1h",
		"result_max_age": "168h",
		"proxy_cooldown": "1m",
	} {
		if got := line.Config[key]; got != want {
			t.Errorf("config[%q] = %v, want %v", key, got, want)
		}
	}
	if got, _ := line.Config["nats_url"].(string); !strings.Contains(got, "nats.example:4222") {
		t.Errorf("config[nats_url] = %q, want the host kept", got)
	}
	if len(line.Config) != reflect.TypeFor[Config]().NumField() {
		t.Errorf("LogValue shows %d settings, want %d", len(line.Config), reflect.TypeFor[Config]().NumField())
	}
}

func TestLoggerWritesReadableDurations(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log, err := NewLogger(&buf, "info", format)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("waiting", "retry_in", 90*time.Second, "defer", time.Hour, "grp",
				slog.GroupValue(slog.Duration("ack_wait", 30*time.Second)))
			out := buf.String()
			for _, want := range []string{"1m30s", "1h", "30s"} {
				if !strings.Contains(out, want) {
					t.Errorf("log line lacks %q: %s", want, out)
				}
			}
			for _, nanos := range []string{"90000000000", "3600000000000", "30000000000", "1h0m0s"} {
				if strings.Contains(out, nanos) {
					t.Errorf("log line holds %q: %s", nanos, out)
				}
			}
		})
	}
}

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Duration]string{
		0:                       "0s",
		500 * time.Millisecond:  "500ms",
		30 * time.Second:        "30s",
		time.Minute:             "1m",
		90 * time.Second:        "1m30s",
		time.Hour:               "1h",
		90 * time.Minute:        "1h30m",
		168 * time.Hour:         "168h",
		time.Hour + time.Second: "1h0m1s",
		-2 * time.Hour:          "-2h",
		1500 * time.Microsecond: "1.5ms",
	} {
		if got := shortDuration(in); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
