// Package secret parses and makes Standard Webhooks signing secrets: the
// one rule for what a secret is, shared by the endpoint catalog, the
// worker's own signing secret, the sender that signs and the receiver that
// verifies.
//
// A secret is "whsec_" followed by 32 to 100 characters of standard base64
// (padding allowed) that decode to a key of MinKey to MaxKey bytes. The
// Standard Webhooks specification recommends keys of 24 to 64 bytes; longer
// keys are accepted because HMAC-SHA256 takes a key of any length (one over
// 64 bytes is hashed first, as every HMAC library does), Svix accepts secrets
// of up to 100 characters, and a key accepted anywhere must be one the
// sender can sign with.
package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Prefix starts every signing secret.
const Prefix = "whsec_"

// The lengths of a key, decoded, that Parse accepts: what 32 to 100
// characters of base64 hold.
const (
	MinKey = 24
	MaxKey = 75
)

// Format describes an acceptable secret, for messages.
const Format = `"whsec_" followed by 32 to 100 characters of standard base64 (a key of 24 to 75 bytes)`

// NewKeySize is the length of the keys New makes.
const NewKeySize = 32

// Parse returns the HMAC key of secret. Its error says what is wrong with
// the format and never repeats the secret.
func Parse(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, Prefix)
	if !ok {
		return nil, errors.New(`must start with "whsec_"`)
	}
	if n := len(b64); n < 32 || n > 100 {
		return nil, fmt.Errorf(`must be "whsec_" followed by 32 to 100 base64 characters, got %d`, n)
	}
	// The decoder skips line breaks; a secret holds none.
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || strings.ContainsFunc(b64, notBase64) {
		return nil, errors.New(`must be "whsec_" followed by standard base64`)
	}
	if len(key) < MinKey || len(key) > MaxKey {
		return nil, fmt.Errorf("must hold a key of %d to %d bytes, got %d", MinKey, MaxKey, len(key))
	}
	return key, nil
}

// notBase64 reports whether r is outside the standard base64 alphabet and
// its padding.
func notBase64(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=')
}

// New returns a fresh secret: Prefix and the base64 of NewKeySize random
// bytes.
func New() string {
	b := make([]byte, NewKeySize)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return Prefix + base64.StdEncoding.EncodeToString(b)
}
