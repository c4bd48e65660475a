// Package auth says who is calling the API: the operator, holding an
// operator key, or one tenant, holding a tenant token that the operator
// minted for it.
//
// A transport authenticates the caller once (Settings.Authenticate for the
// HTTP API's Authorization header; the NATS API, reachable only by those the
// NATS server lets in, acts for the operator) and puts the Principal in the
// request's context with With. The API's operations read it back with From,
// whatever the transport, and make the one authorisation check there:
// RequireOperator for operator-only operations, Principal.Allows for an
// object that may belong to a tenant.
//
// Every authentication failure wraps ErrUnauthenticated (HTTP 401); its
// message says why in fixed words and never repeats the credential.
package auth

import (
	"context"
	"errors"
	"regexp"
)

// ErrUnauthenticated is wrapped by every authentication failure: no
// credentials, credentials that are not a Bearer token, an unknown operator
// key, a token that does not verify, has expired, names another audience or
// lacks a claim. The HTTP API answers it with 401.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden is the error for a caller who is authenticated but may not
// make the call: a tenant calling an operator-only operation. The HTTP API
// answers it with 403. An object of another tenant is not forbidden but
// missing (404), so as not to reveal that it exists.
var ErrForbidden = errors.New("forbidden: this operation needs an operator key")

// Principal is who makes a call: the operator, or one tenant. Its zero
// value is nobody and is allowed nothing.
type Principal struct {
	operator bool
	tenant   string
}

// Operator returns the operator's principal, allowed every operation on
// every object.
func Operator() Principal { return Principal{operator: true} }

// Tenant returns the principal of tenant id, allowed only its own objects.
// An id that is not a valid tenant id (see ValidTenantID) gives nobody.
func Tenant(id string) Principal {
	if !ValidTenantID(id) {
		return Principal{}
	}
	return Principal{tenant: id}
}

// IsOperator reports whether p is the operator.
func (p Principal) IsOperator() bool { return p.operator }

// TenantID returns the tenant p acts for, or "" for the operator and for
// nobody.
func (p Principal) TenantID() string { return p.tenant }

// Allows reports whether p may see and act on an object that belongs to
// tenant ("" for the operator's own objects): the operator may on every
// object, a tenant only on its own. An operation answers an object that
// p is not allowed as missing (404), never as forbidden.
func (p Principal) Allows(tenant string) bool {
	if p.operator {
		return true
	}
	return p.tenant != "" && p.tenant == tenant
}

// String returns "operator", "tenant <id>" or "nobody"; it holds no
// credential and may be logged.
func (p Principal) String() string {
	switch {
	case p.operator:
		return "operator"
	case p.tenant != "":
		return "tenant " + p.tenant
	}
	return "nobody"
}

type contextKey struct{}

// With returns a copy of ctx that carries p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// From returns the principal ctx carries; ok is false when it carries none,
// or nobody.
func From(ctx context.Context) (p Principal, ok bool) {
	p, _ = ctx.Value(contextKey{}).(Principal)
	return p, p.operator || p.tenant != ""
}

// RequireOperator returns nil when ctx carries the operator, an error
// wrapping ErrForbidden when it carries a tenant, and one wrapping
// ErrUnauthenticated when it carries nobody.
func RequireOperator(ctx context.Context) error {
	p, ok := From(ctx)
	switch {
	case !ok:
		return unauthenticated(reasonNone)
	case !p.operator:
		return ErrForbidden
	}
	return nil
}

var tenantIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

// ValidTenantID reports whether id is a tenant id: 1 to 63 of A-Za-z0-9_-.
func ValidTenantID(id string) bool { return tenantIDRE.MatchString(id) }
