package cli_test

import (
	"bytes"
	"os"
	"strconv"
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

// TestConfigurationDocExamples runs the examples of
// docs/configuration.md, ```sh blocks of "NAME=value … hookworker args"
// lines, each followed by what it prints as "# " lines, and compares the
// output and the exit status (exit=N on the block, else 0).
func TestConfigurationDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := shExamples(t, string(doc))
	if len(examples) == 0 {
		t.Fatal("docs/configuration.md has no examples")
	}
	for _, ex := range examples {
		t.Run(ex.line, func(t *testing.T) {
			setEnv(t, ex.env)
			code, out, errOut := mainOut(t, nil, ex.args...)
			if got := out + errOut; got != ex.out {
				t.Errorf("output:\n%s\nthe page says:\n%s", got, ex.out)
			}
			if code != ex.code {
				t.Errorf("exit %d, the page says %d", code, ex.code)
			}
		})
	}
}

// shExample is one command of a ```sh block and what it prints.
type shExample struct {
	line string
	env  map[string]string
	args []string
	out  string
	code int
}

// shExamples parses the ```sh blocks of a Markdown page.
func shExamples(t *testing.T, doc string) []shExample {
	t.Helper()
	var (
		list    []shExample
		inBlock bool
		code    int
	)
	for line := range strings.Lines(doc) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case !inBlock && (line == "```sh" || strings.HasPrefix(line, "```sh ")):
			inBlock, code = true, 0
			if n, ok := strings.CutPrefix(line, "```sh exit="); ok {
				var err error
				if code, err = strconv.Atoi(n); err != nil {
					t.Fatalf("docs/configuration.md: bad block %q", line)
				}
			}
		case !inBlock:
		case line == "```":
			inBlock = false
		case strings.HasPrefix(line, "# "):
			if len(list) == 0 {
				t.Fatalf("docs/configuration.md: output %q follows no command", line)
			}
			list[len(list)-1].out += line[2:] + "\n"
		default:
			ex := shExample{line: line, env: map[string]string{}, code: code}
			fields := strings.Fields(line)
			for len(fields) > 0 && fields[0] != "hookworker" {
				name, value, ok := strings.Cut(fields[0], "=")
				if !ok || strings.ContainsAny(value, `"'\`) {
					t.Fatalf("docs/configuration.md: cannot run %q", line)
				}
				ex.env[name] = value
				fields = fields[1:]
			}
			if len(fields) == 0 {
				t.Fatalf("docs/configuration.md: %q does not run hookworker", line)
			}
			ex.args = fields[1:]
			list = append(list, ex)
		}
	}
	return list
}
