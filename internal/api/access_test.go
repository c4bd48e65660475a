package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
)

// startService runs the API with tenants on a fresh JetStream server.
func startService(t *testing.T) (*api.Service, *catalog.Catalog) {
	t.Helper()
	ctx, b, eb := catalogtest.Start(t)
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants, Conn: b.Conn(), AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := api.Start(b.Conn(), api.Config{Catalog: cat, JetStream: b.JetStream(), Events: eb.Events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return svc, cat
}

// The one check: no principal is 401; a tenant may call its own
// operations and no other (403); the operator may call all.
func TestCallPermits(t *testing.T) {
	svc, _ := startService(t)
	ctx := context.Background()
	if _, err := svc.Call(ctx, "endpoints.list", nil); api.Status(err) != 401 || !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("no principal: %v", err)
	}
	if _, err := svc.Call(auth.With(ctx, auth.Operator()), "endpoints.nothing", nil); api.Status(err) != 404 {
		t.Fatalf("an unknown operation: %v", err)
	}
	tenant := auth.With(ctx, auth.Tenant("acme"))
	mine := []string{"event_types.get", "event_types.list", "endpoints.put", "endpoints.get", "endpoints.list",
		"endpoints.patch", "endpoints.secret", "endpoints.rotate", "endpoints.delete"}
	for _, name := range svc.Operations() {
		_, err := svc.Call(tenant, name, []byte(`{}`))
		forbidden := errors.Is(err, auth.ErrForbidden)
		if forbidden != !slices.Contains(mine, name) {
			t.Errorf("%s as a tenant: %v", name, err)
		}
		if forbidden && api.Status(err) != 403 {
			t.Errorf("%s: status %d", name, api.Status(err))
		}
		if _, err := svc.Call(auth.With(ctx, auth.Operator()), name, []byte(`{}`)); errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s as the operator: %v", name, err)
		}
	}
}

// A tenant's endpoint is its own whatever the request says; another
// tenant's, or the operator's, is missing to it, in the words of one that
// does not exist.
func TestCallEndpointsOfTenants(t *testing.T) {
	svc, cat := startService(t)
	ctx := context.Background()
	for _, id := range []string{"acme", "globex"} {
		if _, err := cat.PutTenant(ctx, catalog.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	acme, op := auth.With(ctx, auth.Tenant("acme")), auth.With(ctx, auth.Operator())
	out, err := svc.Call(acme, "endpoints.put", []byte(`{"id":"ep_a","url":"http://127.0.0.1:9/a","tenant":"globex"}`))
	if err != nil || out.(catalog.Endpoint).Tenant != "acme" {
		t.Fatalf("put as acme: %+v, %v", out, err)
	}
	if _, err := svc.Call(op, "endpoints.put", []byte(`{"id":"ep_g","url":"http://127.0.0.1:9/g","tenant":"globex"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Call(op, "endpoints.put", []byte(`{"id":"ep_o","url":"http://127.0.0.1:9/o"}`)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ep_g", "ep_o", "ep_none"} {
		for _, name := range []string{"endpoints.get", "endpoints.patch", "endpoints.secret", "endpoints.rotate", "endpoints.delete"} {
			req, _ := json.Marshal(map[string]string{"id": id})
			_, err := svc.Call(acme, name, req)
			if api.Status(err) != 404 || err.Error() != `endpoint "`+id+`": not found` {
				t.Errorf("%s %s as acme: %v", name, id, err)
			}
		}
		// Nor can acme take it over by putting its id.
		req, _ := json.Marshal(map[string]string{"id": id, "url": "http://127.0.0.1:9/x"})
		if _, err := svc.Call(acme, "endpoints.put", req); id != "ep_none" && api.Status(err) != 404 {
			t.Errorf("put %s as acme: %v", id, err)
		}
	}
	out, err = svc.Call(acme, "endpoints.list", nil)
	if page := out.(catalog.Page); err != nil || len(page.Endpoints) != 2 {
		t.Fatalf("acme lists %+v, %v", out, err) // ep_a, and ep_none it created just now
	}
	out, err = svc.Call(acme, "endpoints.list", []byte(`{"tenant":"globex"}`))
	if page := out.(catalog.Page); err != nil || len(page.Endpoints) != 0 {
		t.Fatalf("acme lists globex's: %+v, %v", out, err)
	}
	// The NATS door acts for the operator.
	out, err = svc.Call(op, "endpoints.list", nil)
	if page := out.(catalog.Page); err != nil || len(page.Endpoints) != 4 {
		t.Fatalf("the operator lists %+v, %v", out, err)
	}
}
