package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
)

func putTenant(t *testing.T, c *catalog.Catalog, id string) catalog.Tenant {
	t.Helper()
	tn, err := c.PutTenant(context.Background(), catalog.Tenant{ID: id, Name: "Tenant " + id})
	if err != nil {
		t.Fatalf("put tenant %s: %v", id, err)
	}
	return tn
}

func putEndpoint(t *testing.T, c *catalog.Catalog, e catalog.Endpoint) catalog.Endpoint {
	t.Helper()
	out, err := c.PutEndpoint(context.Background(), e, "")
	if err != nil {
		t.Fatalf("put endpoint %s: %v", e.ID, err)
	}
	return out
}

// endpointIDs returns the ids of eps.
func endpointIDs(eps []catalog.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.ID)
	}
	return out
}

func TestPutTenant(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		tn    catalog.Tenant
		field string
	}{
		{"bad id", catalog.Tenant{ID: "a b"}, "id"},
		{"long id", catalog.Tenant{ID: strings.Repeat("a", 64)}, "id"},
		{"long name", catalog.Tenant{ID: "long", Name: strings.Repeat("é", catalog.MaxTenantNameLen+1)}, "name"},
		{"metadata not an object", catalog.Tenant{ID: "meta", Metadata: json.RawMessage(`[1]`)}, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutTenant(ctx, tt.tn)
			if got := field(err); got != tt.field {
				t.Fatalf("err = %v: field %q, want %q", err, got, tt.field)
			}
		})
	}
	if page, err := c.ListTenants(ctx, catalog.TenantQuery{}); err != nil || len(page.Tenants) != 0 {
		t.Fatalf("refused puts stored %d tenants (%v)", len(page.Tenants), err)
	}

	gen, err := c.PutTenant(ctx, catalog.Tenant{Name: strings.Repeat("é", catalog.MaxTenantNameLen)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gen.ID, "tn_") || string(gen.Metadata) != "{}" {
		t.Errorf("generated tenant %+v, want a tn_ id and {} metadata", gen)
	}
	first, err := c.PutTenant(ctx, catalog.Tenant{ID: "acme", Name: "Acme", Metadata: json.RawMessage(`{ "plan": "pro" }`)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	second, err := c.PutTenant(ctx, catalog.Tenant{ID: "acme", Name: "Acme Inc."})
	if err != nil {
		t.Fatal(err)
	}
	if !second.CreatedAt.Equal(first.CreatedAt) || !second.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("update: created %v updated %v, want created %v kept and updated later", second.CreatedAt, second.UpdatedAt, first.CreatedAt)
	}
	got, err := c.Tenant(ctx, "acme")
	if err != nil || got.Name != "Acme Inc." || string(got.Metadata) != "{}" {
		t.Errorf("Tenant = %+v, %v", got, err)
	}
	if string(first.Metadata) != `{"plan":"pro"}` {
		t.Errorf("metadata %s, want it compacted", first.Metadata)
	}
	if _, err := c.Tenant(ctx, "nobody"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("unknown tenant: %v, want ErrNotFound", err)
	}
}

func TestListTenantsPages(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	for _, id := range []string{"c", "a", "b"} {
		putTenant(t, c, id)
	}
	var ids []string
	q := catalog.TenantQuery{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		page, err := c.ListTenants(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range page.Tenants {
			ids = append(ids, tn.ID)
		}
		if page.Done {
			if page.Iterator != "" {
				t.Errorf("last page has iterator %q", page.Iterator)
			}
			break
		}
		q.Iterator = page.Iterator
	}
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("listed %v, want a, b, c", ids)
	}
	// A page holds what fits; the next continues after it.
	page, err := c.ListTenants(ctx, catalog.TenantQuery{MaxBytes: 200})
	if err != nil || len(page.Tenants) != 1 || page.Done || page.Iterator != "a" {
		t.Errorf("a page of 200 bytes: %d tenants, done %v, iterator %q (%v), want a alone", len(page.Tenants), page.Done, page.Iterator, err)
	}
	for _, q := range []catalog.TenantQuery{{Limit: -1}, {Limit: catalog.MaxLimit + 1}, {Iterator: "not one"}} {
		if _, err := c.ListTenants(ctx, q); field(err) == "" {
			t.Errorf("ListTenants(%+v) = %v, want a bad request", q, err)
		}
	}
}

// TestEndpointTenant: an endpoint names an existing tenant or none, and
// keeps the one it was created with.
func TestEndpointTenant(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	putTenant(t, c, "acme")
	putTenant(t, c, "globex")
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/x", Tenant: "nobody"}, ""); field(err) != "tenant" {
		t.Errorf("unknown tenant: %v, want a bad request naming tenant", err)
	}
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/x", Tenant: "a.b"}, ""); field(err) != "tenant" {
		t.Errorf("bad tenant id: %v, want a bad request naming tenant", err)
	}
	ep := putEndpoint(t, c, catalog.Endpoint{ID: "ep_acme", URL: "https://example.com/acme", Tenant: "acme"})
	own := putEndpoint(t, c, catalog.Endpoint{ID: "ep_own", URL: "https://example.com/own"})
	for _, tt := range []struct {
		name string
		ep   catalog.Endpoint
	}{
		{"move to another tenant", catalog.Endpoint{ID: ep.ID, URL: ep.URL, Tenant: "globex"}},
		{"remove the tenant", catalog.Endpoint{ID: ep.ID, URL: ep.URL}},
		{"give the operator's endpoint a tenant", catalog.Endpoint{ID: own.ID, URL: own.URL, Tenant: "acme"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.PutEndpoint(ctx, tt.ep, ""); field(err) != "tenant" {
				t.Errorf("err = %v, want a bad request naming tenant", err)
			}
		})
	}
	if got, err := c.Endpoint(ctx, ep.ID); err != nil || got.Tenant != "acme" {
		t.Errorf("after refused puts: tenant %q (%v), want acme", got.Tenant, err)
	}
	// The control: an update that keeps the tenant is taken.
	if got, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: ep.ID, URL: ep.URL, Tenant: "acme", Description: "kept"}, ""); err != nil || got.Tenant != "acme" {
		t.Errorf("update keeping the tenant: %+v, %v", got, err)
	}
	// Without an id, the same URL is the same endpoint only within a tenant.
	other := putEndpoint(t, c, catalog.Endpoint{URL: ep.URL, Tenant: "globex"})
	mine := putEndpoint(t, c, catalog.Endpoint{URL: ep.URL})
	again := putEndpoint(t, c, catalog.Endpoint{URL: ep.URL, Tenant: "acme"})
	if other.ID == ep.ID || mine.ID == ep.ID || mine.ID == other.ID || again.ID != ep.ID {
		t.Errorf("same URL: acme %s, globex %s, operator %s, acme again %s; want three endpoints, acme's reused", ep.ID, other.ID, mine.ID, again.ID)
	}
}

// TestMatchingByTenant: an event of a tenant reaches that tenant's
// endpoints only; one without a tenant reaches the operator's own only.
func TestMatchingByTenant(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	putType(t, c, "order.created", "")
	putTenant(t, c, "acme")
	putTenant(t, c, "globex")
	putEndpoint(t, c, catalog.Endpoint{ID: "acme1", URL: "https://example.com/a1", Tenant: "acme"})
	putEndpoint(t, c, catalog.Endpoint{ID: "acme2", URL: "https://example.com/a2", Tenant: "acme", EventTypes: []string{"order.created"}})
	putEndpoint(t, c, catalog.Endpoint{ID: "globex1", URL: "https://example.com/g1", Tenant: "globex"})
	putEndpoint(t, c, catalog.Endpoint{ID: "own1", URL: "https://example.com/o1"})
	for _, tt := range []struct {
		tenant string
		want   []string
	}{
		{"acme", []string{"acme1", "acme2"}},
		{"globex", []string{"globex1"}},
		{"", []string{"own1"}},
		{"initech", nil},
	} {
		got, err := c.Matching(ctx, tt.tenant, "order.created", "")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(endpointIDs(got), tt.want) {
			t.Errorf("tenant %q: matching %v, want %v", tt.tenant, endpointIDs(got), tt.want)
		}
	}
	page, err := c.Endpoints(ctx, catalog.Query{Tenant: "acme", Order: "asc"})
	if err != nil || !slices.Equal(endpointIDs(page.Endpoints), []string{"acme1", "acme2"}) {
		t.Errorf("listing tenant acme: %v (%v), want acme1, acme2", endpointIDs(page.Endpoints), err)
	}
	if _, err := c.Endpoints(ctx, catalog.Query{Tenant: "a b"}); field(err) != "tenant" {
		t.Errorf("listing a bad tenant id: %v, want a bad request naming tenant", err)
	}
}

// TestDeleteTenant: deleting a tenant deletes its endpoints and their
// secrets, and no other.
func TestDeleteTenant(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	putTenant(t, c, "acme")
	putTenant(t, c, "globex")
	putEndpoint(t, c, catalog.Endpoint{ID: "acme1", URL: "https://example.com/a1", Tenant: "acme"})
	putEndpoint(t, c, catalog.Endpoint{ID: "acme2", URL: "https://example.com/a2", Tenant: "acme"})
	putEndpoint(t, c, catalog.Endpoint{ID: "globex1", URL: "https://example.com/g1", Tenant: "globex"})
	putEndpoint(t, c, catalog.Endpoint{ID: "own1", URL: "https://example.com/o1"})
	if err := c.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tenant(ctx, "acme"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("deleted tenant: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"acme1", "acme2"} {
		if _, err := c.Secret(ctx, id); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("endpoint %s of the deleted tenant: %v, want ErrNotFound", id, err)
		}
	}
	page, err := c.Endpoints(ctx, catalog.Query{Order: "asc"})
	if err != nil || !slices.Equal(endpointIDs(page.Endpoints), []string{"globex1", "own1"}) {
		t.Errorf("left %v (%v), want globex1, own1", endpointIDs(page.Endpoints), err)
	}
	if err := c.DeleteTenant(ctx, "acme"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("deleting again: %v, want ErrNotFound", err)
	}
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/late", Tenant: "acme"}, ""); field(err) != "tenant" {
		t.Errorf("endpoint for the deleted tenant: %v, want a bad request naming tenant", err)
	}
}

func TestCheckTenant(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	putTenant(t, c, "acme")
	if err := c.CheckTenant(ctx, "tenant", "acme"); err != nil {
		t.Errorf("existing tenant: %v", err)
	}
	for _, id := range []string{"nobody", "a b"} {
		if err := c.CheckTenant(ctx, "tenant", id); field(err) != "tenant" {
			t.Errorf("tenant %q: %v, want a bad request naming tenant", id, err)
		}
	}
}
