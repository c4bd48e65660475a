package api

import (
	"context"
	"fmt"

	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/catalog"
)

// The object-level half of the one authorisation check (Call's permit is
// the operation-level half): every operation that reads or changes an
// object goes through these, so that a tenant reaches only the objects
// whose tenant field names it, and an object of another tenant is, to it,
// missing, with the very error of one that does not exist.

// principal returns the caller ctx carries; Call has checked that there is
// one.
func principal(ctx context.Context) auth.Principal {
	p, _ := auth.From(ctx)
	return p
}

// endpointFor returns endpoint id when the caller may reach it: the
// operator every endpoint, a tenant its own. Another tenant's is
// catalog.ErrNotFound, worded as for an endpoint that does not exist.
func (s *Service) endpointFor(ctx context.Context, id string) (catalog.Endpoint, error) {
	ep, err := s.cfg.Catalog.Endpoint(ctx, id)
	if err != nil {
		return catalog.Endpoint{}, err
	}
	if !principal(ctx).Allows(ep.Tenant) {
		return catalog.Endpoint{}, missingEndpoint(id)
	}
	return ep, nil
}

// missingEndpoint is the error of an endpoint that does not exist, as the
// catalog words it.
func missingEndpoint(id string) error {
	return fmt.Errorf("endpoint %q: %w", id, catalog.ErrNotFound)
}

// ownTenant returns the tenant an object the caller creates belongs to:
// its own for a tenant, whatever the request says; requested for the
// operator.
func ownTenant(ctx context.Context, requested string) string {
	if p := principal(ctx); !p.IsOperator() {
		return p.TenantID()
	}
	return requested
}

// tenantFilter returns the tenant filter a listing runs with: a tenant's
// own, the operator's as requested; ok is false when a tenant asked for
// another tenant's objects, of which it may see none.
func tenantFilter(ctx context.Context, requested string) (tenant string, ok bool) {
	p := principal(ctx)
	if p.IsOperator() {
		return requested, true
	}
	return p.TenantID(), requested == "" || requested == p.TenantID()
}
