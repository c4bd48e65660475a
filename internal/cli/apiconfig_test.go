package cli_test

import (
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/cli"
)

// TestBadAPIVariables checks that a bad HTTP API setting stops the worker
// with exit status 2 before it connects, naming the variable and never
// repeating the key or the secret.
func TestBadAPIVariables(t *testing.T) {
	const short = "hwk_tooshort"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"short key", map[string]string{"HOOKWORKER_API_KEYS": short},
			"HOOKWORKER_API_KEYS: key 1: is 12 characters, want at least 32\n"},
		{"short secret", map[string]string{"HOOKWORKER_TOKEN_SECRET": short},
			"HOOKWORKER_TOKEN_SECRET: must be at least 32 bytes, got 12\n"},
		{"nobody could call", map[string]string{"HOOKWORKER_API_ADDR": "127.0.0.1:0"},
			"HOOKWORKER_API_ADDR: is set but no one could call the API: set HOOKWORKER_API_KEYS (or HOOKWORKER_API_KEYS_FILE) for operator keys, or HOOKWORKER_TOKEN_SECRET for tenant tokens, or both\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv("nats://127.0.0.1:1") // never reached: config fails first
			for k, v := range tt.env {
				env[k] = v
			}
			setEnv(t, env)
			code, out, errOut := mainOut(t, nil)
			want := "hookworker: invalid configuration:\n" + tt.want
			if code != cli.ExitUsage || out != "" || errOut != want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and stderr %q", code, out, errOut, cli.ExitUsage, want)
			}
			if strings.Contains(errOut, short) {
				t.Errorf("stderr repeats the key or the secret")
			}
		})
	}
}
