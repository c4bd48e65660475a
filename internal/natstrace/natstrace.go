// Package natstrace carries W3C trace context (the traceparent and
// tracestate headers) on NATS messages, so that a producer's trace goes on
// through the jobs and events it publishes, and hands the engine's packages
// their tracer.
//
// It depends on the OpenTelemetry API only, not on its SDK or an exporter:
// a producer that imports the client package links no more than that.
// Tracing is off for a package given a nil tracer (see Tracer): it then
// starts no span and reads no header.
package natstrace

import (
	"context"
	"encoding/hex"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The W3C trace context headers, as the specification writes them.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// w3c reads and writes the W3C trace context headers.
var w3c propagation.TraceContext

// Carrier is a propagation.TextMapCarrier over a NATS message's headers.
// NATS header keys are case-sensitive: Set writes the key as given (the
// W3C propagator gives them in lower case), and Get finds a key written in
// any case, as HTTP producers write Traceparent.
type Carrier nats.Header

var _ propagation.TextMapCarrier = Carrier(nil)

// Get returns the first value of key, "" when there is none.
func (c Carrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// Set sets key to value alone.
func (c Carrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the keys of the headers.
func (c Carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes the span context of ctx into msg's headers as traceparent
// (and tracestate when it has one), creating the headers when msg has
// none. It writes nothing when ctx carries no valid span context.
func Inject(ctx context.Context, msg *nats.Msg) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	w3c.Inject(ctx, Carrier(msg.Header))
}

// Extract returns ctx carrying the remote span context that h's traceparent
// names, to parent the spans started under it; ctx itself when h names
// none, or names it badly.
func Extract(ctx context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return w3c.Extract(ctx, Carrier(h))
}

// Header returns the trace context headers of the span context of ctx
// (traceparent, and tracestate when it has one), nil when ctx carries no
// valid one: for messages that share one context, their values shared and
// only read.
func Header(ctx context.Context) nats.Header {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	h := make(nats.Header, 2)
	w3c.Inject(ctx, Carrier(h))
	return h
}

// Traceparent is the traceparent header value of sc (version 00), "" when
// sc is not valid: what the W3C propagator writes, in one allocation.
func Traceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & trace.FlagsSampled)})
	return string(b[:])
}

// Tracer returns the tracer named scope of tp, or nil when tp traces
// nothing: tp is nil or the OpenTelemetry no-op provider. A package given a
// nil tracer skips every span, so that tracing switched off costs nothing.
func Tracer(tp trace.TracerProvider, scope string) trace.Tracer {
	switch tp.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return nil
	}
	return tp.Tracer(scope)
}

// TraceID is the trace id of the span context of ctx in hex, "" when it
// carries no valid one.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}
