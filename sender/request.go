package sender

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookworker/hookworker/internal/natstrace"
)

// Shared header values; net/http only reads them.
var jsonContentType = []string{"application/json"}

// newRequest builds the HTTP request of one attempt.
func (d *delivery) newRequest(ctx context.Context) (*http.Request, error) {
	s, req := d.s, &d.req
	// The destination was parsed and checked in prepare: the request gets
	// that URL rather than parsing it again (net/http only reads it).
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	hreq.URL = d.urls[d.cur]
	hreq.Host = strings.TrimSuffix(hreq.URL.Host, ":") // as NewRequest sets it
	h := make(http.Header, len(req.Header)+5)
	h["User-Agent"] = s.ua
	for k, v := range req.Header {
		k = http.CanonicalHeaderKey(k)
		if protectedHeader(k) {
			continue
		}
		h[k] = v
	}
	h["Content-Type"] = jsonContentType
	if !req.Unsigned {
		ts := strconv.FormatInt(s.now().Unix(), 10)
		vals := make([]string, 3) // one allocation for the three values
		vals[0], vals[1] = req.ID, ts
		h["Webhook-Id"] = vals[0:1:1]
		h["Webhook-Timestamp"] = vals[1:2:2]
		sign := req.Sign
		if sign == nil {
			sign = s.signer
		}
		if sign != nil {
			if vals[2], err = sign(req.ID, ts, req.Body); err != nil {
				return nil, fmt.Errorf("sign: %w", err)
			}
			h["Webhook-Signature"] = vals[2:3:3]
		}
	}
	if d.span != nil {
		// The receiver continues the attempt's trace.
		sc := d.span.SpanContext()
		if tp := natstrace.Traceparent(sc); tp != "" {
			h["Traceparent"] = []string{tp}
		}
		if sc.TraceState().Len() > 0 {
			h["Tracestate"] = []string{sc.TraceState().String()}
		}
	}
	hreq.Header = h
	return hreq, nil
}

// protectedHeader reports whether the canonical header key k is set by the
// Sender only.
func protectedHeader(k string) bool {
	switch k {
	case "Content-Length", "Content-Type", "Host", "Transfer-Encoding":
		return true
	}
	return strings.HasPrefix(k, "Webhook-")
}
