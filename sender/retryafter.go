package sender

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxWait is the longest wait a server can ask for; longer requests are
// clamped to it (they exceed any sane MaxRetryWait anyway).
const maxWait = time.Duration(math.MaxInt64)

// ParseRetryAfter parses a Retry-After header value: delay-seconds (a
// non-negative number, fractions accepted) or an HTTP date, taken relative to
// now. A date in the past means no wait. It reports false when v is neither.
// The wait returned is never negative.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if c := v[0]; c >= '0' && c <= '9' || c == '.' {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		return seconds(f)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if !t.After(now) {
		return 0, true
	}
	d := t.Sub(now) // saturates at maxWait
	return d, true
}

// seconds converts a non-negative, finite number of seconds to a duration,
// clamped to maxWait.
func seconds(f float64) (time.Duration, bool) {
	if math.IsNaN(f) || math.IsInf(f, -1) || f < 0 {
		return 0, false
	}
	if f >= float64(maxWait)/float64(time.Second) {
		return maxWait, true
	}
	return time.Duration(f * float64(time.Second)), true
}

// discordLimit is the part of Discord's 429 body that says how long to wait.
type discordLimit struct {
	RetryAfter *float64 `json:"retry_after"`
}

// retryAfter returns the wait a 429 response asks for: Discord's JSON body
// retry_after (float seconds) first, then the Retry-After header. It
// reports false when the response asks for nothing usable.
func retryAfter(h http.Header, body []byte, now time.Time) (time.Duration, bool) {
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '{' {
		var l discordLimit
		if json.Unmarshal(body, &l) == nil && l.RetryAfter != nil {
			if d, ok := seconds(*l.RetryAfter); ok {
				return d, true
			}
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		return ParseRetryAfter(v, now)
	}
	return 0, false
}
