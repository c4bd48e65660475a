package secret_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/secret"
)

func TestParse(t *testing.T) {
	key := func(n int) []byte { return bytes.Repeat([]byte{0xa5}, n) }
	enc := func(n int) string { return secret.Prefix + base64.StdEncoding.EncodeToString(key(n)) }
	for _, tc := range []struct {
		name   string
		secret string
		keyLen int // 0: refused
	}{
		{"shortest key", enc(secret.MinKey), secret.MinKey},
		{"generated size", enc(32), 32},
		{"spec's longest", enc(64), 64},
		{"longer than the spec's", enc(72), 72},
		{"longest", enc(secret.MaxKey), secret.MaxKey},
		{"key too short", enc(secret.MinKey - 1), 0},
		{"key too long", enc(secret.MaxKey + 1), 0},
		{"no prefix", base64.StdEncoding.EncodeToString(key(32)), 0},
		{"wrong prefix", "whsex_" + base64.StdEncoding.EncodeToString(key(32)), 0},
		{"url-safe base64", secret.Prefix + strings.Repeat("-_", 20), 0},
		{"line break", secret.Prefix + strings.Repeat("A", 24) + "\r" + strings.Repeat("A", 8), 0},
		{"bad padding", secret.Prefix + strings.Repeat("A", 33), 0},
		{"empty", "", 0},
		{"prefix only", secret.Prefix, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := secret.Parse(tc.secret)
			if tc.keyLen == 0 {
				if err == nil {
					t.Fatalf("Parse accepted %q", tc.secret)
				}
				if len(tc.secret) > len(secret.Prefix) && strings.Contains(err.Error(), tc.secret[len(secret.Prefix):]) {
					t.Fatalf("error repeats the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(k, key(tc.keyLen)) {
				t.Fatalf("key = %x, want %d bytes of a5", k, tc.keyLen)
			}
		})
	}
}

func TestNewParses(t *testing.T) {
	a, b := secret.New(), secret.New()
	if a == b {
		t.Fatal("New returned the same secret twice")
	}
	k, err := secret.Parse(a)
	if err != nil {
		t.Fatalf("Parse(New()): %v", err)
	}
	if len(k) != secret.NewKeySize {
		t.Fatalf("key of %d bytes, want %d", len(k), secret.NewKeySize)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(secret.New())
	f.Add("whsec_")
	f.Add("whsec_" + strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, s string) {
		k, err := secret.Parse(s)
		if err != nil {
			return
		}
		if len(k) < secret.MinKey || len(k) > secret.MaxKey {
			t.Fatalf("accepted a key of %d bytes", len(k))
		}
		if n := base64.StdEncoding.EncodedLen(len(k)); n != len(s)-len(secret.Prefix) {
			t.Fatalf("accepted %d characters for a key of %d bytes", len(s)-len(secret.Prefix), len(k))
		}
	})
}
