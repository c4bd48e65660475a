package catalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Listing limits.
const (
	// DefaultLimit is the page size when a query gives none.
	DefaultLimit = 50
	// MaxLimit is the largest page.
	MaxLimit = 1000
)

// Query selects and pages endpoints.
type Query struct {
	// EventType keeps the endpoints that receive it (those without a type
	// filter included).
	EventType string `json:"event_type,omitempty"`
	// Channel keeps the endpoints listening to it and those listening to no
	// channel.
	Channel string `json:"channel,omitempty"`
	// Tenant keeps the endpoints of this tenant.
	Tenant string `json:"tenant,omitempty"`
	// Order is "asc" or "desc" (the default) by creation.
	Order string `json:"order,omitempty"`
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int `json:"limit,omitempty"`
	// Iterator continues a listing where the page that returned it ended.
	Iterator string `json:"iterator,omitempty"`
	// MaxBytes bounds the page's JSON encoding, so that it fits in one
	// message: a page holds the endpoints that fit and the next page
	// continues after them. 0 sets no bound. It is not part of a request.
	MaxBytes int `json:"-"`
}

// Page is one page of a listing.
type Page struct {
	// Endpoints are the page's endpoints.
	Endpoints []Endpoint `json:"endpoints"`
	// Iterator continues after this page; empty when Done.
	Iterator string `json:"iterator"`
	// Done is true when no endpoint follows.
	Done bool `json:"done"`
}

// cursor is what an iterator encodes: the last endpoint of a page.
type cursor struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"id"`
}

// Endpoints lists the endpoints q selects, one page at a time.
func (c *Catalog) Endpoints(ctx context.Context, q Query) (Page, error) {
	if q.EventType != "" && !ValidTypeName(q.EventType) {
		return Page{}, invalid("event_type", "%q is not an event type name", q.EventType)
	}
	if q.Channel != "" && !ValidChannel(q.Channel) {
		return Page{}, invalid("channel", "%q is not a channel", q.Channel)
	}
	if q.Tenant != "" && !ValidTenantID(q.Tenant) {
		return Page{}, invalid("tenant", "must be 1 to 63 of A-Za-z0-9_-")
	}
	desc := true
	switch q.Order {
	case "", "desc":
	case "asc":
		desc = false
	default:
		return Page{}, invalid("order", `must be "asc" or "desc"`)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return Page{}, invalid("limit", "must be 1 to %d", MaxLimit)
	}
	var after *stored
	if q.Iterator != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Iterator)
		var cur cursor
		if err != nil || json.Unmarshal(b, &cur) != nil || cur.ID == "" {
			return Page{}, invalid("iterator", "is not an iterator this listing returned")
		}
		after = &stored{Endpoint: Endpoint{ID: cur.ID, CreatedAt: cur.CreatedAt}}
	}
	if err := c.endpoints.sync(ctx); err != nil {
		return Page{}, err
	}
	var all []stored
	eachDecoded(c.endpoints, decodeJSON[stored], func(s stored) {
		if q.EventType != "" && !s.receives(q.EventType) {
			return
		}
		if q.Channel != "" && !s.listens(q.Channel, false) {
			return
		}
		if q.Tenant != "" && s.Tenant != q.Tenant {
			return
		}
		if after != nil {
			c := byCreation(s, *after)
			if (desc && c >= 0) || (!desc && c <= 0) {
				return
			}
		}
		all = append(all, s)
	})
	slices.SortFunc(all, byCreation)
	if desc {
		slices.Reverse(all)
	}
	more := len(all) > limit
	all = all[:min(limit, len(all))]
	n, err := fit(all, more, q.MaxBytes, len(`{"endpoints":[],"iterator":"","done":true}`),
		func(s stored) any { return s.Endpoint }, endpointIterator,
		func(s stored) string { return fmt.Sprintf("endpoint %q", s.ID) })
	if err != nil {
		return Page{}, err
	}
	page := Page{Endpoints: make([]Endpoint, 0, n), Done: n == len(all) && !more}
	for _, s := range all[:n] {
		page.Endpoints = append(page.Endpoints, s.Endpoint)
	}
	if !page.Done {
		page.Iterator = endpointIterator(all[n-1])
	}
	return page, nil
}

// endpointIterator is the iterator of a page that ends with s.
func endpointIterator(s stored) string {
	b, _ := json.Marshal(cursor{CreatedAt: s.CreatedAt, ID: s.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// fit returns how many of items, from the first, a page can hold whose JSON
// takes at most maxBytes (0: no bound); more says that the listing goes on
// after items. base is the length of the page's JSON with no item, an
// empty iterator and done true; value is what an item encodes as, and
// iterator the iterator of a page that ends with an item, which every page
// but the listing's last carries (with done false). A first item that
// alone does not fit is an error wrapping ErrTooLarge that names it.
func fit[T any](items []T, more bool, maxBytes, base int, value func(T) any, iterator func(T) string, name func(T) string) (int, error) {
	if maxBytes <= 0 {
		return len(items), nil
	}
	size := base
	for i, it := range items {
		b, err := json.Marshal(value(it))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name(it), err)
		}
		size += len(b)
		if i > 0 {
			size++ // the comma before it
		}
		need := size
		if more || i < len(items)-1 {
			need += len(iterator(it)) + len("false") - len("true")
		}
		if need > maxBytes {
			if i == 0 {
				return 0, fmt.Errorf("%s takes %d bytes of JSON, more than a page of at most %d bytes holds; get it by itself: %w",
					name(it), len(b), maxBytes, ErrTooLarge)
			}
			return i, nil
		}
	}
	return len(items), nil
}
