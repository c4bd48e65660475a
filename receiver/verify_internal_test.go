package receiver

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const (
	testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	otherKey   = "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGhlLXJvdGF0aW9u"
)

// fixedVerifier returns a Verifier for secrets whose clock stands at now.
func fixedVerifier(t testing.TB, now time.Time, secrets ...string) *Verifier {
	t.Helper()
	v, err := NewVerifier(secrets, 0)
	if err != nil {
		t.Fatal(err)
	}
	v.now = func() time.Time { return now }
	return v
}

func signHeader(t testing.TB, secret, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h
}

// TestVerifyTolerance checks the edges of the 5-minute tolerance on both
// sides.
func TestVerifyTolerance(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"a.b"}`)
	cases := []struct {
		name string
		at   time.Time
		want error
	}{
		{"now", now, nil},
		{"5 minutes old", now.Add(-5 * time.Minute), nil},
		{"5 minutes 1 second old", now.Add(-5*time.Minute - time.Second), ErrTimestamp},
		{"5 minutes ahead", now.Add(5 * time.Minute), nil},
		{"5 minutes 1 second ahead", now.Add(5*time.Minute + time.Second), ErrTimestamp},
		{"epoch", time.Unix(0, 0), ErrTimestamp},
		{"far future", time.Unix(1<<62, 0), ErrTimestamp},
		{"far past", time.Unix(-1<<62, 0), ErrTimestamp},
	}
	v := fixedVerifier(t, now, testSecret)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := v.Verify(signHeader(t, testSecret, "msg_1", c.at, body), body); !errors.Is(err, c.want) {
				t.Errorf("Verify: %v, want %v", err, c.want)
			}
		})
	}
}

// FuzzVerify feeds the verifier any headers and body: it must not panic,
// and whatever it accepts the specification's library accepts too.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"order.created","timestamp":"2026-01-02T03:04:05Z","data":{"n":1}}`)
	good := signHeader(f, testSecret, "msg_1", now, body)
	f.Add(good.Get(HeaderID), good.Get(HeaderTimestamp), good.Get(HeaderSignature), body)
	f.Add(good.Get(HeaderID), good.Get(HeaderTimestamp), "v1a,x v1,"+good.Get(HeaderSignature)[3:]+" v2", body)
	f.Add("", "", "", []byte(nil))
	f.Add("msg_1", "-9223372036854775808", "v1,", []byte("{}"))
	f.Add("msg_1", "9223372036854775807", ",,, v1 v1,,", []byte("\xff"))
	f.Add("msg_1", "+1800000000", "v1,"+good.Get(HeaderSignature)[3:], body)
	v := fixedVerifier(f, now, otherKey, testSecret)
	lib, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		err := v.Verify(h, body)
		if err == nil {
			if lerr := lib.VerifyIgnoringTimestamp(body, h); lerr != nil {
				t.Errorf("Verify accepted what the library refuses (%v): id %q ts %q sig %q", lerr, id, ts, sig)
			}
			return
		}
		if !errors.Is(err, ErrMissingHeader) && !errors.Is(err, ErrTimestamp) && !errors.Is(err, ErrSignature) {
			t.Errorf("Verify: unexpected error %v", err)
		}
	})
}
