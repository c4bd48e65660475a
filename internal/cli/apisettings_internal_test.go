package cli

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/internal/auth"
)

// quickStartConfig returns the configuration of the local quick start:
// the embedded server, its data in dir, no API variable.
func quickStartConfig(t *testing.T, dir string) config.Config {
	t.Helper()
	for _, name := range []string{"API_ADDR", "API_KEYS", "API_KEYS_FILE", "TOKEN_SECRET"} {
		t.Setenv(config.Prefix+"_"+name, "") // registers the value to restore
		os.Unsetenv(config.Prefix + "_" + name)
	}
	return config.Config{EmbeddedDir: dir, PortalFrameAncestors: "'self'"}
}

// jsonLog returns a logger writing JSON lines to buf, as a worker does
// whose output is collected.
func jsonLog(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// readCredential returns the credential in dir's file name and checks that
// only its owner may read it.
func readCredential(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %s, want 0600", name, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestQuickStartGeneratesCredentialsOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet: the first start makes it
	cfg := quickStartConfig(t, dir)

	var first bytes.Buffer
	s, err := apiSettings(cfg, jsonLog(&first))
	if err != nil {
		t.Fatalf("apiSettings: %v", err)
	}
	key := readCredential(t, dir, quickStartKey)
	secret := readCredential(t, dir, quickStartSecret)
	if !s.QuickStart || s.Addr != quickStartAddr || s.Keys.Len() != 1 || s.Tokens == nil || s.FrameAncestors != "'self'" {
		t.Errorf("settings = %+v, want the quick start on %s with one key and tokens", s, quickStartAddr)
	}
	if want := filepath.Join(dir, quickStartKey); s.KeyFile != want {
		t.Errorf("KeyFile = %q, want %q", s.KeyFile, want)
	}
	if p, err := s.Authenticate("Bearer " + key); err != nil || !p.IsOperator() {
		t.Errorf("the generated key: %s, %v; want the operator", p, err)
	}
	token, _, err := s.Tokens.Mint("acme", 0)
	if err != nil {
		t.Fatal(err)
	}

	var second bytes.Buffer
	again, err := apiSettings(cfg, jsonLog(&second))
	if err != nil {
		t.Fatalf("apiSettings on restart: %v", err)
	}
	if k, sec := readCredential(t, dir, quickStartKey), readCredential(t, dir, quickStartSecret); k != key || sec != secret {
		t.Errorf("a restart made new credentials")
	}
	if p, err := again.Authenticate("Bearer " + key); err != nil || !p.IsOperator() {
		t.Errorf("the key after a restart: %s, %v; want the operator", p, err)
	}
	if p, err := again.Authenticate("Bearer " + token); err != nil || p != auth.Tenant("acme") {
		t.Errorf("a token minted before the restart: %s, %v; want tenant acme", p, err)
	}

	for i, out := range []string{first.String(), second.String()} {
		if strings.Contains(out, key) || strings.Contains(out, secret) {
			t.Errorf("start %d logged a credential:\n%s", i+1, out)
		}
		if n := strings.Count(out, "\n"); n != 1 {
			t.Errorf("start %d logged %d lines, want one:\n%s", i+1, n, out)
		}
		for _, want := range []string{"http://" + quickStartAddr + "/api/v1/", "http://" + quickStartAddr + "/portal/", s.KeyFile} {
			if !strings.Contains(out, want) {
				t.Errorf("start %d did not say %q:\n%s", i+1, want, out)
			}
		}
	}
	if !strings.Contains(first.String(), `"generated":true`) || !strings.Contains(second.String(), `"generated":false`) {
		t.Errorf("the logs do not say the credentials were generated, then reused:\n%s%s", first.String(), second.String())
	}
}

func TestQuickStartRefusesABadKeyFile(t *testing.T) {
	dir := t.TempDir()
	cfg := quickStartConfig(t, dir)
	path := filepath.Join(dir, quickStartKey)
	if err := os.WriteFile(path, []byte("hwk_short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err := apiSettings(cfg, jsonLog(&buf))
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "hwk_short") {
		t.Errorf("apiSettings error = %v, want one naming the file and not the key", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "hwk_short\n" {
		t.Errorf("the bad key file was overwritten")
	}
}

func TestQuickStartWarnsOfAReadableFile(t *testing.T) {
	dir := t.TempDir()
	cfg := quickStartConfig(t, dir)
	key := auth.NewKey()
	if err := os.WriteFile(filepath.Join(dir, quickStartKey), []byte(key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s, err := apiSettings(cfg, jsonLog(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("Bearer " + key); err != nil {
		t.Errorf("the kept key: %v", err)
	}
	if !strings.Contains(buf.String(), "chmod 600") || strings.Contains(buf.String(), key) {
		t.Errorf("log = %s, want a warning to chmod the file, without the key", buf.String())
	}
}

func TestAPISettingsWithoutQuickStart(t *testing.T) {
	const (
		key    = "hwk_configured-operator-key-0123456789"
		secret = "configured-token-secret-0123456789abcd"
	)
	tests := []struct {
		name       string
		cfg        func(dir string) config.Config
		offEnv     bool // HOOKWORKER_API_ADDR set to ""
		addr       string
		keys       int
		withTokens bool
	}{
		{"a NATS URL", func(dir string) config.Config {
			return config.Config{NATSURL: "nats://127.0.0.1:4222", EmbeddedDir: dir}
		}, false, "", 0, false},
		{"API_ADDR set to empty", func(dir string) config.Config {
			return config.Config{EmbeddedDir: dir}
		}, true, "", 0, false},
		{"a token secret alone", func(dir string) config.Config {
			return config.Config{EmbeddedDir: dir, TokenSecret: secret}
		}, false, "", 0, true},
		{"configured", func(dir string) config.Config {
			return config.Config{EmbeddedDir: dir, APIAddr: ":8081", APIKeys: key + "," + key + "-2", TokenSecret: secret,
				APICORSOrigins: config.Origins{"https://app.example.com"}}
		}, false, ":8081", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tt.cfg(dir)
			quickStartConfig(t, dir)
			if tt.offEnv {
				t.Setenv(config.Prefix+"_API_ADDR", "")
			}
			var buf bytes.Buffer
			s, err := apiSettings(cfg, jsonLog(&buf))
			if err != nil {
				t.Fatal(err)
			}
			if s.QuickStart || s.KeyFile != "" || s.Addr != tt.addr || s.Keys.Len() != tt.keys || (s.Tokens != nil) != tt.withTokens {
				t.Errorf("settings = %+v, want addr %q, %d keys, tokens %v, no quick start", s, tt.addr, tt.keys, tt.withTokens)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files made in the data directory: %v", entries)
			}
			if buf.Len() != 0 {
				t.Errorf("logged %s", buf.String())
			}
			if tt.keys > 0 {
				if p, err := s.Authenticate("Bearer " + key + "-2"); err != nil || !p.IsOperator() {
					t.Errorf("a configured key: %s, %v", p, err)
				}
			}
			if tt.withTokens {
				want, err := auth.NewTokens([]byte(secret))
				if err != nil {
					t.Fatal(err)
				}
				token, _, _ := want.Mint("acme", 0)
				if _, err := s.Authenticate("Bearer " + token); err != nil {
					t.Errorf("a token signed with the configured secret: %v", err)
				}
			}
		})
	}
}
