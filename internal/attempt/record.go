// Package attempt is hookworker's delivery log: one record per HTTP attempt
// on the stream HOOKS_ATTEMPTS, written by a Recorder that never holds a
// delivery back, and read newest first by a Log.
//
// A record's subject is hooks.attempt.<endpoint id or _>.<event type or _>,
// so that the log is read by endpoint and by event type through subject
// filters. Header values that carry credentials are replaced by
// [redacted], the URL is redacted as in results, and the response is cut so
// that the record fits the server's max payload.
package attempt

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookworker/hookworker/internal/jsonstr"
	"github.com/hookworker/hookworker/redact"
)

// SubjectPrefix starts the subject of every record.
const SubjectPrefix = "hooks.attempt."

// None stands for a missing endpoint or event type in a record's subject.
const None = "_"

// Redacted replaces a header value that carries a credential.
const Redacted = "[redacted]"

// HeaderOutcome is the header of a record of an endpoint's attempt that
// repeats its outcome, so that Stats counts records from their headers
// alone. A record of no endpoint has none.
const HeaderOutcome = "Hookworker-Outcome"

// MaxResponse is the most of a response body a record keeps, as in results.
const MaxResponse = 64 << 10

// Outcome is what an attempt led to.
type Outcome string

// Outcomes of an attempt.
const (
	// Delivered: a 2xx; the job is done.
	Delivered Outcome = "delivered"
	// Retry: the attempt failed and another one is scheduled.
	Retry Outcome = "retry"
	// Failed: the attempt failed and it was the job's last.
	Failed Outcome = "failed"
)

// Valid reports whether o is one of the three outcomes.
func (o Outcome) Valid() bool { return o == Delivered || o == Retry || o == Failed }

// Attempt is one HTTP attempt as the delivery path reports it.
type Attempt struct {
	// JobID is the job's id.
	JobID string
	// EventID, EventType and Channel name the event of an event job;
	// empty for a plain job (and Channel for an event sent on none).
	EventID, EventType, Channel string
	// Test marks the attempt of a test event (endpoints.test).
	Test bool
	// Endpoint is the endpoint id of an event job; empty for a plain job.
	Endpoint string
	// Tenant is the tenant of an event job's event; empty for none.
	Tenant string
	// URL is where the attempt went; it is redacted again here.
	URL string
	// Number is the attempt's number, from 1.
	Number int
	// Start is when the attempt began.
	Start time.Time
	// Duration is how long it took.
	Duration time.Duration
	// RequestHeaders are the headers sent.
	RequestHeaders http.Header
	// Status is the response status; 0 without a response.
	Status int
	// Response is the response body as read (it is cut here).
	Response []byte
	// Error says what went wrong ("" for nothing); it must already be
	// free of secrets, as the delivery path's errors are.
	Error string
	// Outcome is what the attempt led to.
	Outcome Outcome
}

// Record is one attempt as the log stores it, the JSON of the contract.
// Payload is set by a listing only.
type Record struct {
	JobID          string            `json:"job_id"`
	EventID        *string           `json:"event_id"`
	EventType      *string           `json:"event_type"`
	Channel        *string           `json:"channel"`
	Endpoint       *string           `json:"endpoint"`
	Tenant         *string           `json:"tenant"`
	URL            string            `json:"url"`
	Attempt        int               `json:"attempt"`
	Timestamp      time.Time         `json:"timestamp"`
	DurationMS     int64             `json:"duration_ms"`
	RequestHeaders map[string]string `json:"request_headers"`
	Status         *int              `json:"status"`
	Response       json.RawMessage   `json:"response"`
	Error          *string           `json:"error"`
	Outcome        Outcome           `json:"outcome"`
	// Test is true for a test event's attempt (endpoints.test), whose
	// event is not stored: it has no payload and cannot be resent.
	Test bool `json:"test,omitempty"`
	// Payload is the event's payload (null when the event is gone or the
	// job is a plain one); listings only.
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Subject is the subject of a record of an attempt for endpoint and event
// type typ, either of which may be empty.
func Subject(endpoint, typ string) string {
	return SubjectPrefix + orNone(endpoint) + "." + orNone(typ)
}

func orNone(s string) string {
	if s == "" {
		return None
	}
	return s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// secretName reports whether the header name n, lowercased, carries a
// credential: authorization, proxy-authorization, cookie, set-cookie,
// webhook-signature and every name containing token, secret or key.
//
// A signature reveals no secret, but with its timestamp it is a request a
// receiver accepts for its tolerance window: whoever reads the log could
// replay it. The log keeps webhook-id and webhook-timestamp, which say what
// a receiver needs to debug a delivery.
func secretName(n string) bool {
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "webhook-signature":
		return true
	}
	return strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "key")
}

// Headers returns h as the record keeps it: one value a name (repeated
// values joined by ", ", and the values of names that differ only in case
// too), names lowercased, credentials replaced by Redacted.
func Headers(h http.Header) map[string]string {
	list := headerList(h)
	out := make(map[string]string, len(list))
	for _, kv := range list {
		out[kv.name] = kv.value
	}
	return out
}

// lowerNames are the lowercased names of the headers every request
// carries, so that a record does not make them again.
var lowerNames = map[string]string{
	"Content-Type": "content-type", "Content-Length": "content-length", "User-Agent": "user-agent",
	"Webhook-Id": "webhook-id", "Webhook-Timestamp": "webhook-timestamp", "Webhook-Signature": "webhook-signature",
}

// lowerName returns name in lower case.
func lowerName(name string) string {
	if l, ok := lowerNames[name]; ok {
		return l
	}
	return strings.ToLower(name)
}

// header is one header as a record keeps it.
type header struct{ name, value string }

// headerList returns h as Headers does, sorted by name: the order of the
// record's JSON, built without a map since it runs for every attempt.
func headerList(h http.Header) []header {
	list := make([]header, 0, len(h))
	for name, values := range h {
		key := lowerName(name)
		var v string
		switch {
		case secretName(key):
			v = Redacted
		case len(values) == 1:
			v = values[0]
		default:
			v = strings.Join(values, ", ")
		}
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		list = append(list, header{key, v})
	}
	slices.SortFunc(list, func(a, b header) int { return strings.Compare(a.name, b.name) })
	// Names that differ only in case: one value, joined.
	out := list[:0]
	for _, kv := range list {
		if n := len(out); n > 0 && out[n-1].name == kv.name {
			if kv.value != Redacted {
				out[n-1].value += ", " + kv.value
			}
			continue
		}
		out = append(out, kv)
	}
	return out
}

// NewRecord builds the record of a.
func NewRecord(a Attempt) Record {
	r := Record{
		JobID:          a.JobID,
		EventID:        nullable(a.EventID),
		EventType:      nullable(a.EventType),
		Channel:        nullable(a.Channel),
		Endpoint:       nullable(a.Endpoint),
		Tenant:         nullable(a.Tenant),
		Attempt:        a.Number,
		Timestamp:      a.Start.UTC(),
		DurationMS:     a.Duration.Milliseconds(),
		RequestHeaders: Headers(a.RequestHeaders),
		Error:          nullable(strings.ToValidUTF8(a.Error, "\uFFFD")),
		Outcome:        a.Outcome,
		Test:           a.Test,
	}
	if a.URL != "" {
		r.URL = redact.URL(a.URL)
	}
	if a.Status != 0 {
		s := a.Status
		r.Status = &s
	}
	return r
}

// Encode returns the JSON of the record of a, its response cut so that the
// whole takes at most max bytes (and the response at most MaxResponse); ok
// is false when even without a response it does not fit. It is the JSON
// json.Marshal makes of NewRecord(a) with its response set, written
// without reflection: it runs for every attempt.
func Encode(a Attempt, max int) (body []byte, ok bool) {
	f := fieldsOf(a)
	var resp json.RawMessage
	if len(a.Response) > 0 {
		resp = response(a.Response, MaxResponse)
	}
	body = f.append(make([]byte, 0, 384+len(resp)), resp)
	if len(body) <= max {
		return body, true
	}
	// Too large: cut the response to what is left.
	base := f.append(nil, nil)
	if len(base) > max {
		return nil, false
	}
	resp = response(a.Response, min(max-len(base)+len("null"), MaxResponse))
	if resp == nil {
		return base, true
	}
	if body = f.append(nil, resp); len(body) > max {
		return base, true
	}
	return body, true
}

// fields are a record's values but its response, ready to be written.
type fields struct {
	a       *Attempt
	url     string
	err     string // valid UTF-8
	headers []header
}

func fieldsOf(a Attempt) fields {
	f := fields{a: &a, err: a.Error, headers: headerList(a.RequestHeaders)}
	if !utf8.ValidString(f.err) {
		f.err = strings.ToValidUTF8(f.err, "\uFFFD")
	}
	if a.URL != "" {
		f.url = redact.URL(a.URL)
	}
	return f
}

// append appends the record's JSON, with resp as its response (nil: null).
func (f fields) append(b []byte, resp json.RawMessage) []byte {
	a := f.a
	b = append(b, `{"job_id":`...)
	b = jsonstr.Append(b, a.JobID)
	b = append(b, `,"event_id":`...)
	b = appendNullable(b, a.EventID)
	b = append(b, `,"event_type":`...)
	b = appendNullable(b, a.EventType)
	b = append(b, `,"channel":`...)
	b = appendNullable(b, a.Channel)
	b = append(b, `,"endpoint":`...)
	b = appendNullable(b, a.Endpoint)
	b = append(b, `,"tenant":`...)
	b = appendNullable(b, a.Tenant)
	b = append(b, `,"url":`...)
	b = jsonstr.Append(b, f.url)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(a.Number), 10)
	b = append(b, `,"timestamp":"`...)
	b = a.Start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duration_ms":`...)
	b = strconv.AppendInt(b, a.Duration.Milliseconds(), 10)
	b = append(b, `,"request_headers":{`...)
	for i, kv := range f.headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, kv.name)
		b = append(b, ':')
		b = jsonstr.Append(b, kv.value)
	}
	b = append(b, `},"status":`...)
	if a.Status != 0 {
		b = strconv.AppendInt(b, int64(a.Status), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"response":`...)
	if resp != nil {
		b = append(b, resp...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"error":`...)
	b = appendNullable(b, f.err)
	b = append(b, `,"outcome":`...)
	b = jsonstr.Append(b, string(a.Outcome))
	if a.Test {
		b = append(b, `,"test":true`...)
	}
	return append(b, '}')
}

// appendNullable appends s as a JSON string, or null when it is empty.
func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jsonstr.Append(b, s)
}

// response is body as a record keeps it in at most room bytes of JSON: the
// JSON itself when it is valid and fits, else the text (valid UTF-8) cut to
// fit, as a JSON string; nil when not even an empty string fits.
func response(body []byte, room int) json.RawMessage {
	if room < 2 {
		return nil
	}
	if len(body) <= room {
		// Compact fails on anything but valid JSON.
		var buf bytes.Buffer
		buf.Grow(len(body))
		if json.Compact(&buf, body) == nil {
			return buf.Bytes()
		}
	}
	text := strings.ToValidUTF8(string(body[:min(len(body), room)]), "\uFFFD")
	for {
		b, _ := json.Marshal(text)
		if len(b) <= room {
			return b
		}
		// Escapes made it longer: cut more, on a rune boundary.
		n := min(len(text)*room/len(b), len(text)-1)
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
}
