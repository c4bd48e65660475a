package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
	"unicode/utf8"
)

// Outcome is how a job ended, as its result says.
type Outcome string

// The outcomes a result carries. Only Delivered counts as success.
const (
	// Delivered means a 2xx response came back.
	Delivered Outcome = "delivered"
	// Failed means requests were sent (or tried) without success: a final
	// 4xx, a 3xx, exhausted retries or proxies.
	Failed Outcome = "failed"
	// Rejected means nothing was sent: the job is invalid or its
	// destination is not allowed.
	Rejected Outcome = "rejected"
)

// Result header names: every result message carries the job id and the
// outcome, so that readers can filter without decoding the body.
const (
	HeaderJobID   = "Hook-Job-Id"
	HeaderOutcome = "Hook-Outcome"
)

// HeaderTenant names the tenant of an event on the event stream: events.send
// sets it beside the body's tenant, and a producer publishing an event
// straight on hooks.event.<type>.<id> names its tenant with it.
const HeaderTenant = "Hooks-Tenant"

// Result is the one terminal account of a job, as published on the result
// subject. Its JSON form is the contract's: status, url, error, response and
// proxy are null when empty, times are RFC 3339 in UTC with nanoseconds, and
// meta is null when the job had none: every key is always present, but
// truncated, which is present only when a part was cut, and trace_id,
// present only when the worker traces. It is always valid
// UTF-8: invalid bytes of meta and response become U+FFFD.
type Result struct {
	// ID is the job's id.
	ID string
	// Type is the job's type.
	Type Type
	// OK is true exactly when Outcome is Delivered.
	OK bool
	// Outcome is delivered, failed or rejected.
	Outcome Outcome
	// Status is the final HTTP status, 0 when no response came back.
	Status int
	// URL is the destination used last, redacted; empty when none was.
	URL string
	// Attempts counts HTTP attempts across retries, proxy rotations and
	// redeliveries.
	Attempts int
	// Error is a short cause on failure, empty on success.
	Error string
	// Response is the final response body as JSON, nil when there was none.
	Response json.RawMessage
	// Proxy is host:port of the proxy used last, empty without one.
	Proxy string
	// StartedAt is when the first delivery of the job began (for a rejected
	// job, when it was rejected); FinishedAt when this result was made.
	StartedAt  time.Time
	FinishedAt time.Time
	// DurationMS is FinishedAt - StartedAt in milliseconds.
	DurationMS int64
	// Meta is the job's meta, echoed.
	Meta json.RawMessage
	// Truncated names the parts of the result that were cut, in the order
	// they are cut: "response" (the body was cut off, by the receiver or
	// at the 64 KiB kept, or the response was dropped to fit a message),
	// then "meta", "error" and "url" (see Fit). Nil when nothing was cut.
	Truncated []string
	// Event and Endpoint are an event job's event and endpoint id; nil and
	// empty (null in JSON) for a plain job.
	Event    *Event
	Endpoint string
	// Tenant is the tenant of an event job's event; empty (null in JSON)
	// for the operator's own events and for plain jobs.
	Tenant string
	// TraceID is the trace id (32 hex digits) of the span of the job's
	// delivery that made this result; empty (absent in JSON) when the
	// worker does not trace.
	TraceID string
}

// Reject is the result of a job that was not sent because err says it is
// invalid: outcome rejected, no attempt, started and finished at at.
func Reject(j Job, err error, at time.Time) Result {
	r := Result{
		ID:         j.ID,
		Type:       j.Type,
		Outcome:    Rejected,
		StartedAt:  at.UTC(),
		FinishedAt: at.UTC(),
		Meta:       j.Meta,
		Event:      j.Event,
		Endpoint:   j.Endpoint,
		Tenant:     j.Tenant,
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// resultJSON is the contract's result JSON.
type resultJSON struct {
	ID         string          `json:"id"`
	Type       Type            `json:"type"`
	OK         bool            `json:"ok"`
	Outcome    Outcome         `json:"outcome"`
	Status     *int            `json:"status"`
	URL        *string         `json:"url"`
	Attempts   int             `json:"attempts"`
	Error      *string         `json:"error"`
	Response   json.RawMessage `json:"response"`
	Proxy      *string         `json:"proxy"`
	StartedAt  string          `json:"started_at"`
	FinishedAt string          `json:"finished_at"`
	DurationMS int64           `json:"duration_ms"`
	Meta       json.RawMessage `json:"meta"`
	Truncated  []string        `json:"truncated,omitempty"`
	Event      *eventJSON      `json:"event"`
	Endpoint   *string         `json:"endpoint"`
	Tenant     *string         `json:"tenant"`
	TraceID    string          `json:"trace_id,omitempty"`
}

// eventJSON is a result's event: its channel is null when it has none.
type eventJSON struct {
	ID      string  `json:"id"`
	Type    string  `json:"type"`
	Channel *string `json:"channel"`
	Test    bool    `json:"test,omitempty"`
}

// MarshalJSON writes the contract's result JSON.
func (r Result) MarshalJSON() ([]byte, error) {
	w := resultJSON{
		ID:         r.ID,
		Type:       r.Type,
		OK:         r.OK,
		Outcome:    r.Outcome,
		Status:     nonZero(r.Status),
		URL:        nonZero(r.URL),
		Attempts:   r.Attempts,
		Error:      nonZero(r.Error),
		Response:   r.Response,
		Proxy:      nonZero(r.Proxy),
		StartedAt:  r.StartedAt.UTC().Format(time.RFC3339Nano),
		FinishedAt: r.FinishedAt.UTC().Format(time.RFC3339Nano),
		DurationMS: r.DurationMS,
		Meta:       validUTF8(r.Meta),
		Truncated:  r.Truncated,
		Endpoint:   nonZero(r.Endpoint),
		Tenant:     nonZero(r.Tenant),
		TraceID:    r.TraceID,
	}
	if r.Event != nil {
		w.Event = &eventJSON{ID: r.Event.ID, Type: r.Event.Type, Channel: nonZero(r.Event.Channel), Test: r.Event.Test}
	}
	w.Response = validUTF8(w.Response)
	if len(w.Response) == 0 {
		w.Response = nil
	}
	if len(w.Meta) == 0 {
		w.Meta = nil
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the contract's result JSON.
func (r *Result) UnmarshalJSON(data []byte) error {
	var w resultJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	var started, finished time.Time
	var err error
	if w.StartedAt != "" {
		if started, err = time.Parse(time.RFC3339Nano, w.StartedAt); err != nil {
			return fmt.Errorf("started_at: %w", err)
		}
	}
	if w.FinishedAt != "" {
		if finished, err = time.Parse(time.RFC3339Nano, w.FinishedAt); err != nil {
			return fmt.Errorf("finished_at: %w", err)
		}
	}
	*r = Result{
		ID:         w.ID,
		Type:       w.Type,
		OK:         w.OK,
		Outcome:    w.Outcome,
		Status:     deref(w.Status),
		URL:        deref(w.URL),
		Attempts:   w.Attempts,
		Error:      deref(w.Error),
		Proxy:      deref(w.Proxy),
		StartedAt:  started.UTC(),
		FinishedAt: finished.UTC(),
		DurationMS: w.DurationMS,
		Truncated:  w.Truncated,
		Endpoint:   deref(w.Endpoint),
		Tenant:     deref(w.Tenant),
		TraceID:    w.TraceID,
	}
	if w.Event != nil {
		r.Event = &Event{ID: w.Event.ID, Type: w.Event.Type, Channel: deref(w.Event.Channel), Test: w.Event.Test}
	}
	if present(w.Response) {
		r.Response = w.Response
	}
	if present(w.Meta) {
		r.Meta = w.Meta
	}
	return nil
}

func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// validUTF8 returns raw JSON with every invalid UTF-8 byte replaced by
// U+FFFD, as encoding/json does for strings. Valid JSON holds non-ASCII
// bytes only inside strings, so the result is still valid JSON.
func validUTF8(raw json.RawMessage) json.RawMessage {
	if utf8.Valid(raw) {
		return raw
	}
	return bytes.ToValidUTF8(raw, []byte("\uFFFD"))
}

// ErrResultTooLarge is returned by Fit when a result cannot be made to fit
// even with every part that may be cut cut.
var ErrResultTooLarge = errors.New("result does not fit the max payload")

// ellipsis ends an error that was shortened to fit.
const ellipsis = "…"

// Fit returns r, cut as needed so that its JSON sent with the headers hdr
// (a nats.Header) fits a message of maxPayload bytes (the server's max
// payload, headers included), and that JSON. It cuts, in order and only as
// far as needed: the response and then the meta (each becomes null), the
// error (shortened, ending in "…"), and last the url (null); each part cut
// is named in Truncated. maxPayload <= 0 means no limit. Fit returns
// ErrResultTooLarge when even that is not enough.
func Fit(r Result, maxPayload int, hdr map[string][]string) (Result, []byte, error) {
	data, err := r.MarshalJSON()
	if err != nil || maxPayload <= 0 {
		return r, data, err
	}
	limit := maxPayload - HeaderSize(hdr)
	cut := func(part string) {
		if !slices.Contains(r.Truncated, part) {
			r.Truncated = append(slices.Clip(r.Truncated), part)
		}
	}
	for len(data) > limit {
		over := len(data) - limit
		switch {
		case len(r.Response) > 0:
			r.Response = nil
			cut("response")
		case len(r.Meta) > 0:
			r.Meta = nil
			cut("meta")
		case r.Error != "":
			if !slices.Contains(r.Truncated, "error") {
				// Naming the cut takes room too: count it first.
				cut("error")
				if data, err = r.MarshalJSON(); err != nil {
					return r, nil, err
				}
				over = len(data) - limit
			}
			// The error's encoding must shrink by over bytes.
			r.Error = shorten(r.Error, encodedLen(r.Error)-over)
		case r.URL != "":
			r.URL = ""
			cut("url")
		default:
			return r, nil, fmt.Errorf("%w: %d bytes over %d", ErrResultTooLarge, len(data)+maxPayload-limit, maxPayload)
		}
		if data, err = r.MarshalJSON(); err != nil {
			return r, nil, err
		}
	}
	return r, data, nil
}

// shorten returns the longest start of s, cut at a rune boundary and
// ending in the ellipsis, whose JSON encoding takes at most budget bytes;
// "" when there is none.
func shorten(s string, budget int) string {
	at := func(k int) string {
		for k > 0 && k < len(s) && !utf8.RuneStart(s[k]) {
			k--
		}
		return s[:k] + ellipsis
	}
	// The encoding of a longer start is never shorter.
	k := sort.Search(len(s), func(k int) bool { return encodedLen(at(k+1)) > budget })
	if k == 0 {
		return ""
	}
	return at(k)
}

// encodedLen is the length of s encoded as a JSON string.
func encodedLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b)
}

// HeaderSize is the size of the message headers hdr (a nats.Header) on the
// wire, as NATS counts it against the max payload: zero without headers.
func HeaderSize(hdr map[string][]string) int {
	if len(hdr) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n") + len("\r\n")
	for k, vs := range hdr {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}
