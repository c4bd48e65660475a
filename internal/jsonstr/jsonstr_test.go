package jsonstr_test

import (
	"encoding/json"
	"testing"

	"github.com/hookworker/hookworker/internal/jsonstr"
)

func TestAppendIsMarshal(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "<a href='x'>&</a>", "tab\tnew\nline\x00",
		"é ünïcode 🚀", "bad \xff utf-8", "\u2028\u2029"} {
		want, _ := json.Marshal(s)
		if got := jsonstr.Append([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("Append(%q) = %s, want x%s", s, got, want)
		}
	}
}

func FuzzAppendIsMarshal(f *testing.F) {
	f.Add("plain")
	f.Add("<\xff>")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := jsonstr.Append(nil, s); string(got) != string(want) {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
	})
}
