package catalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
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
	// Order is "asc" or "desc" (the default) by creation.
	Order string `json:"order,omitempty"`
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int `json:"limit,omitempty"`
	// Iterator continues a listing where the page that returned it ended.
	Iterator string `json:"iterator,omitempty"`
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
	page := Page{Endpoints: []Endpoint{}, Done: len(all) <= limit}
	for _, s := range all[:min(limit, len(all))] {
		page.Endpoints = append(page.Endpoints, s.Endpoint)
	}
	if !page.Done {
		last := page.Endpoints[len(page.Endpoints)-1]
		b, _ := json.Marshal(cursor{CreatedAt: last.CreatedAt, ID: last.ID})
		page.Iterator = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, nil
}
