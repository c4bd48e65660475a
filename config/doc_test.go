package config

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

var update = flag.Bool("update", false, "rewrite the variables table of docs/configuration.md from Config's tags")

// docPath is the configuration page, relative to this package.
const docPath = "../docs/configuration.md"

// The variables table of docs/configuration.md sits between these lines.
const (
	tableStart = "<!-- The table below is made from config.Config's tags: go test ./config -run TestConfigurationDoc -update -->\n"
	tableEnd   = "<!-- end of the variables table -->\n"
)

// docTableFormat is the envconfig.Usagef template of the variables table:
// the same columns as hookworker -h, as Markdown.
const docTableFormat = "| variable | default | meaning |\n|---|---|---|\n" +
	"{{range $v := .}}| `{{usage_key $v}}` | " +
	"{{with $v.Tags.Get \"shown\"}}{{.}}{{else}}{{with usage_default $v}}`{{.}}`{{else}}empty{{end}}{{end}} | " +
	"{{usage_description $v}} |\n{{end}}"

// TestConfigurationDoc checks that the variables table of
// docs/configuration.md is the one Config's tags make: every variable, its
// default and its meaning. With -update it rewrites the table instead.
func TestConfigurationDoc(t *testing.T) {
	rt := reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		for _, tag := range []string{"envconfig", "default", "shown", "desc"} {
			if strings.ContainsAny(f.Tag.Get(tag), "|`\n") {
				t.Errorf("field %s: %s tag %q holds a character that breaks the Markdown table", f.Name, tag, f.Tag.Get(tag))
			}
		}
	}
	var table strings.Builder
	if err := envconfig.Usagef("", &Config{}, &table, docTableFormat); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := strings.Cut(string(doc), tableStart)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the lines that mark its variables table:\n%s%s", docPath, tableStart, tableEnd)
	}
	want := before + tableStart + table.String() + tableEnd + after
	if want == string(doc) {
		return
	}
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have := strings.Split(strings.TrimSuffix(rest[:len(rest)-len(after)-len(tableEnd)], "\n"), "\n")
	gen := strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n")
	for _, line := range missing(gen, have) {
		t.Errorf("%s lacks: %s", docPath, line)
	}
	for _, line := range missing(have, gen) {
		t.Errorf("%s has, Config does not: %s", docPath, line)
	}
	t.Errorf("the variables table of %s differs from Config's tags; run go test ./config -run TestConfigurationDoc -update", docPath)
}

// missing returns the lines of a that b lacks.
func missing(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, line := range b {
		in[line] = true
	}
	var out []string
	for _, line := range a {
		if !in[line] {
			out = append(out, line)
		}
	}
	return out
}
