package attempt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
)

// Page sizes of a listing.
const (
	// DefaultLimit is a page's size when the query gives none.
	DefaultLimit = 50
	// MaxLimit is the largest page.
	MaxLimit = 1000
)

// Query selects attempt records. Every field is optional.
type Query struct {
	// Endpoint keeps the records of one endpoint.
	Endpoint string `json:"endpoint,omitempty"`
	// EventType keeps the records of one event type.
	EventType string `json:"event_type,omitempty"`
	// Channel keeps the records of events sent on one channel.
	Channel string `json:"channel,omitempty"`
	// EventID keeps the records of one event.
	EventID string `json:"event_id,omitempty"`
	// Tenant keeps the records of one tenant's events.
	Tenant string `json:"tenant,omitempty"`
	// Outcome keeps the records of one outcome.
	Outcome Outcome `json:"outcome,omitempty"`
	// Before keeps the records stored before this time, After those
	// stored at or after it.
	Before time.Time `json:"before,omitzero"`
	After  time.Time `json:"after,omitzero"`
	// Limit is the page's size: default 50, at most 1000.
	Limit int `json:"limit,omitempty"`
	// Iterator continues a listing below the page that returned it.
	Iterator string `json:"iterator,omitempty"`
}

// Page is one page of records, newest first.
type Page struct {
	// Attempts are the page's records, each with its event's payload.
	Attempts []Record `json:"attempts"`
	// Iterator continues the listing; empty when Done.
	Iterator string `json:"iterator"`
	// Done is true when no record is left below this page.
	Done bool `json:"done"`
}

// Log reads the delivery log.
type Log struct {
	attempts jetstream.Stream
	events   jetstream.Stream
	maxReply int
}

// NewLog returns a Log over the attempt stream, reading payloads from the
// event stream. maxReply bounds a page's JSON (the server's max payload,
// less room for the reply's headers).
func NewLog(attempts, events jetstream.Stream, maxReply int) *Log {
	return &Log{attempts: attempts, events: events, maxReply: maxReply}
}

// InvalidError is a query field that is not valid.
type InvalidError = catalog.InvalidError

// filter is the subject filter of q: the endpoint and the event type are
// tokens of the subject. An event type holds dots, so it is matched as the
// whole rest of the subject.
func (q Query) filter() string {
	ep, typ := q.Endpoint, q.EventType
	if ep == "" {
		ep = "*"
	}
	if typ == "" {
		typ = ">"
	}
	return SubjectPrefix + ep + "." + typ
}

// check validates q and fills in its defaults.
func (q *Query) check() error {
	switch {
	case q.Endpoint != "" && !catalog.ValidEndpointID(q.Endpoint):
		return &InvalidError{Field: "endpoint", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	case q.EventType != "" && !catalog.ValidTypeName(q.EventType):
		return &InvalidError{Field: "event_type", Reason: "must be two or more dot-separated tokens of A-Za-z0-9_-"}
	case q.Channel != "" && !catalog.ValidChannel(q.Channel):
		return &InvalidError{Field: "channel", Reason: "must be 1 to 128 of A-Za-z0-9_.:-"}
	case q.EventID != "" && !catalog.ValidEventID(q.EventID):
		return &InvalidError{Field: "event_id", Reason: "must be 1 to 64 of A-Za-z0-9_-"}
	case q.Tenant != "" && !catalog.ValidTenantID(q.Tenant):
		return &InvalidError{Field: "tenant", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	case q.Outcome != "" && !q.Outcome.Valid():
		return &InvalidError{Field: "outcome", Reason: "must be delivered, retry or failed"}
	case q.Limit < 0 || q.Limit > MaxLimit:
		return &InvalidError{Field: "limit", Reason: fmt.Sprintf("must be 0 to %d", MaxLimit)}
	case !q.Before.IsZero() && !q.After.IsZero() && !q.After.Before(q.Before):
		return &InvalidError{Field: "after", Reason: "must be before before"}
	}
	if q.Iterator != "" {
		if n, err := strconv.ParseUint(q.Iterator, 10, 64); err != nil || n == 0 {
			return &InvalidError{Field: "iterator", Reason: "must be an iterator a listing returned"}
		}
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	return nil
}

// matches reports whether r is one q selects (the subject filter selects
// by endpoint and type already; "_" in a subject may be a real id).
func (q Query) matches(r Record) bool {
	return eq(r.Endpoint, q.Endpoint) && eq(r.EventType, q.EventType) && eq(r.Channel, q.Channel) &&
		eq(r.EventID, q.EventID) && eq(r.Tenant, q.Tenant) && (q.Outcome == "" || r.Outcome == q.Outcome)
}

func eq(have *string, want string) bool { return want == "" || (have != nil && *have == want) }

// found is a record with its stream sequence.
type found struct {
	seq uint64
	rec Record
}

// List returns one page of the records q selects, newest first. It reads
// the window of sequences that Before, After and Iterator leave, from its
// top down in chunks, each chunk forwards through a consumer filtered by
// the query's subject, so that it never reads the whole stream.
func (l *Log) List(ctx context.Context, q Query) (Page, error) {
	if err := q.check(); err != nil {
		return Page{}, err
	}
	info, err := l.attempts.Info(ctx)
	if err != nil {
		return Page{}, fmt.Errorf("attempt log: %w", err)
	}
	lo, hi := max(info.State.FirstSeq, 1), info.State.LastSeq
	if q.Iterator != "" {
		n, _ := strconv.ParseUint(q.Iterator, 10, 64)
		hi = min(hi, n-1)
	}
	filter := q.filter()
	if !q.Before.IsZero() {
		s, err := bus.Locate(ctx, l.attempts, filter, q.Before)
		if err != nil {
			return Page{}, err
		}
		if s > 0 {
			hi = min(hi, s-1)
		}
	}
	if !q.After.IsZero() {
		s, err := bus.Locate(ctx, l.attempts, filter, q.After)
		if err != nil {
			return Page{}, err
		}
		if s == 0 {
			return Page{Attempts: []Record{}, Done: true}, nil
		}
		lo = max(lo, s)
	}
	page := Page{Attempts: []Record{}}
	payloads := map[string]json.RawMessage{}
	size := len(`{"attempts":[],"iterator":"18446744073709551615","done":false}`)
	chunk := uint64(max(4*q.Limit, 256))
	for hi >= lo && hi > 0 {
		from := lo
		if hi-lo+1 > chunk {
			from = hi - chunk + 1
		}
		recs, err := l.read(ctx, filter, from, hi, q)
		if err != nil {
			return Page{}, err
		}
		for i := len(recs) - 1; i >= 0; i-- {
			f := recs[i]
			f.rec.Payload = l.payload(ctx, f.rec, payloads)
			b, _ := json.Marshal(f.rec)
			if len(page.Attempts) > 0 && size+len(b)+1 > l.maxReply {
				// The reply is full: the next page starts at this record.
				page.Iterator = strconv.FormatUint(f.seq+1, 10)
				return page, nil
			}
			if size+len(b)+1 > l.maxReply {
				f.rec.Payload = json.RawMessage("null") // too large with it
				b, _ = json.Marshal(f.rec)
			}
			size += len(b) + 1
			page.Attempts = append(page.Attempts, f.rec)
			if len(page.Attempts) == q.Limit {
				if i == 0 && from == lo {
					page.Done = true
					return page, nil
				}
				page.Iterator = strconv.FormatUint(f.seq, 10)
				return page, nil
			}
		}
		hi = from - 1
		chunk = min(2*chunk, 1<<20)
	}
	page.Done = true
	return page, nil
}

// read returns the records on filter from sequence from to hi that q
// selects, oldest first.
func (l *Log) read(ctx context.Context, filter string, from, hi uint64, q Query) ([]found, error) {
	var out []found
	var decodeErr error
	err := bus.Scan(ctx, l.attempts, jetstream.ConsumerConfig{
		FilterSubject: filter, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	}, func(m jetstream.Msg) bool {
		meta, err := m.Metadata()
		if err != nil {
			decodeErr = err
			return false
		}
		if meta.Sequence.Stream > hi {
			return false
		}
		var r Record
		if json.Unmarshal(m.Data(), &r) != nil {
			return true // not a record: skip it
		}
		if q.matches(r) {
			r.Payload = nil
			out = append(out, found{seq: meta.Sequence.Stream, rec: r})
		}
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("attempt log: %w", err)
	}
	return out, err
}

// payload returns the payload of r's event, from the event stream (null
// when the event is gone, r is of a plain job or of a test event); cache holds the ones
// read already.
func (l *Log) payload(ctx context.Context, r Record, cache map[string]json.RawMessage) json.RawMessage {
	// A test event is not stored: an event stored later under its id is
	// another.
	if r.EventID == nil || r.EventType == nil || l.events == nil || r.Test {
		return json.RawMessage("null")
	}
	subject := catalog.EventSubject(*r.EventType, *r.EventID)
	if p, ok := cache[subject]; ok {
		return p
	}
	p := json.RawMessage("null")
	if raw, err := l.events.GetLastMsgForSubject(ctx, subject); err == nil {
		var ev catalog.Event
		if json.Unmarshal(raw.Data, &ev) == nil && len(ev.Payload) > 0 {
			p = ev.Payload
		}
	}
	cache[subject] = p
	return p
}
