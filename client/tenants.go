package client

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// Tenant is one customer of the operator's product: its events reach its
// own endpoints only, and its endpoints receive its events only.
type Tenant struct {
	// ID is given or generated (tn_…); 1 to 63 of A-Za-z0-9_-.
	ID string `json:"id,omitempty"`
	// Name is free text, at most 256 characters.
	Name string `json:"name,omitempty"`
	// Metadata is any JSON object.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// CreatedAt and UpdatedAt are set by the API.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// PutTenant creates or updates the tenant t.ID (one with a generated id
// when it is empty) and returns it.
func (c *Client) PutTenant(ctx context.Context, t Tenant) (Tenant, error) {
	var out Tenant
	err := c.call(ctx, "tenants.put", struct {
		ID       string          `json:"id,omitempty"`
		Name     string          `json:"name,omitempty"`
		Metadata json.RawMessage `json:"metadata,omitempty"`
	}{t.ID, t.Name, t.Metadata}, &out)
	return out, err
}

// Tenant returns the tenant id.
func (c *Client) Tenant(ctx context.Context, id string) (Tenant, error) {
	var out Tenant
	err := c.call(ctx, "tenants.get", map[string]string{"id": id}, &out)
	return out, err
}

// TenantQuery pages tenants.
type TenantQuery struct {
	// Limit is the page size: default 50, at most 1000.
	Limit int `json:"limit,omitempty"`
	// Iterator continues after the page that returned it.
	Iterator string `json:"iterator,omitempty"`
}

// TenantPage is one page of tenants, by id.
type TenantPage struct {
	// Tenants are the page's tenants.
	Tenants []Tenant `json:"tenants"`
	// Iterator continues the listing; empty when Done.
	Iterator string `json:"iterator"`
	// Done is true on the last page.
	Done bool `json:"done"`
}

// Tenants returns one page of the tenants, by id.
func (c *Client) Tenants(ctx context.Context, q TenantQuery) (TenantPage, error) {
	var out TenantPage
	err := c.call(ctx, "tenants.list", q, &out)
	return out, err
}

// AllTenants yields every tenant by id, page after page, starting at
// q.Iterator; it stops at the first error, which it yields.
func (c *Client) AllTenants(ctx context.Context, q TenantQuery) iter.Seq2[Tenant, error] {
	return func(yield func(Tenant, error) bool) {
		for {
			page, err := c.Tenants(ctx, q)
			if err != nil {
				yield(Tenant{}, err)
				return
			}
			for _, t := range page.Tenants {
				if !yield(t, nil) {
					return
				}
			}
			if page.Done || page.Iterator == "" {
				return
			}
			q.Iterator = page.Iterator
		}
	}
}

// DeleteTenant deletes tenant id with its endpoints and their secrets;
// the events sent for it and the delivery log keep their records until
// they age out.
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	return c.call(ctx, "tenants.delete", map[string]string{"id": id}, nil)
}

// Token is a tenant token and when it expires.
type Token struct {
	// Token is the bearer token the tenant calls the HTTP API with.
	Token string `json:"token"`
	// ExpiresAt is when it stops being accepted.
	ExpiresAt time.Time `json:"expires_at"`
}

// TenantToken mints a token for tenant id that expires ttl from now (0:
// the API's default, an hour; at most 24h).
func (c *Client) TenantToken(ctx context.Context, id string, ttl time.Duration) (Token, error) {
	req := map[string]string{"id": id}
	if ttl != 0 {
		req["ttl"] = ttl.String()
	}
	var out Token
	err := c.call(ctx, "tenants.token", req, &out)
	return out, err
}
