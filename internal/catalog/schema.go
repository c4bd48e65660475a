package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// MaxViolations is the most schema violations an error lists.
const MaxViolations = 10

// What a violation quotes is bounded, so that an error about a large
// payload stays small: it names the pointer and the rule, and quotes a
// prefix of the value.
const (
	// MaxQuoted is the most bytes of a payload's string, or of a property
	// name, that a violation's reason or pointer quotes; a longer one is
	// cut and ends with "…".
	MaxQuoted = 64
	// MaxReason is the most bytes of a violation's reason, and
	// MaxPointer of its pointer, each cut and ending with "…" past it.
	MaxReason  = 512
	MaxPointer = 256
	// maxNamed is the most property names a reason lists.
	maxNamed = 5
)

// Violation is one way a payload breaks its schema.
type Violation struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value in the
	// payload; "" is the payload itself.
	Pointer string `json:"pointer"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

// schemaURL is the location compiled schemas are registered under.
const schemaURL = "hookworker:///event-type-schema.json"

var printer = message.NewPrinter(language.English)

// noLoader refuses every remote or file reference: a schema is compiled
// from its own document only.
type noLoader struct{}

// Load refuses url.
func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("references outside the schema are not loaded (%s)", url)
}

// The bounds of an event type's schema, checked before it is compiled, so
// that one request cannot hold a core or grow the worker for minutes
// (compiling grows faster than the nesting: 2,000 levels take seconds,
// 5,000 minutes). A schema of real payloads nests a few levels a field;
// these leave room for dozens.
const (
	// MaxSchemaBytes is the most bytes a schema takes as compact JSON.
	MaxSchemaBytes = 64 << 10
	// MaxSchemaDepth is the deepest a schema's JSON may nest objects and
	// arrays (the document itself is level 1).
	MaxSchemaDepth = 64
	// MaxSchemaCompileTime bounds compiling one schema; within the two
	// bounds above it takes milliseconds.
	MaxSchemaCompileTime = 5 * time.Second
)

// errCompileTime is the error of a schema that did not compile within the
// time allowed.
var errCompileTime = fmt.Errorf("took longer than %s to compile", MaxSchemaCompileTime)

// compileTime is how long compileSchema waits; tests shorten it.
var compileTime = MaxSchemaCompileTime

// jsonDepth returns how deep raw, a JSON document, nests objects and
// arrays, counting up to stop at most: a scan that reads no further once it
// knows the document is too deep.
func jsonDepth(raw []byte, stop int) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, b := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest >= stop {
					return deepest
				}
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return deepest
}

// checkSchemaBounds refuses a schema larger or deeper than the bounds.
func checkSchemaBounds(raw []byte) error {
	if len(raw) > MaxSchemaBytes {
		return fmt.Errorf("takes %d bytes as compact JSON, at most %d", len(raw), MaxSchemaBytes)
	}
	if d := jsonDepth(raw, MaxSchemaDepth+1); d > MaxSchemaDepth {
		return fmt.Errorf("nests objects and arrays more than %d levels deep", MaxSchemaDepth)
	}
	return nil
}

// compileSchema compiles a JSON Schema document: 2020-12 unless its $schema
// names another draft. Empty or null raw accepts every payload (nil). A
// document beyond MaxSchemaBytes (as given: compact it first) or
// MaxSchemaDepth is refused unread; compiling takes at most
// MaxSchemaCompileTime, else the error is errCompileTime.
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if err := checkSchemaBounds(raw); err != nil {
		return nil, err
	}
	type result struct {
		s   *jsonschema.Schema
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := compileBounded(raw)
		done <- result{s, err}
	}()
	t := time.NewTimer(compileTime)
	defer t.Stop()
	select {
	case r := <-done:
		return r.s, r.err
	case <-t.C:
		// The compilation ends on its own: the bounds keep it short.
		return nil, errCompileTime
	}
}

// compileBounded compiles raw, which the bounds have been checked on. A
// schema that breaks its metaschema is an error that lists a few of the
// places, not every one.
func compileBounded(raw []byte) (*jsonschema.Schema, error) {
	s, err := compileDocument(raw)
	var se *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	switch {
	case errors.As(err, &se) && errors.As(se.Err, &ve), errors.As(err, &ve):
		err = errors.New(summary(ve))
	case err != nil:
		err = errors.New(clip(err.Error(), MaxReason))
	}
	return s, err
}

// maxSummarised is the most places summary names.
const maxSummarised = 3

// summary says where a schema breaks its metaschema: the first few places,
// each as a violation says it, and how many more there are.
func summary(ve *jsonschema.ValidationError) string {
	var all []Violation
	collectAll(ve, &all)
	if len(all) == 0 {
		return clip(reason(ve.ErrorKind), MaxReason)
	}
	var b strings.Builder
	b.WriteString("it breaks the JSON Schema metaschema")
	for i, v := range all[:min(len(all), maxSummarised)] {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, " at %q: %s", v.Pointer, v.Reason)
	}
	if len(all) > maxSummarised {
		fmt.Fprintf(&b, " (and %d more)", len(all)-maxSummarised)
	}
	return b.String()
}

// collectAll appends every leaf of e's tree.
func collectAll(e *jsonschema.ValidationError, out *[]Violation) {
	if len(e.Causes) == 0 {
		*out = append(*out, Violation{Pointer: pointer(e.InstanceLocation), Reason: reason(e.ErrorKind)})
		return
	}
	for _, c := range e.Causes {
		collectAll(c, out)
	}
}

// compileDocument compiles raw as it is.
func compileDocument(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, errors.New("must be a JSON object or a boolean")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, err
	}
	if loc := refCycle(sch); loc != "" {
		return nil, fmt.Errorf("its references loop back to %s without moving into the payload (a $ref cycle): it would refuse every payload",
			strings.TrimPrefix(loc, schemaURL))
	}
	return sch, nil
}

// refCycle returns the location of a subschema of root that applies to a
// value through a chain of keywords that apply to the same value ($ref,
// allOf, not, if, …) and lead back to it, or "" when there is none. The
// validator refuses every value that reaches such a loop, so a schema with
// one is a mistake. A reference that moves into the value first
// (properties, items, …) is no loop: that is how recursive types are
// written.
func refCycle(root *jsonschema.Schema) string {
	// Every subschema is a start: a loop may hang below a property.
	var all []*jsonschema.Schema
	seen := map[*jsonschema.Schema]bool{}
	var collect func(*jsonschema.Schema)
	collect = func(s *jsonschema.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		all = append(all, s)
		for _, n := range samePlace(s) {
			collect(n)
		}
		for _, n := range below(s) {
			collect(n)
		}
	}
	collect(root)
	const (
		visiting = 1
		done     = 2
	)
	state := map[*jsonschema.Schema]int{}
	var visit func(*jsonschema.Schema) string
	visit = func(s *jsonschema.Schema) string {
		switch state[s] {
		case visiting:
			return s.Location
		case done:
			return ""
		}
		state[s] = visiting
		for _, n := range samePlace(s) {
			if loc := visit(n); loc != "" {
				return loc
			}
		}
		state[s] = done
		return ""
	}
	for _, s := range all {
		if loc := visit(s); loc != "" {
			return loc
		}
	}
	return ""
}

// samePlace returns the subschemas s applies to the value s applies to.
func samePlace(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	for _, d := range s.DependentSchemas {
		out = append(out, d)
	}
	for _, d := range s.Dependencies {
		if d, ok := d.(*jsonschema.Schema); ok {
			out = append(out, d)
		}
	}
	return slices.DeleteFunc(out, func(s *jsonschema.Schema) bool { return s == nil })
}

// below returns the subschemas s applies to values inside the value s
// applies to (properties, items, …).
func below(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema}
	for _, p := range s.Properties {
		out = append(out, p)
	}
	for _, p := range s.PatternProperties {
		out = append(out, p)
	}
	out = append(out, s.PrefixItems...)
	for _, v := range []any{s.AdditionalProperties, s.AdditionalItems, s.Items} {
		switch v := v.(type) {
		case *jsonschema.Schema:
			out = append(out, v)
		case []*jsonschema.Schema:
			out = append(out, v...)
		}
	}
	return slices.DeleteFunc(out, func(s *jsonschema.Schema) bool { return s == nil })
}

// validatePayload checks payload against s (nil accepts everything) and
// returns an *InvalidError for field "payload" listing at most
// MaxViolations violations.
func validatePayload(s *jsonschema.Schema, payload []byte) error {
	if t := bytes.TrimSpace(payload); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return invalid("payload", "is required")
	}
	if !utf8.Valid(payload) {
		return invalid("payload", "must be valid UTF-8")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return invalid("payload", "must be JSON: %v", err)
	}
	if s == nil {
		return nil
	}
	err = s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return invalid("payload", "%v", err)
	}
	var out []Violation
	collectViolations(ve, &out)
	if len(out) == 0 {
		out = append(out, Violation{Pointer: pointer(ve.InstanceLocation), Reason: reason(ve.ErrorKind)})
	}
	return &InvalidError{Field: "payload", Reason: "does not match the event type's schema", Violations: out}
}

// collectViolations appends the leaves of e's tree, up to MaxViolations.
func collectViolations(e *jsonschema.ValidationError, out *[]Violation) {
	if len(*out) >= MaxViolations {
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, Violation{Pointer: pointer(e.InstanceLocation), Reason: reason(e.ErrorKind)})
		return
	}
	for _, c := range e.Causes {
		collectViolations(c, out)
	}
}

// pointer joins tokens into a JSON pointer, escaping ~ and /; a token
// longer than MaxQuoted, and the whole past MaxPointer, is cut.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(clip(t, MaxQuoted), "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
		if b.Len() > MaxPointer {
			break
		}
	}
	return clip(b.String(), MaxPointer)
}

// reason says what k, the kind of a violation, is wrong with the value, as
// the schema library says it, with what it quotes of the payload cut to
// MaxQuoted and the whole to MaxReason.
func reason(k jsonschema.ErrorKind) string {
	more := ""
	switch c := k.(type) {
	case *kind.Pattern:
		k = &kind.Pattern{Got: clip(c.Got, MaxQuoted), Want: c.Want}
	case *kind.Format:
		f := *c
		if s, ok := c.Got.(string); ok {
			f.Got = clip(s, MaxQuoted)
		}
		if c.Err != nil {
			f.Err = errors.New(clip(c.Err.Error(), MaxQuoted))
		}
		k = &f
	case *kind.PropertyNames:
		k = &kind.PropertyNames{Property: clip(c.Property, MaxQuoted)}
	case *kind.AdditionalProperties:
		names := c.Properties
		if len(names) > maxNamed {
			more = fmt.Sprintf(" (and %d more)", len(names)-maxNamed)
			names = names[:maxNamed]
		}
		clipped := make([]string, len(names))
		for i, n := range names {
			clipped[i] = clip(n, MaxQuoted)
		}
		k = &kind.AdditionalProperties{Properties: clipped}
	}
	return clip(k.LocalizedString(printer)+more, MaxReason)
}

// clip returns s cut to at most n bytes, at a character boundary, ending
// with "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
