package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	testKey    = "hwk_config-test-operator-key-0123456789"
	testSecret = "config-test-token-secret-0123456789abc"
)

func TestLoadAPI(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("# operators\n"+testKey+"-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setenv(t, map[string]string{
		"HOOKWORKER_API_ADDR":               "127.0.0.1:0",
		"HOOKWORKER_API_KEYS":               testKey + ", " + testKey + "-one",
		"HOOKWORKER_API_KEYS_FILE":          file,
		"HOOKWORKER_TOKEN_SECRET":           testSecret,
		"HOOKWORKER_API_CORS_ORIGINS":       "https://App.Example.com, http://localhost:5173/",
		"HOOKWORKER_PORTAL_FRAME_ANCESTORS": "'self' https://app.example.com",
	})
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	keys, err := c.APIKeyList()
	if want := []string{testKey, testKey + "-one", testKey + "-two"}; err != nil || !reflect.DeepEqual(keys, want) {
		t.Errorf("APIKeyList = %q, %v; want %q", keys, err, want)
	}
	if want := (Origins{"https://app.example.com", "http://localhost:5173"}); !reflect.DeepEqual(c.APICORSOrigins, want) {
		t.Errorf("APICORSOrigins = %q, want %q", c.APICORSOrigins, want)
	}
	if c.APIAddr != "127.0.0.1:0" || c.TokenSecret != testSecret || c.PortalFrameAncestors != "'self' https://app.example.com" {
		t.Errorf("Load() = %+v", c)
	}
}

// TestLoadAPIAccepts checks the settings that are enough for the HTTP API.
func TestLoadAPIAccepts(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"off", nil},
		{"operator keys only", map[string]string{"HOOKWORKER_API_ADDR": ":8081", "HOOKWORKER_API_KEYS": testKey}},
		{"token secret only", map[string]string{"HOOKWORKER_API_ADDR": ":8081", "HOOKWORKER_TOKEN_SECRET": testSecret}},
		{"secret without the API", map[string]string{"HOOKWORKER_TOKEN_SECRET": testSecret}},
		{"any origin", map[string]string{"HOOKWORKER_API_CORS_ORIGINS": "*"}},
		{"frames forbidden", map[string]string{"HOOKWORKER_PORTAL_FRAME_ANCESTORS": "'none'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, tt.env)
			if _, err := Load(); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestLoadAPIErrors checks that each bad API setting is refused with a
// message naming its variable, and that no message repeats a key or the
// secret.
func TestLoadAPIErrors(t *testing.T) {
	dir := t.TempDir()
	shortFile := filepath.Join(dir, "short")
	if err := os.WriteFile(shortFile, []byte(testKey+"\n# next\nhwk_tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, []byte("# none yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // substring of the error
	}{
		{"short key", map[string]string{"HOOKWORKER_API_KEYS": testKey + ",hwk_tooshort"},
			"HOOKWORKER_API_KEYS: key 2: is 12 characters, want at least 32"},
		{"key with a space", map[string]string{"HOOKWORKER_API_KEYS": "hwk_tooshort hwk_tooshort hwk_tooshort"},
			"HOOKWORKER_API_KEYS: key 1: must be printable ASCII with no space"},
		{"short key in the file", map[string]string{"HOOKWORKER_API_KEYS_FILE": shortFile},
			"HOOKWORKER_API_KEYS_FILE: " + shortFile + ": line 3: key is 12 characters, want at least 32"},
		{"file without a key", map[string]string{"HOOKWORKER_API_KEYS_FILE": emptyFile},
			"HOOKWORKER_API_KEYS_FILE: " + emptyFile + ": holds no key"},
		{"missing file", map[string]string{"HOOKWORKER_API_KEYS_FILE": filepath.Join(dir, "missing")},
			"HOOKWORKER_API_KEYS_FILE: open "},
		{"short secret", map[string]string{"HOOKWORKER_TOKEN_SECRET": "hwk_tooshort"},
			"HOOKWORKER_TOKEN_SECRET: must be at least 32 bytes, got 12"},
		{"api without credentials", map[string]string{"HOOKWORKER_API_ADDR": "127.0.0.1:8081"},
			"HOOKWORKER_API_ADDR: is set but no one could call the API: set HOOKWORKER_API_KEYS (or HOOKWORKER_API_KEYS_FILE) for operator keys, or HOOKWORKER_TOKEN_SECRET for tenant tokens"},
		{"api with only blank keys", map[string]string{"HOOKWORKER_API_ADDR": "127.0.0.1:8081", "HOOKWORKER_API_KEYS": " , "},
			"HOOKWORKER_API_ADDR: is set but no one could call the API"},
		{"api address", map[string]string{"HOOKWORKER_API_ADDR": "localhost", "HOOKWORKER_API_KEYS": testKey},
			`HOOKWORKER_API_ADDR: must be host:port such as :9464, got "localhost"`},
		{"origin with a path", map[string]string{"HOOKWORKER_API_CORS_ORIGINS": "https://app.example.com/portal"},
			`HOOKWORKER_API_CORS_ORIGINS: must be comma-separated origins such as https://app.example.com, or *: invalid origin "https://app.example.com/portal"`},
		{"origin without a scheme", map[string]string{"HOOKWORKER_API_CORS_ORIGINS": "app.example.com"},
			`HOOKWORKER_API_CORS_ORIGINS: must be comma-separated origins`},
		{"frame ancestors empty", map[string]string{"HOOKWORKER_PORTAL_FRAME_ANCESTORS": " "},
			"HOOKWORKER_PORTAL_FRAME_ANCESTORS: must not be empty"},
		{"frame ancestors ending the directive", map[string]string{"HOOKWORKER_PORTAL_FRAME_ANCESTORS": "'self'; script-src *"},
			"HOOKWORKER_PORTAL_FRAME_ANCESTORS: must be space-separated sources"},
		{"frame ancestors none and more", map[string]string{"HOOKWORKER_PORTAL_FRAME_ANCESTORS": "'none' 'self'"},
			"HOOKWORKER_PORTAL_FRAME_ANCESTORS: 'none' must stand alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, tt.env)
			_, err := Load()
			if err == nil {
				t.Fatalf("Load() succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load() error = %q, want it to contain %q", err, tt.want)
			}
			for _, secret := range []string{testKey, "hwk_tooshort"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Load() error %q holds a key or the secret", err)
				}
			}
		})
	}
}
