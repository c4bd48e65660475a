package catalog

import (
	"errors"
	"fmt"
)

// ErrNotFound is the error for an event type, endpoint or tenant that does
// not exist (an archived event type counts as missing where an event is
// sent).
var ErrNotFound = errors.New("not found")

// ErrTooLarge is the error for an event type or endpoint whose JSON alone
// is more than a page of a listing may hold.
var ErrTooLarge = errors.New("too large for a listing's reply")

// InvalidError says a request is invalid; Field names the field at fault
// (a JSON key such as "url", or "payload" for a payload that breaks its
// schema) and Violations lists the schema violations, when there are some.
type InvalidError struct {
	// Field is the request field at fault.
	Field string
	// Reason says what is wrong with it.
	Reason string
	// Violations are the schema violations of a payload, at most
	// MaxViolations.
	Violations []Violation
}

// Error names the field, the reason and each violation.
func (e *InvalidError) Error() string {
	s := e.Field + ": " + e.Reason
	for _, v := range e.Violations {
		s += fmt.Sprintf("; at %q: %s", v.Pointer, v.Reason)
	}
	return s
}

// invalid returns an *InvalidError for field.
func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// notFound returns an error wrapping ErrNotFound that names what is missing.
func notFound(what, key string) error {
	return fmt.Errorf("%s %q: %w", what, key, ErrNotFound)
}
