package catalog

import (
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
