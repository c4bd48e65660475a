package catalog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// EventType is a kind of event producers send, with the JSON Schema its
// payloads must satisfy.
type EventType struct {
	// Name is two or more dot-separated tokens (order.created).
	Name string `json:"name"`
	// Description says what the event means.
	Description string `json:"description"`
	// Schema is the JSON Schema of the payload; null accepts every
	// payload.
	Schema json.RawMessage `json:"schema"`
	// Archived types are not listed by default and accept no event.
	Archived bool `json:"archived"`
	// CreatedAt and UpdatedAt are when the type was made and last changed.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutEventType creates or updates the event type t.Name (and unarchives
// it). The name and schema are checked first: an *InvalidError changes
// nothing. A schema is at most MaxSchemaBytes as compact JSON, nests at
// most MaxSchemaDepth levels and compiles within MaxSchemaCompileTime.
func (c *Catalog) PutEventType(ctx context.Context, t EventType) (EventType, error) {
	if !ValidTypeName(t.Name) {
		return EventType{}, invalid("name", "must be two or more tokens of A-Za-z0-9_- joined by dots, at most %d characters", MaxTypeNameLen)
	}
	t.Schema = bytes.TrimSpace(t.Schema)
	if bytes.Equal(t.Schema, []byte("null")) {
		t.Schema = nil
	}
	if len(t.Schema) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, t.Schema); err != nil {
			return EventType{}, invalid("schema", "must be JSON: %v", err)
		}
		t.Schema = buf.Bytes()
	}
	if err := checkSchemaBounds(t.Schema); err != nil {
		return EventType{}, invalid("schema", "is too large: it %v", err)
	}
	if _, err := compileSchema(t.Schema); err != nil {
		return EventType{}, invalid("schema", "does not compile as a JSON Schema: %v", err)
	}
	var out EventType
	err := update(ctx, c.cfg.Types, t.Name, func(cur []byte) ([]byte, error) {
		now := c.now()
		out = t
		out.Archived = false
		out.CreatedAt, out.UpdatedAt = now, now
		if cur != nil {
			var old EventType
			if err := json.Unmarshal(cur, &old); err == nil && !old.CreatedAt.IsZero() {
				out.CreatedAt = old.CreatedAt
			}
		}
		return json.Marshal(out)
	})
	if err != nil {
		return EventType{}, fmt.Errorf("event type %s: %w", t.Name, err)
	}
	return out, nil
}

// EventType returns the event type name, archived or not.
func (c *Catalog) EventType(ctx context.Context, name string) (EventType, error) {
	if !ValidTypeName(name) {
		return EventType{}, invalid("name", "must be two or more tokens of A-Za-z0-9_- joined by dots, at most %d characters", MaxTypeNameLen)
	}
	t, _, err := readJSON[EventType](ctx, c.cfg.Types, "event type", name)
	return t, err
}

// TypeQuery selects and pages event types.
type TypeQuery struct {
	// IncludeArchived lists the archived types too.
	IncludeArchived bool `json:"include_archived,omitempty"`
	// Iterator continues a listing after the page that returned it.
	Iterator string `json:"iterator,omitempty"`
	// MaxBytes bounds the page's JSON encoding, so that it fits in one
	// message: a page holds the types that fit and the next page continues
	// after them. 0 sets no bound. It is not part of a request.
	MaxBytes int `json:"-"`
}

// TypePage is one page of a listing of event types.
type TypePage struct {
	// EventTypes are the page's types, by name.
	EventTypes []EventType `json:"event_types"`
	// Iterator continues after this page; empty when Done.
	Iterator string `json:"iterator"`
	// Done is true when no type follows.
	Done bool `json:"done"`
}

// EventTypes lists the event types by name; archived ones only with
// includeArchived, all at once; a listing sent as a reply goes through
// ListEventTypes, whose pages fit a message.
func (c *Catalog) EventTypes(ctx context.Context, includeArchived bool) ([]EventType, error) {
	page, err := c.ListEventTypes(ctx, TypeQuery{IncludeArchived: includeArchived})
	return page.EventTypes, err
}

// ListEventTypes lists the event types q selects by name, one page at a
// time. The iterator of a page is the name of its last type: the next page
// starts after it.
func (c *Catalog) ListEventTypes(ctx context.Context, q TypeQuery) (TypePage, error) {
	if q.Iterator != "" && !ValidTypeName(q.Iterator) {
		return TypePage{}, invalid("iterator", "is not an iterator this listing returned")
	}
	if err := c.types.sync(ctx); err != nil {
		return TypePage{}, err
	}
	all := []EventType{}
	eachDecoded(c.types, decodeJSON[EventType], func(t EventType) {
		if (q.IncludeArchived || !t.Archived) && (q.Iterator == "" || t.Name > q.Iterator) {
			all = append(all, t)
		}
	})
	slices.SortFunc(all, func(a, b EventType) int { return cmp.Compare(a.Name, b.Name) })
	n, err := fit(all, false, q.MaxBytes, len(`{"event_types":[],"iterator":"","done":true}`),
		func(t EventType) any { return t }, func(t EventType) string { return t.Name },
		func(t EventType) string { return fmt.Sprintf("event type %q", t.Name) })
	if err != nil {
		return TypePage{}, err
	}
	page := TypePage{EventTypes: all[:n:n], Done: n == len(all)}
	if !page.Done {
		page.Iterator = all[n-1].Name
	}
	return page, nil
}

// ArchiveEventType archives the event type name: it is no longer listed
// and no event of it is accepted. PutEventType brings it back.
func (c *Catalog) ArchiveEventType(ctx context.Context, name string) error {
	if _, err := c.EventType(ctx, name); err != nil {
		return err
	}
	return update(ctx, c.cfg.Types, name, func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, notFound("event type", name)
		}
		var t EventType
		if err := json.Unmarshal(cur, &t); err != nil {
			return nil, fmt.Errorf("event type %s: %w", name, err)
		}
		t.Archived = true
		t.UpdatedAt = c.now()
		return json.Marshal(t)
	})
}

// CheckEvent checks that the event type typ exists and is not archived
// (else an error wrapping ErrNotFound) and that payload satisfies its
// schema (else an *InvalidError for "payload" listing the violations). The
// schema is compiled once per revision of the type and kept until the type
// changes.
func (c *Catalog) CheckEvent(ctx context.Context, typ string, payload json.RawMessage) error {
	if !ValidTypeName(typ) {
		return invalid("type", "must be two or more tokens of A-Za-z0-9_- joined by dots, at most %d characters", MaxTypeNameLen)
	}
	if err := c.types.sync(ctx); err != nil {
		return err
	}
	return c.checkMirrored(typ, payload)
}

// CheckStoredEvent checks an event already stored on the event stream, as
// the fan-out does, with the errors of CheckEvent. It accepts the event when
// the type as the catalog's mirror holds it does, without asking the server
// whether the mirror is behind: events.send checked the event against every
// change made before it was sent. It refuses one only after reading the
// bucket again, so that a type created, restored or given a looser schema
// just before is seen. So a type archived or given a stricter schema a
// moment before an event may not stop that event, and an event costs the
// server one request less.
func (c *Catalog) CheckStoredEvent(ctx context.Context, typ string, payload json.RawMessage) error {
	// A name that is not a type's is in no mirror: CheckEvent refuses it.
	if c.checkMirrored(typ, payload) == nil {
		return nil
	}
	return c.CheckEvent(ctx, typ, payload)
}

// checkMirrored checks an event of type typ with payload against the type
// as the mirror holds it.
func (c *Catalog) checkMirrored(typ string, payload json.RawMessage) error {
	c.types.mu.Lock()
	e, ok := c.types.values[typ]
	c.types.mu.Unlock()
	if !ok {
		return notFound("event type", typ)
	}
	c.mu.Lock()
	comp, ok := c.schemas[typ]
	c.mu.Unlock()
	if !ok || comp.rev != e.Revision() {
		t, err := decodeJSON[EventType](e.Value())
		if err != nil {
			return fmt.Errorf("event type %s: %w", typ, err)
		}
		if t.Archived {
			return fmt.Errorf("event type %q is archived: %w", typ, ErrNotFound)
		}
		s, err := compileSchema(t.Schema)
		if errors.Is(err, errCompileTime) {
			return fmt.Errorf("event type %s: schema: %w", typ, err)
		}
		if err != nil {
			// Stored before put refused such a schema: no event of the
			// type can be checked until it is put again.
			err = invalid("type", "event type %q has a schema events cannot be checked against (%v); put it again with one that compiles", typ, err)
		}
		comp = compiled{rev: e.Revision(), schema: s, err: err}
		c.mu.Lock()
		c.schemas[typ] = comp
		c.mu.Unlock()
	}
	if comp.err != nil {
		return comp.err
	}
	return validatePayload(comp.schema, payload)
}
