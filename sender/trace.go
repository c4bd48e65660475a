package sender

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
)

// trace records how far an attempt through a proxy got, to tell a proxy
// that does not answer from a destination that does not.
type trace struct {
	// reached is set once the proxy has connected to the destination: a
	// connection is ready (through a CONNECT tunnel or SOCKS, the proxy
	// has connected to the destination) and the request has been written
	// on it (a forwarding proxy has it).
	got, wrote atomic.Bool
	// answered is set when the proxy answered CONNECT, whatever its
	// status: it is working, and what it says is about the destination.
	answered atomic.Bool
}

// traceKey is the context key of an attempt's trace.
type traceKey struct{}

// onConnectResponse is the Transport's OnProxyConnectResponse: it marks the
// attempt's trace.
func onConnectResponse(ctx context.Context, _ *url.URL, _ *http.Request, _ *http.Response) error {
	if t, ok := ctx.Value(traceKey{}).(*trace); ok {
		t.answered.Store(true)
	}
	return nil
}

// traced attaches a trace to hreq.
func traced(hreq *http.Request) *trace {
	t := &trace{}
	ct := &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { t.got.Store(true) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				t.wrote.Store(true)
			}
		},
	}
	ctx := context.WithValue(hreq.Context(), traceKey{}, t)
	*hreq = *hreq.WithContext(httptrace.WithClientTrace(ctx, ct))
	return t
}

// connected reports whether the proxy had connected to the destination (or
// answered that it could not), or taken the request to forward it. A nil trace (no proxy) reports false.
func (t *trace) connected() bool {
	return t != nil && (t.answered.Load() || t.got.Load() && t.wrote.Load())
}
