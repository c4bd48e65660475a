package receiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookworker/hookworker/internal/secret"
)

// The Standard Webhooks headers a request must carry.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a request's webhook-timestamp may be from now,
// in either direction, when no other tolerance is configured.
const DefaultTolerance = 5 * time.Minute

// Errors Verify returns, wrapped with the detail that is safe to log (a
// header's name, never its value).
var (
	// ErrMissingHeader: a request lacks webhook-id, webhook-timestamp or
	// webhook-signature.
	ErrMissingHeader = errors.New("missing header")
	// ErrTimestamp: webhook-timestamp is not unix seconds, or is further
	// from now than the tolerance.
	ErrTimestamp = errors.New("timestamp outside tolerance")
	// ErrSignature: no v1 signature in webhook-signature matches any secret.
	ErrSignature = errors.New("no matching signature")
)

// Verifier checks Standard Webhooks signatures (v1, HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>") against one or more secrets, so
// that a secret can be rotated without refusing a request signed with either
// the old or the new one. Comparisons take constant time. A Verifier is safe
// for concurrent use.
type Verifier struct {
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
}

// NewVerifier returns a Verifier for secrets, each "whsec_" followed by 32
// to 100 characters of standard base64, a key of 24 to 75 bytes: the secrets
// hookworker signs with (the prefix may be left out). tolerance bounds how old or how far
// ahead a request's timestamp may be; 0 means DefaultTolerance. The error
// never contains a secret.
func NewVerifier(secrets []string, tolerance time.Duration) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("receiver: no signing secret")
	}
	if tolerance < 0 {
		return nil, fmt.Errorf("receiver: negative tolerance %s", tolerance)
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	v := &Verifier{tolerance: tolerance, now: time.Now}
	for i, s := range secrets {
		if !strings.HasPrefix(s, secret.Prefix) {
			s = secret.Prefix + s
		}
		key, err := secret.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("receiver: signing secret %d %w", i+1, err)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// Verify reports whether body and the Standard Webhooks headers in h were
// signed with one of the Verifier's secrets within the tolerance. It returns
// nil when they were, and otherwise an error wrapping ErrMissingHeader,
// ErrTimestamp or ErrSignature. The error names no signature, secret or
// body.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, hv := range [...]struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if hv.value == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, hv.name)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not unix seconds", ErrTimestamp, HeaderTimestamp)
	}
	now, tol := v.now().Unix(), int64(v.tolerance/time.Second)
	if sec < now-tol {
		return fmt.Errorf("%w: %s is too old", ErrTimestamp, HeaderTimestamp)
	}
	if sec > now+tol {
		return fmt.Errorf("%w: %s is in the future", ErrTimestamp, HeaderTimestamp)
	}

	var want [sha256.Size]byte
	var enc [44]byte // base64 of a SHA-256 sum
	ok := 0
	for _, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write(strconv.AppendInt(nil, sec, 10))
		mac.Write([]byte{'.'})
		mac.Write(body)
		base64.StdEncoding.Encode(enc[:], mac.Sum(want[:0]))
		for sig := range strings.SplitSeq(sigs, " ") {
			version, value, found := strings.Cut(sig, ",")
			if !found || version != "v1" {
				continue
			}
			// Every candidate is compared, so the time taken does not
			// say which secret or which signature matched.
			if hmac.Equal([]byte(value), enc[:]) {
				ok = 1
			}
		}
	}
	if ok == 0 {
		return ErrSignature
	}
	return nil
}
