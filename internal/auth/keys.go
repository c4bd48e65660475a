package auth

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MinKeyLen is the shortest operator key accepted, in characters.
const MinKeyLen = 32

// maxKeyLen bounds an operator key, so that an Authorization header is
// bounded too.
const maxKeyLen = 1024

// maxKeysFile bounds a keys file.
const maxKeysFile = 1 << 20

// Keys is a set of operator keys. Match compares a candidate with every key
// in constant time: neither which key matched nor how much of one did shows
// in the time it takes. The zero value, and nil, hold no key.
type Keys struct {
	sums [][sha256.Size]byte
}

// NewKeys returns the set of keys, each checked by CheckKey.
func NewKeys(keys []string) (*Keys, error) {
	k := &Keys{sums: make([][sha256.Size]byte, 0, len(keys))}
	for i, key := range keys {
		if err := CheckKey(key); err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		k.sums = append(k.sums, sha256.Sum256([]byte(key)))
	}
	return k, nil
}

// Len returns the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.sums)
}

// Match reports whether candidate is one of the keys. Every key is
// compared, each in constant time, over SHA-256 sums of equal length.
func (k *Keys) Match(candidate string) bool {
	if k == nil {
		return false
	}
	sum := sha256.Sum256([]byte(candidate))
	found := 0
	for i := range k.sums {
		found |= subtle.ConstantTimeCompare(sum[:], k.sums[i][:])
	}
	return found == 1
}

// CheckKey checks one operator key: at least MinKeyLen and at most 1024
// printable ASCII characters, no space. Its error never holds the key.
func CheckKey(key string) error {
	if len(key) < MinKeyLen {
		return fmt.Errorf("is %d characters, want at least %d", len(key), MinKeyLen)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("is %d characters, want at most %d", len(key), maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return errors.New("must be printable ASCII with no space")
		}
	}
	return nil
}

// ParseKeys reads a comma-separated list of operator keys (spaces around
// entries and empty entries ignored), each checked by CheckKey. An error
// says which entry is at fault by its position, never by its text.
func ParseKeys(list string) ([]string, error) {
	var keys []string
	n := 0
	for key := range strings.SplitSeq(list, ",") {
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		n++
		if err := CheckKey(key); err != nil {
			return nil, fmt.Errorf("key %d: %w", n, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// ReadKeysFile reads operator keys from a file of at most 1 MiB, one a
// line; blank lines and lines starting with # are skipped, spaces around a
// key ignored. A file without a key is an error, as is a key that
// CheckKey refuses; an error names the line, never the key.
func ReadKeysFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeysFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeysFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeysFile)
	}
	var keys []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxKeysFile)
	for line := 1; sc.Scan(); line++ {
		key := strings.TrimSpace(sc.Text())
		if key == "" || strings.HasPrefix(key, "#") {
			continue
		}
		if err := CheckKey(key); err != nil {
			return nil, fmt.Errorf("%s: line %d: key %w", path, line, err)
		}
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: holds no key", path)
	}
	return keys, nil
}

// NewKey returns a new random operator key: "hwk_" and 43 characters of
// URL-safe base64, 256 random bits in all.
func NewKey() string {
	return "hwk_" + random()
}

// NewSecret returns a new random token secret: 43 characters of URL-safe
// base64, 256 random bits.
func NewSecret() []byte {
	return []byte(random())
}

// random returns 32 random bytes in unpadded URL-safe base64.
func random() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error; crashes the program if randomness fails
	return base64.RawURLEncoding.EncodeToString(b)
}
