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
	"unicode/utf8"

	"github.com/nats-io/nuid"
)

// MaxTenantNameLen is the most characters a tenant's name holds.
const MaxTenantNameLen = 256

// Tenant is one customer of the operator's product. A tenant's events reach
// its own endpoints only, and its endpoints receive its events only; the
// endpoints and events without a tenant are the operator's own.
type Tenant struct {
	// ID is 1 to 63 of A-Za-z0-9_-, given or generated (tn_<nuid>).
	ID string `json:"id"`
	// Name is free text, at most MaxTenantNameLen characters.
	Name string `json:"name"`
	// Metadata is any JSON object, kept for the user.
	Metadata json.RawMessage `json:"metadata"`
	// CreatedAt and UpdatedAt are when it was made and last changed.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// errNoTenants is the error of a tenant's put or delete in a catalog
// built without the tenant bucket.
var errNoTenants = errors.New("catalog: no tenant bucket")

// PutTenant creates or updates tenant t.ID (one with a generated id when
// empty) and returns it. An *InvalidError changes nothing.
func (c *Catalog) PutTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if t.ID == "" {
		t.ID = "tn_" + nuid.Next()
	} else if !ValidTenantID(t.ID) {
		return Tenant{}, invalid("id", "must be 1 to 63 of A-Za-z0-9_-")
	}
	if n := utf8.RuneCountInString(t.Name); n > MaxTenantNameLen {
		return Tenant{}, invalid("name", "must be at most %d characters, got %d", MaxTenantNameLen, n)
	}
	var err error
	if t.Metadata, err = jsonObject("metadata", t.Metadata); err != nil {
		return Tenant{}, err
	}
	if c.tenants == nil {
		return Tenant{}, errNoTenants
	}
	var out Tenant
	err = update(ctx, c.cfg.Tenants, t.ID, func(cur []byte) ([]byte, error) {
		now := c.now()
		out = t
		out.CreatedAt, out.UpdatedAt = now, now
		if cur != nil {
			if old, err := decodeJSON[Tenant](cur); err == nil && !old.CreatedAt.IsZero() {
				out.CreatedAt = old.CreatedAt
			}
		}
		return json.Marshal(out)
	})
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	return out, nil
}

// Tenant returns the tenant id, read from the bucket.
func (c *Catalog) Tenant(ctx context.Context, id string) (Tenant, error) {
	if !ValidTenantID(id) {
		return Tenant{}, invalid("id", "must be 1 to 63 of A-Za-z0-9_-")
	}
	if c.tenants == nil {
		return Tenant{}, notFound("tenant", id)
	}
	t, _, err := readJSON[Tenant](ctx, c.cfg.Tenants, "tenant", id)
	return t, err
}

// CheckTenant checks that tenant id, named by the request's field, exists:
// an *InvalidError for field when id is not a tenant id or names no
// tenant. It accepts a tenant the catalog's mirror holds without asking the
// server, and refuses one only after reading the bucket, so that a tenant
// created a moment ago in another process is seen.
func (c *Catalog) CheckTenant(ctx context.Context, field, id string) error {
	if !ValidTenantID(id) {
		return invalid(field, "must be 1 to 63 of A-Za-z0-9_-")
	}
	if c.tenants != nil {
		if _, ok := getDecoded(c.tenants, id, decodeJSON[Tenant]); ok {
			return nil
		}
	}
	_, err := c.Tenant(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return invalid(field, "tenant %q does not exist", id)
	}
	return err
}

// TenantQuery pages tenants.
type TenantQuery struct {
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int `json:"limit,omitempty"`
	// Iterator continues a listing after the page that returned it.
	Iterator string `json:"iterator,omitempty"`
	// MaxBytes bounds the page's JSON encoding, so that it fits in one
	// message: a page holds the tenants that fit and the next page
	// continues after them. 0 sets no bound. It is not part of a request.
	MaxBytes int `json:"-"`
}

// TenantPage is one page of a listing of tenants.
type TenantPage struct {
	// Tenants are the page's tenants, by id.
	Tenants []Tenant `json:"tenants"`
	// Iterator continues after this page; empty when Done.
	Iterator string `json:"iterator"`
	// Done is true when no tenant follows.
	Done bool `json:"done"`
}

// ListTenants lists the tenants by id, one page at a time. The iterator of
// a page is the id of its last tenant: the next page starts after it.
func (c *Catalog) ListTenants(ctx context.Context, q TenantQuery) (TenantPage, error) {
	if q.Iterator != "" && !ValidTenantID(q.Iterator) {
		return TenantPage{}, invalid("iterator", "is not an iterator this listing returned")
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return TenantPage{}, invalid("limit", "must be 1 to %d", MaxLimit)
	}
	all := []Tenant{}
	if c.tenants != nil {
		if err := c.tenants.sync(ctx); err != nil {
			return TenantPage{}, err
		}
		eachDecoded(c.tenants, decodeJSON[Tenant], func(t Tenant) {
			if q.Iterator == "" || t.ID > q.Iterator {
				all = append(all, t)
			}
		})
	}
	slices.SortFunc(all, func(a, b Tenant) int { return cmp.Compare(a.ID, b.ID) })
	more := len(all) > limit
	all = all[:min(limit, len(all))]
	n, err := fit(all, more, q.MaxBytes, len(`{"tenants":[],"iterator":"","done":true}`),
		func(t Tenant) any { return t }, func(t Tenant) string { return t.ID },
		func(t Tenant) string { return fmt.Sprintf("tenant %q", t.ID) })
	if err != nil {
		return TenantPage{}, err
	}
	page := TenantPage{Tenants: all[:n:n], Done: n == len(all) && !more}
	if !page.Done {
		page.Iterator = all[n-1].ID
	}
	return page, nil
}

// DeleteTenant removes tenant id, and its endpoints with their secrets.
// The events sent for it and the records of their deliveries stay until
// they age out. An endpoint put for the tenant while it is being deleted
// is removed too.
func (c *Catalog) DeleteTenant(ctx context.Context, id string) error {
	if _, err := c.Tenant(ctx, id); err != nil {
		return err
	}
	// The endpoints first, so that a delete that fails half way leaves the
	// tenant to delete again; then once more after the tenant is gone, for
	// a put that read the tenant before it went.
	if err := c.deleteEndpointsOf(ctx, id); err != nil {
		return err
	}
	if err := c.cfg.Tenants.Purge(ctx, id); err != nil {
		return fmt.Errorf("delete tenant %s: %w", id, err)
	}
	return c.deleteEndpointsOf(ctx, id)
}

// deleteEndpointsOf removes every endpoint of tenant id.
func (c *Catalog) deleteEndpointsOf(ctx context.Context, id string) error {
	if err := c.endpoints.sync(ctx); err != nil {
		return err
	}
	var ids []string
	eachDecoded(c.endpoints, decodeJSON[stored], func(s stored) {
		if s.Tenant == id {
			ids = append(ids, s.ID)
		}
	})
	for _, ep := range ids {
		if err := c.cfg.Endpoints.Purge(ctx, ep); err != nil {
			return fmt.Errorf("delete endpoint %s of tenant %s: %w", ep, id, err)
		}
	}
	return nil
}

// jsonObject returns raw, the value of field, as compact JSON: {} when it
// is empty or null, an *InvalidError for field when it is not a JSON
// object.
func jsonObject(field string, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid(field, "must be a JSON object")
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, raw)
	return buf.Bytes(), nil
}
