package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// MaxViolations is the most schema violations an error lists.
const MaxViolations = 10

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

// compileSchema compiles a JSON Schema document: 2020-12 unless its $schema
// names another draft. Empty or null raw accepts every payload (nil).
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
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
	return c.Compile(schemaURL)
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
		out = append(out, Violation{Pointer: pointer(ve.InstanceLocation), Reason: ve.ErrorKind.LocalizedString(printer)})
	}
	return &InvalidError{Field: "payload", Reason: "does not match the event type's schema", Violations: out}
}

// collectViolations appends the leaves of e's tree, up to MaxViolations.
func collectViolations(e *jsonschema.ValidationError, out *[]Violation) {
	if len(*out) >= MaxViolations {
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, Violation{Pointer: pointer(e.InstanceLocation), Reason: e.ErrorKind.LocalizedString(printer)})
		return
	}
	for _, c := range e.Causes {
		collectViolations(c, out)
	}
}

// pointer joins tokens into a JSON pointer, escaping ~ and /.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
