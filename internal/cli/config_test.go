package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/internal/cli"
)

// TestBadVariableMessage checks the whole message of a value that does not
// parse, for each kind of value: exit status 2, the variable named first,
// what was expected and what was given, nothing on stdout.
func TestBadVariableMessage(t *testing.T) {
	const head = "hookworker: invalid configuration:\n"
	tests := []struct {
		name, variable, value string
		args                  []string
		want                  string
	}{
		{"duration", "HOOKWORKER_ACK_WAIT", "soon", nil,
			`HOOKWORKER_ACK_WAIT: must be a duration such as 15s or 1m30s, got "soon"`},
		{"empty duration", "HOOKWORKER_TIMEOUT", "", nil,
			`HOOKWORKER_TIMEOUT: must be a duration such as 15s or 1m30s, got ""`},
		{"number", "HOOKWORKER_MAX_RETRIES", "three", nil,
			`HOOKWORKER_MAX_RETRIES: must be a whole number, got "three"`},
		{"bool", "HOOKWORKER_ALLOW_PRIVATE_NETWORKS", "maybe", nil,
			`HOOKWORKER_ALLOW_PRIVATE_NETWORKS: must be true or false, got "maybe"`},
		{"networks", "HOOKWORKER_ALLOWED_NETWORKS", "10.0.0.0/8,10.1", nil,
			`HOOKWORKER_ALLOWED_NETWORKS: must be comma-separated CIDRs such as 10.1.0.0/16: invalid CIDR "10.1"`},
		{"schedule", "HOOKWORKER_RETRY_SCHEDULE", "5s,soon", nil,
			`HOOKWORKER_RETRY_SCHEDULE: must be comma-separated durations such as 5s,5m,30m: invalid duration "soon"`},
		{"send", "HOOKWORKER_CONCURRENCY", "many", []string{"send", "--url", "https://example.com/hook", "--payload", "{}"},
			`HOOKWORKER_CONCURRENCY: must be a whole number, got "many"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv("nats://127.0.0.1:1") // never reached: config fails first
			env[tt.variable] = tt.value
			setEnv(t, env)
			code, out, errOut := mainOut(t, nil, tt.args...)
			if code != cli.ExitUsage || out != "" || errOut != head+tt.want+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and stderr %q", code, out, errOut, cli.ExitUsage, head+tt.want+"\n")
			}
		})
	}
}

// TestHelpListsTheVariables checks that hookworker -h ends with
// config.Usage's table: every variable, its default and its meaning.
func TestHelpListsTheVariables(t *testing.T) {
	var table bytes.Buffer
	config.Usage(&table)
	code, out, _ := mainOut(t, nil, "-h")
	if code != cli.ExitOK || !strings.HasSuffix(out, "Configuration (environment):\n"+table.String()) {
		t.Errorf("exit %d, stdout:\n%s\nwant it to end with the variables:\n%s", code, out, table.String())
	}
}
