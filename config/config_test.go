package config

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// setenv sets vars for the test and unsets every other HOOKWORKER_
// variable, so that Load reads exactly vars; all are restored when the test
// ends. A test that calls it cannot run in parallel (Load takes
// microseconds).
func setenv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, Prefix+"_") {
			t.Setenv(name, "") // registers the value to restore
			os.Unsetenv(name)
		}
	}
	for name, v := range vars {
		t.Setenv(name, v)
	}
}

func TestLoadDefaults(t *testing.T) {
	setenv(t, nil)
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	conc := max(64, 64*runtime.NumCPU())
	want := Config{
		EmbeddedListen:  "127.0.0.1:4222",
		EmbeddedDir:     "./data",
		Replicas:        1,
		Subject:         "hooks.send",
		Stream:          "HOOKS",
		Durable:         "hookworker",
		ResultSubject:   "hooks.result",
		ResultStream:    "HOOKS_RESULTS",
		ResultMaxAge:    7 * 24 * time.Hour,
		Concurrency:     conc,
		HostConcurrency: conc / 4,
		AckWait:         30 * time.Second,
		ShutdownTimeout: 30 * time.Second,
		Timeout:         15 * time.Second,
		MaxRetries:      3,
		MaxProxyRetries: 3,
		BackoffMin:      500 * time.Millisecond,
		BackoffMax:      30 * time.Second,
		DeferAfter:      10 * time.Second,
		MaxRetryWait:    time.Hour,
		MaxRedeliveries: 5,
		ProxyCooldown:   time.Minute,
		SlackInterval:   time.Second,
		LogLevel:        "info",
		LogFormat:       "text",
		APIPrefix:       "hooks.api",
		SecretGrace:     24 * time.Hour,
		EventMaxAge:     720 * time.Hour,
		AttemptLog:      "events",
		AttemptMaxAge:   720 * time.Hour,
		RetrySchedule: Schedule{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
			10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour},
		DisableAfter:         120 * time.Hour,
		AlertAfter:           time.Hour,
		PortalFrameAncestors: "'self'",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadValues(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join("testdata", "user.creds")
	list := filepath.Join(dir, "proxies.txt")
	if err := os.WriteFile(list, []byte("# pool\n10.0.0.3:8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setenv(t, map[string]string{
		"HOOKWORKER_NATS_URL":               "nats://a:4222,nats://b:4222",
		"HOOKWORKER_REPLICAS":               "3",
		"HOOKWORKER_NATS_CREDS":             creds,
		"HOOKWORKER_CONCURRENCY":            "10",
		"HOOKWORKER_TIMEOUT":                "2s",
		"HOOKWORKER_MAX_RETRIES":            "0",
		"HOOKWORKER_PROXIES":                "10.0.0.1:8080,10.0.0.2:8080:user:pass",
		"HOOKWORKER_PROXIES_FILE":           list,
		"HOOKWORKER_SIGNING_SECRET":         "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"HOOKWORKER_ALLOW_PRIVATE_NETWORKS": "true",
		"HOOKWORKER_ALLOWED_NETWORKS":       "10.1.2.3/16, 127.0.0.1/32",
		"HOOKWORKER_LOG_LEVEL":              "DEBUG",
		"HOOKWORKER_LOG_FORMAT":             "json",
		"HOOKWORKER_DISCORD_USERNAME":       "deploy bot",
		"HOOKWORKER_DISCORD_AVATAR_URL":     "https://example.com/a.png",
		"HOOKWORKER_HTTP_ADDR":              ":9464",
		"HOOKWORKER_RETRY_SCHEDULE":         " 1s, 2m ,3h",
		"HOOKWORKER_DISABLE_AFTER":          "0",
	})
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Replicas != 3 {
		t.Errorf("Replicas = %d, want 3", c.Replicas)
	}
	if c.Concurrency != 10 || c.HostConcurrency != 2 {
		t.Errorf("Concurrency, HostConcurrency = %d, %d; want 10, 2", c.Concurrency, c.HostConcurrency)
	}
	if c.LogLevel != "debug" {
		t.Errorf("LogLevel = %q, want debug", c.LogLevel)
	}
	if want := (Schedule{time.Second, 2 * time.Minute, 3 * time.Hour}); !reflect.DeepEqual(c.RetrySchedule, want) || c.RetrySchedule.Span() != 3*time.Hour+2*time.Minute+time.Second {
		t.Errorf("RetrySchedule = %v (span %s), want %v", c.RetrySchedule, c.RetrySchedule.Span(), want)
	}
	if c.DisableAfter != 0 {
		t.Errorf("DisableAfter = %s, want 0", c.DisableAfter)
	}
	wantNets := Networks{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("127.0.0.1/32")}
	if !reflect.DeepEqual(c.AllowedNetworks, wantNets) {
		t.Errorf("AllowedNetworks = %v, want %v", c.AllowedNetworks, wantNets)
	}
	got, err := c.ProxyList()
	if err != nil {
		t.Fatalf("ProxyList: %v", err)
	}
	var hosts []string
	for _, u := range got {
		hosts = append(hosts, u.Host)
	}
	if want := []string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"}; !reflect.DeepEqual(hosts, want) {
		t.Errorf("ProxyList hosts = %v, want %v", hosts, want)
	}

	sc := c.SenderConfig()
	if sc.Timeout != 2*time.Second || sc.MaxRetries != 0 || sc.MaxProxyRetries != 3 ||
		sc.BackoffMin != 500*time.Millisecond || sc.BackoffMax != 30*time.Second ||
		sc.DeferAfter != 10*time.Second || sc.MaxRetryWait != time.Hour ||
		sc.SigningSecret != c.SigningSecret || !sc.AllowPrivateNetworks ||
		!reflect.DeepEqual(sc.AllowedNetworks, []netip.Prefix(wantNets)) {
		t.Errorf("SenderConfig() = %+v", sc)
	}
	if sc.Proxies != nil || sc.Observer != nil || sc.Logger != nil {
		t.Errorf("SenderConfig() sets Proxies, Observer or Logger: %+v", sc)
	}
}

// TestLoadIgnoresBareNames checks that a variable without the HOOKWORKER_
// prefix is never read.
func TestLoadIgnoresBareNames(t *testing.T) {
	setenv(t, map[string]string{"TIMEOUT": "1s", "LOG_LEVEL": "shout"})
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Timeout != 15*time.Second || c.LogLevel != "info" {
		t.Errorf("Timeout, LogLevel = %s, %q; want the defaults 15s, info", c.Timeout, c.LogLevel)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	badList := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(badList, []byte("user:secretpw@nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := os.ReadFile(filepath.Join("testdata", "user.creds"))
	if err != nil {
		t.Fatal(err)
	}
	jwtOnly := filepath.Join(dir, "jwt-only.creds")
	seedAt := bytes.Index(creds, []byte("-----BEGIN USER NKEY SEED-----"))
	if err := os.WriteFile(jwtOnly, creds[:seedAt], 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // substring of the error
	}{
		{"duration syntax", map[string]string{"HOOKWORKER_TIMEOUT": "soon"}, `HOOKWORKER_TIMEOUT: must be a duration such as 15s or 1m30s, got "soon"`},
		{"int syntax", map[string]string{"HOOKWORKER_MAX_RETRIES": "three"}, `HOOKWORKER_MAX_RETRIES: must be a whole number, got "three"`},
		{"bool syntax", map[string]string{"HOOKWORKER_ALLOW_PRIVATE_NETWORKS": "maybe"}, `HOOKWORKER_ALLOW_PRIVATE_NETWORKS: must be true or false, got "maybe"`},
		{"cidr syntax", map[string]string{"HOOKWORKER_ALLOWED_NETWORKS": "10.0.0.0/8,10.1"}, `HOOKWORKER_ALLOWED_NETWORKS: must be comma-separated CIDRs`},
		{"timeout zero", map[string]string{"HOOKWORKER_TIMEOUT": "0s"}, "HOOKWORKER_TIMEOUT: must be positive, got 0s"},
		{"timeout negative", map[string]string{"HOOKWORKER_TIMEOUT": "-1s"}, "HOOKWORKER_TIMEOUT: must be positive, got -1s"},
		{"shutdown zero", map[string]string{"HOOKWORKER_SHUTDOWN_TIMEOUT": "0s"}, "HOOKWORKER_SHUTDOWN_TIMEOUT: must be positive"},
		{"ack wait short", map[string]string{"HOOKWORKER_ACK_WAIT": "500ms"}, "HOOKWORKER_ACK_WAIT: must be at least 1s, got 500ms"},
		{"backoff min zero", map[string]string{"HOOKWORKER_BACKOFF_MIN": "0s"}, "HOOKWORKER_BACKOFF_MIN: must be positive"},
		{"backoff max zero", map[string]string{"HOOKWORKER_BACKOFF_MAX": "0s"}, "HOOKWORKER_BACKOFF_MAX: must be positive"},
		{"backoff min above max", map[string]string{"HOOKWORKER_BACKOFF_MIN": "1m", "HOOKWORKER_BACKOFF_MAX": "30s"}, "HOOKWORKER_BACKOFF_MIN: must not exceed HOOKWORKER_BACKOFF_MAX (30s), got 1m0s"},
		{"defer negative", map[string]string{"HOOKWORKER_DEFER_AFTER": "-1s"}, "HOOKWORKER_DEFER_AFTER: must not be negative"},
		{"retry wait negative", map[string]string{"HOOKWORKER_MAX_RETRY_WAIT": "-1s"}, "HOOKWORKER_MAX_RETRY_WAIT: must not be negative"},
		{"result max age negative", map[string]string{"HOOKWORKER_RESULT_MAX_AGE": "-1h"}, "HOOKWORKER_RESULT_MAX_AGE: must not be negative"},
		{"api prefix with wildcard", map[string]string{"HOOKWORKER_API_PREFIX": "hooks.*"}, "HOOKWORKER_API_PREFIX: must not contain wildcards"},
		{"secret grace zero", map[string]string{"HOOKWORKER_SECRET_GRACE": "0"}, "HOOKWORKER_SECRET_GRACE: must be positive"},
		{"event max age negative", map[string]string{"HOOKWORKER_EVENT_MAX_AGE": "-1h"}, "HOOKWORKER_EVENT_MAX_AGE: must not be negative"},
		{"retry schedule entry", map[string]string{"HOOKWORKER_RETRY_SCHEDULE": "5s,soon"}, `HOOKWORKER_RETRY_SCHEDULE: must be comma-separated durations such as 5s,5m,30m: invalid duration "soon"`},
		{"retry schedule negative", map[string]string{"HOOKWORKER_RETRY_SCHEDULE": "-5s"}, `HOOKWORKER_RETRY_SCHEDULE: must be comma-separated durations`},
		{"retry schedule too long", map[string]string{"HOOKWORKER_RETRY_SCHEDULE": strings.Repeat("1s,", 51)}, "HOOKWORKER_RETRY_SCHEDULE: at most 50 waits, got 51"},
		{"disable after negative", map[string]string{"HOOKWORKER_DISABLE_AFTER": "-1h"}, "HOOKWORKER_DISABLE_AFTER: must not be negative"},
		{"proxy cooldown zero", map[string]string{"HOOKWORKER_PROXY_COOLDOWN": "0s"}, "HOOKWORKER_PROXY_COOLDOWN: must be positive"},
		{"max retries negative", map[string]string{"HOOKWORKER_MAX_RETRIES": "-1"}, "HOOKWORKER_MAX_RETRIES: must not be negative, got -1"},
		{"max proxy retries negative", map[string]string{"HOOKWORKER_MAX_PROXY_RETRIES": "-2"}, "HOOKWORKER_MAX_PROXY_RETRIES: must not be negative, got -2"},
		{"max redeliveries negative", map[string]string{"HOOKWORKER_MAX_REDELIVERIES": "-1"}, "HOOKWORKER_MAX_REDELIVERIES: must not be negative"},
		{"concurrency negative", map[string]string{"HOOKWORKER_CONCURRENCY": "-1"}, "HOOKWORKER_CONCURRENCY: must be at least 1"},
		{"host concurrency negative", map[string]string{"HOOKWORKER_HOST_CONCURRENCY": "-1"}, "HOOKWORKER_HOST_CONCURRENCY: must not be negative"},
		{"host concurrency above", map[string]string{"HOOKWORKER_CONCURRENCY": "4", "HOOKWORKER_HOST_CONCURRENCY": "5"}, "HOOKWORKER_HOST_CONCURRENCY: must not exceed HOOKWORKER_CONCURRENCY (4), got 5"},
		{"subject empty", map[string]string{"HOOKWORKER_SUBJECT": " "}, "HOOKWORKER_SUBJECT: must not contain whitespace"},
		{"subject space", map[string]string{"HOOKWORKER_SUBJECT": "hooks send"}, "HOOKWORKER_SUBJECT: must not contain whitespace"},
		{"subject wildcard", map[string]string{"HOOKWORKER_SUBJECT": "hooks.>"}, "HOOKWORKER_SUBJECT: must not contain wildcards"},
		{"subject empty token", map[string]string{"HOOKWORKER_RESULT_SUBJECT": "hooks..result"}, "HOOKWORKER_RESULT_SUBJECT: must be dot-separated non-empty tokens"},
		{"subjects equal", map[string]string{"HOOKWORKER_RESULT_SUBJECT": "hooks.send"}, "HOOKWORKER_RESULT_SUBJECT: must differ from HOOKWORKER_SUBJECT"},
		{"stream dot", map[string]string{"HOOKWORKER_STREAM": "HOOKS.v2"}, "HOOKWORKER_STREAM: must not contain"},
		{"stream star", map[string]string{"HOOKWORKER_RESULT_STREAM": "R*"}, "HOOKWORKER_RESULT_STREAM: must not contain"},
		{"stream gt", map[string]string{"HOOKWORKER_STREAM": "R>"}, "HOOKWORKER_STREAM: must not contain"},
		{"stream space", map[string]string{"HOOKWORKER_STREAM": "MY HOOKS"}, "HOOKWORKER_STREAM: must not contain"},
		{"streams equal", map[string]string{"HOOKWORKER_RESULT_STREAM": "HOOKS"}, "HOOKWORKER_RESULT_STREAM: must differ from HOOKWORKER_STREAM"},
		{"durable slash", map[string]string{"HOOKWORKER_DURABLE": "a/b"}, "HOOKWORKER_DURABLE: must not contain"},
		{"durable long", map[string]string{"HOOKWORKER_DURABLE": strings.Repeat("d", 256)}, "HOOKWORKER_DURABLE: must be at most 255 bytes"},
		{"log level", map[string]string{"HOOKWORKER_LOG_LEVEL": "verbose"}, `HOOKWORKER_LOG_LEVEL: must be debug, info, warn or error, got "verbose"`},
		{"log format", map[string]string{"HOOKWORKER_LOG_FORMAT": "xml"}, `HOOKWORKER_LOG_FORMAT: must be text or json, got "xml"`},
		{"secret prefix", map[string]string{"HOOKWORKER_SIGNING_SECRET": "topsecretvalue"}, `HOOKWORKER_SIGNING_SECRET: must start with "whsec_"`},
		{"secret base64", map[string]string{"HOOKWORKER_SIGNING_SECRET": "whsec_topsecret!!topsecret!!topsecret!!"}, "HOOKWORKER_SIGNING_SECRET: must be \"whsec_\" followed by standard base64"},
		{"secret empty key", map[string]string{"HOOKWORKER_SIGNING_SECRET": "whsec_"}, "HOOKWORKER_SIGNING_SECRET: must be \"whsec_\" followed by 32 to 100 base64 characters, got 0"},
		{"secret one-byte key", map[string]string{"HOOKWORKER_SIGNING_SECRET": "whsec_YQ=="}, "HOOKWORKER_SIGNING_SECRET: must be \"whsec_\" followed by 32 to 100 base64 characters, got 4"},
		{"secret 23-byte key", map[string]string{"HOOKWORKER_SIGNING_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23))}, "must hold a key of 24 to 75 bytes, got 23"},
		{"secret 76-byte key", map[string]string{"HOOKWORKER_SIGNING_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 76))}, "32 to 100 base64 characters, got 104"},
		{"proxies", map[string]string{"HOOKWORKER_PROXIES": "10.0.0.1:8080,badhost:99999:user:secretpw"}, "HOOKWORKER_PROXIES: "},
		{"proxies file missing", map[string]string{"HOOKWORKER_PROXIES_FILE": filepath.Join(dir, "none.txt")}, "HOOKWORKER_PROXIES_FILE: "},
		{"proxies file bad", map[string]string{"HOOKWORKER_PROXIES_FILE": badList}, "HOOKWORKER_PROXIES_FILE: "},
		{"proxies file endless", map[string]string{"HOOKWORKER_PROXIES_FILE": "/dev/zero"}, "HOOKWORKER_PROXIES_FILE: read proxies /dev/zero: larger than 1048576 bytes"},
		{"slack interval zero", map[string]string{"HOOKWORKER_SLACK_INTERVAL": "0s"}, "HOOKWORKER_SLACK_INTERVAL: must be positive"},
		{"avatar scheme", map[string]string{"HOOKWORKER_DISCORD_AVATAR_URL": "ftp://example.com/a.png"}, "HOOKWORKER_DISCORD_AVATAR_URL: must be an http or https URL"},
		{"avatar relative", map[string]string{"HOOKWORKER_DISCORD_AVATAR_URL": "/a.png"}, "HOOKWORKER_DISCORD_AVATAR_URL: must be an http or https URL"},
		{"username long", map[string]string{"HOOKWORKER_DISCORD_USERNAME": strings.Repeat("é", 81)}, "HOOKWORKER_DISCORD_USERNAME: is 81 characters, the limit is 80"},
		{"username blank", map[string]string{"HOOKWORKER_DISCORD_USERNAME": "   "}, "HOOKWORKER_DISCORD_USERNAME: is blank"},
		{"username discord", map[string]string{"HOOKWORKER_DISCORD_USERNAME": "My Discord Bot"}, `HOOKWORKER_DISCORD_USERNAME: "My Discord Bot" contains "discord"`},
		{"username clyde", map[string]string{"HOOKWORKER_DISCORD_USERNAME": "clydesdale"}, `HOOKWORKER_DISCORD_USERNAME: "clydesdale" contains "clyde"`},
		{"username everyone", map[string]string{"HOOKWORKER_DISCORD_USERNAME": "Everyone"}, `HOOKWORKER_DISCORD_USERNAME: "Everyone" is refused by Discord`},
		{"username here", map[string]string{"HOOKWORKER_DISCORD_USERNAME": "here"}, `HOOKWORKER_DISCORD_USERNAME: "here" is refused by Discord`},
		{"http addr", map[string]string{"HOOKWORKER_HTTP_ADDR": "9464"}, "HOOKWORKER_HTTP_ADDR: must be host:port"},
		{"http addr port", map[string]string{"HOOKWORKER_HTTP_ADDR": ":http"}, "HOOKWORKER_HTTP_ADDR: port must be a number"},
		{"http addr range", map[string]string{"HOOKWORKER_HTTP_ADDR": ":70000"}, "HOOKWORKER_HTTP_ADDR: port must be a number"},
		{"embedded listen", map[string]string{"HOOKWORKER_EMBEDDED_LISTEN": "localhost"}, "HOOKWORKER_EMBEDDED_LISTEN: must be host:port"},
		{"embedded dir", map[string]string{"HOOKWORKER_EMBEDDED_DIR": " "}, "HOOKWORKER_EMBEDDED_DIR: must not be empty"},
		{"replicas zero", map[string]string{"HOOKWORKER_REPLICAS": "0"}, "HOOKWORKER_REPLICAS: must be 1 to 5, got 0"},
		{"replicas above", map[string]string{"HOOKWORKER_NATS_URL": "nats://a:4222", "HOOKWORKER_REPLICAS": "7"}, "HOOKWORKER_REPLICAS: must be 1 to 5, got 7"},
		{"replicas embedded", map[string]string{"HOOKWORKER_REPLICAS": "3"}, "HOOKWORKER_REPLICAS: must be 1 with the embedded server (HOOKWORKER_NATS_URL empty), got 3"},
		{"nats creds missing", map[string]string{"HOOKWORKER_NATS_CREDS": filepath.Join(dir, "none.creds")}, "HOOKWORKER_NATS_CREDS: cannot read"},
		{"nats creds dir", map[string]string{"HOOKWORKER_NATS_CREDS": dir}, "HOOKWORKER_NATS_CREDS: is a directory"},
		{"nats creds not creds", map[string]string{"HOOKWORKER_NATS_CREDS": badList}, `HOOKWORKER_NATS_CREDS: is not a NATS credentials file (a user JWT and an nkey seed): "` + badList + `": nkeys: no nkey seed found`},
		{"nats creds without seed", map[string]string{"HOOKWORKER_NATS_CREDS": jwtOnly}, "HOOKWORKER_NATS_CREDS: is not a NATS credentials file"},
		{"nats creds endless", map[string]string{"HOOKWORKER_NATS_CREDS": "/dev/zero"}, `HOOKWORKER_NATS_CREDS: must be a regular file of at most 1048576 bytes, got "/dev/zero"`},
		{"nats url scheme", map[string]string{"HOOKWORKER_NATS_URL": "http://user:natspw@nats:4222"}, "HOOKWORKER_NATS_URL: scheme must be nats, tls, ws or wss"},
		{"nats url empty entry", map[string]string{"HOOKWORKER_NATS_URL": "nats://a:4222,"}, "HOOKWORKER_NATS_URL: holds an empty entry"},
		{"nats url host", map[string]string{"HOOKWORKER_NATS_URL": "nats://user:natspw@"}, "HOOKWORKER_NATS_URL: invalid server URL"},
		{"empty duration", map[string]string{"HOOKWORKER_TIMEOUT": ""}, `HOOKWORKER_TIMEOUT: must be a duration such as 15s or 1m30s, got ""`},
		{"empty number", map[string]string{"HOOKWORKER_CONCURRENCY": ""}, `HOOKWORKER_CONCURRENCY: must be a whole number, got ""`},
		{"empty bool", map[string]string{"HOOKWORKER_ALLOW_PRIVATE_NETWORKS": ""}, `HOOKWORKER_ALLOW_PRIVATE_NETWORKS: must be true or false, got ""`},
		{"empty subject", map[string]string{"HOOKWORKER_SUBJECT": ""}, "HOOKWORKER_SUBJECT: must not be empty"},
		{"empty log level", map[string]string{"HOOKWORKER_LOG_LEVEL": ""}, `HOOKWORKER_LOG_LEVEL: must be debug, info, warn or error, got ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, tt.env)
			_, err := Load()
			if err == nil {
				t.Fatalf("Load() succeeded, want an error containing %q", tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("Load() error = %q, want it to contain %q", msg, tt.want)
			}
			for line := range strings.Lines(msg) {
				if !strings.HasPrefix(line, Prefix+"_") {
					t.Errorf("error line %q does not start with a variable name", line)
				}
			}
			for _, secret := range []string{"secretpw", "topsecret", "natspw"} {
				if strings.Contains(msg, secret) {
					t.Errorf("Load() error %q holds a secret", msg)
				}
			}
		})
	}
}

// TestLoadEmptyValues checks that a variable set to "" is read as "", not
// as unset: fine where the default is empty or empty has a meaning.
func TestLoadEmptyValues(t *testing.T) {
	setenv(t, map[string]string{
		"HOOKWORKER_NATS_URL":         "",
		"HOOKWORKER_PROXIES":          "",
		"HOOKWORKER_SIGNING_SECRET":   "",
		"HOOKWORKER_HTTP_ADDR":        "",
		"HOOKWORKER_ALLOWED_NETWORKS": "",
		"HOOKWORKER_RETRY_SCHEDULE":   "",
	})
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.NATSURL != "" || c.Proxies != "" || c.SigningSecret != "" || c.HTTPAddr != "" || len(c.AllowedNetworks) != 0 {
		t.Errorf("Load() = %+v, want the empty values", c)
	}
	if c.RetrySchedule == nil || len(c.RetrySchedule) != 0 {
		t.Errorf("RetrySchedule = %#v, want an empty schedule (no retries), not the default", c.RetrySchedule)
	}
}

// TestParseErrorsNameTheVariable sets every variable that is not a string
// to a value that does not parse: each error starts with the variable's
// name and says what was expected, whatever the field's type.
func TestParseErrorsNameTheVariable(t *testing.T) {
	rt := reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Type.Kind() == reflect.String {
			continue
		}
		name := f.Tag.Get("envconfig")
		t.Run(name, func(t *testing.T) {
			setenv(t, map[string]string{name: "not-a-value"})
			_, err := Load()
			if err == nil {
				t.Fatal("Load() succeeded")
			}
			if want := name + ": must be "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load() error = %q, want it to start with %q", err, want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	setenv(t, nil)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 0
	c.LogFormat = "yaml"
	err = c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	for _, want := range []string{"HOOKWORKER_TIMEOUT:", "HOOKWORKER_LOG_FORMAT:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to mention %s", err, want)
		}
	}
}

func TestComputedDefaults(t *testing.T) {
	tests := []struct {
		name                  string
		conc, host            string
		wantConc, wantHostMin int
		wantHost              int
	}{
		{name: "both chosen", wantConc: max(64, 64*runtime.NumCPU()), wantHost: max(64, 64*runtime.NumCPU()) / 4},
		{name: "host from concurrency", conc: "10", wantConc: 10, wantHost: 2},
		{name: "host at least one", conc: "3", wantConc: 3, wantHost: 1},
		{name: "both given", conc: "8", host: "8", wantConc: 8, wantHost: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			if tt.conc != "" {
				vars["HOOKWORKER_CONCURRENCY"] = tt.conc
			}
			if tt.host != "" {
				vars["HOOKWORKER_HOST_CONCURRENCY"] = tt.host
			}
			setenv(t, vars)
			c, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			if c.Concurrency != tt.wantConc || c.HostConcurrency != tt.wantHost {
				t.Errorf("Concurrency, HostConcurrency = %d, %d; want %d, %d", c.Concurrency, c.HostConcurrency, tt.wantConc, tt.wantHost)
			}
		})
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	Usage(&buf)
	out := buf.String()
	rt := reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		name := f.Tag.Get("envconfig")
		if !strings.HasPrefix(name, Prefix+"_") {
			t.Errorf("field %s: envconfig tag %q lacks the prefix", f.Name, name)
		}
		if f.Tag.Get("desc") == "" {
			t.Errorf("field %s has no desc tag", f.Name)
		}
		line := lineWith(out, name+" ")
		if line == "" {
			t.Errorf("Usage does not list %s", name)
			continue
		}
		if def := f.Tag.Get("default"); def != "" && f.Tag.Get("shown") == "" && !strings.Contains(line, " "+def+" ") {
			t.Errorf("Usage line %q lacks the default %q", line, def)
		}
	}
	for _, want := range []string{"HOOKWORKER_TIMEOUT", "15s", "HOOKWORKER_RESULT_MAX_AGE", "168h", "HOOKWORKER_MAX_REDELIVERIES", "HOOKWORKER_PROXY_COOLDOWN"} {
		if !strings.Contains(out, want) {
			t.Errorf("Usage lacks %q", want)
		}
	}
}

// lineWith returns the first line of s containing sub, or "".
func lineWith(s, sub string) string {
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}

func TestNetworksDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "", want: ""},
		{in: "10.1.2.3/16", want: "10.1.0.0/16"},
		{in: " 10.0.0.0/8 , fd00::/8,", want: "10.0.0.0/8,fd00::/8"},
		{in: "10.0.0.1", wantErr: true},
		{in: "10.0.0.0/33", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var n Networks
			err := n.Decode(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && n.String() != tt.want {
				t.Errorf("Decode(%q) = %q, want %q", tt.in, n, tt.want)
			}
		})
	}
}

func TestUnknown(t *testing.T) {
	setenv(t, map[string]string{
		"HOOKWORKER_CONCURENCY": "8", // misspelt
		"HOOKWORKER_TIMEOUT":    "5s",
		"HOOKWORKER_LOGLEVEL":   "debug",
		"OTHER_TIMEOUT":         "1s",
	})
	got := Unknown()
	want := []string{"HOOKWORKER_CONCURENCY", "HOOKWORKER_LOGLEVEL"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unknown() = %v, want %v", got, want)
	}
}
