package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go/micro"

	"github.com/hookworker/hookworker/internal/catalog"
)

// An error reply fits the max payload whatever the error holds: the header
// carries a cut description, the body drops violations, then cuts its
// description, and what is left stays valid JSON.
func TestErrorReplyFitsTheLimit(t *testing.T) {
	s := &Service{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	long := strings.Repeat("é", 20<<10)
	var vs []catalog.Violation
	for i := range catalog.MaxViolations {
		vs = append(vs, catalog.Violation{Pointer: fmt.Sprintf("/%d/%s", i, long), Reason: long})
	}
	errs := map[string]error{
		"violations":         &catalog.InvalidError{Field: "payload", Reason: "does not match", Violations: vs},
		"a long 500":         errors.New(long + "\r\nX-Injected: 1"),
		"a long not-found":   fmt.Errorf("%s: %w", long, catalog.ErrNotFound),
		"a short bad field":  &catalog.InvalidError{Field: "id", Reason: "must be short"},
		"control characters": errors.New(strings.Repeat("\x00\x01\"\\", 4<<10)),
	}
	for name, err := range errs {
		for _, limit := range []int{1 << 20, 64 << 10, 8 << 10, 1 << 10} {
			t.Run(fmt.Sprintf("%s in %d", name, limit), func(t *testing.T) {
				code, desc, data := s.errorReply("hooks.api.x", err, limit)
				size := len("NATS/1.0\r\n"+micro.ErrorCodeHeader+": "+code+"\r\n"+micro.ErrorHeader+": "+desc+"\r\n\r\n") + len(data)
				if size > limit {
					t.Fatalf("reply of %d bytes, more than %d", size, limit)
				}
				if strings.ContainsAny(desc, "\r\n") || !utf8.ValidString(desc) {
					t.Fatalf("header description %.100q", desc)
				}
				if data != nil && !json.Valid(data) {
					t.Fatalf("body is not JSON: %.100s", data)
				}
				if name == "a short bad field" && (code != "400" || !strings.Contains(string(data), `"field":"id"`)) {
					t.Fatalf("code %s, body %s", code, data)
				}
			})
		}
	}
}
