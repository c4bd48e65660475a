package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A schema within the bounds that does not compile in the time allowed is
// refused with errCompileTime, without waiting for the compilation.
func TestCompileSchemaIsBoundInTime(t *testing.T) {
	chain := strings.Repeat(`{"not":`, 60) + `{}` + strings.Repeat(`}`, 60)
	var props []string
	for i := 0; len(strings.Join(props, ",")) < MaxSchemaBytes-1000; i++ {
		props = append(props, fmt.Sprintf(`"p%d":%s`, i, chain))
	}
	raw := []byte(`{"properties":{` + strings.Join(props, ",") + `}}`)
	if err := checkSchemaBounds(raw); err != nil {
		t.Fatalf("the schema is not within the bounds: %v", err)
	}
	defer func(d time.Duration) { compileTime = d }(compileTime)
	compileTime = time.Nanosecond
	if _, err := compileSchema(raw); !errors.Is(err, errCompileTime) {
		t.Fatalf("err = %v, want %v", err, errCompileTime)
	}
	// The positive control: given its time, a schema compiles.
	compileTime = MaxSchemaCompileTime
	if s, err := compileSchema([]byte(`{"properties":{"a":` + chain + `}}`)); err != nil || s == nil {
		t.Fatalf("compile = %v, %v", s, err)
	}
}

func TestJSONDepth(t *testing.T) {
	tests := []struct {
		raw  string
		want int
	}{
		{`1`, 0},
		{`{}`, 1},
		{`{"a":[{"b":[]}]}`, 4},
		{`{"a":"[[[{{{"}`, 1},
		{`{"a":"\"[[["}`, 1},
		{`{"a":"\\","b":[[]]}`, 3},
		{`[[],[[]],[]]`, 3},
	}
	for _, tt := range tests {
		if got := jsonDepth([]byte(tt.raw), 100); got != tt.want {
			t.Errorf("jsonDepth(%s) = %d, want %d", tt.raw, got, tt.want)
		}
	}
	if got := jsonDepth([]byte(strings.Repeat("[", 5000)), 65); got != 65 {
		t.Errorf("jsonDepth stops at %d, want 65", got)
	}
}

// FuzzJSONDepth checks the scan against encoding/json's tokens on every
// valid document.
func FuzzJSONDepth(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"]}"}]}`, `["\\\"[",[[]]]`, `"x"`, `[[[[]]],[]]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		d := json.NewDecoder(strings.NewReader(s))
		depth, deepest := 0, 0
		for {
			tok, err := d.Token()
			if err != nil {
				break
			}
			switch tok {
			case json.Delim('{'), json.Delim('['):
				depth++
				deepest = max(deepest, depth)
			case json.Delim('}'), json.Delim(']'):
				depth--
			}
		}
		if got := jsonDepth([]byte(s), 1<<30); got != deepest {
			t.Fatalf("jsonDepth(%q) = %d, want %d", s, got, deepest)
		}
	})
}
