package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/auth"
)

// FuzzAuthenticate checks that Authenticate never panics, accepts only the
// exact operator keys and the exact minted token, and fails with one of its
// fixed messages, so never repeats its input.
func FuzzAuthenticate(f *testing.F) {
	s := testSettings(f)
	token, _, err := s.Tokens.Mint("acme", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	// The messages Authenticate may fail with, learnt from inputs that
	// reach each reason.
	messages := map[string]bool{}
	for _, h := range []string{"", "Basic x", "Bearer x"} {
		_, err := s.Authenticate(h)
		messages[err.Error()] = true
	}
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Bearer " + operatorKey, "bearer  " + operatorKey2, "Bearer " + token,
		"Bearer " + token + "x", "Bearer " + strings.ToUpper(token), "Bearer a.b.c", "Basic " + operatorKey,
		"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhY21lIn0.",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		p, err := s.Authenticate(header)
		scheme, cred, _ := strings.Cut(header, " ")
		cred = strings.TrimLeft(cred, " ")
		if err == nil {
			switch {
			case !strings.EqualFold(scheme, "Bearer"):
				t.Fatalf("accepted %q without the Bearer scheme", header)
			case cred == operatorKey || cred == operatorKey2:
				if p != auth.Operator() {
					t.Fatalf("operator key gave %s", p)
				}
			case cred == token:
				if p != auth.Tenant("acme") {
					t.Fatalf("tenant token gave %s", p)
				}
			default:
				t.Fatalf("accepted %q as %s", header, p)
			}
			return
		}
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
		}
		if !messages[err.Error()] && !strings.Contains(err.Error(), "expired") && !strings.Contains(err.Error(), "audience") {
			t.Fatalf("error %q is not one of the fixed messages", err)
		}
	})
}
