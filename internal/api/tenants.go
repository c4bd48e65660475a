package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// The tenant operations, the operator's alone: put, get, list and delete
// a tenant, and mint a token a tenant's own software calls the HTTP API
// with.

// Minter mints the tokens of tenants.token: auth.Tokens is one. Mint
// returns a token for tenant that expires ttl from now (0: its default),
// and when it expires; a ttl it refuses is an error Status maps to 400.
type Minter interface {
	Mint(tenant string, ttl time.Duration) (token string, expiresAt time.Time, err error)
}

var _ Minter = (*auth.Tokens)(nil)

// tenantEndpoints are the tenant operations; tenants.token is served when
// the Config has a Minter. A nil *auth.Tokens (no token secret set) is no
// minter.
func (s *Service) tenantEndpoints() []endpoint {
	if t, ok := s.cfg.Tokens.(*auth.Tokens); ok && t == nil {
		s.cfg.Tokens = nil
	}
	eps := []endpoint{
		{"tenants.put", s.putTenant},
		{"tenants.get", s.getTenant},
		{"tenants.list", s.listTenants},
		{"tenants.delete", s.deleteTenant},
	}
	if s.cfg.Tokens != nil {
		eps = append(eps, endpoint{"tenants.token", s.tenantToken})
	}
	return eps
}

func (s *Service) putTenant(ctx context.Context, data []byte) (any, error) {
	var req struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return s.cfg.Catalog.PutTenant(ctx, catalog.Tenant{ID: req.ID, Name: req.Name, Metadata: req.Metadata})
}

func (s *Service) getTenant(ctx context.Context, data []byte) (any, error) {
	var req idRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return s.cfg.Catalog.Tenant(ctx, req.ID)
}

func (s *Service) listTenants(ctx context.Context, data []byte) (any, error) {
	var q catalog.TenantQuery
	if err := decode(data, &q); err != nil {
		return nil, err
	}
	return s.fitted(func(maxBytes int) (any, error) {
		q.MaxBytes = maxBytes
		return s.cfg.Catalog.ListTenants(ctx, q)
	})
}

func (s *Service) deleteTenant(ctx context.Context, data []byte) (any, error) {
	var req idRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	return empty{}, s.cfg.Catalog.DeleteTenant(ctx, req.ID)
}

// Token is the reply of tenants.token.
type Token struct {
	// Token is the tenant token, a bearer credential of the HTTP API.
	Token string `json:"token"`
	// ExpiresAt is when it stops being accepted.
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Service) tenantToken(ctx context.Context, data []byte) (any, error) {
	var req struct {
		ID  string          `json:"id"`
		TTL json.RawMessage `json:"ttl"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	var ttl job.Duration
	if len(req.TTL) > 0 && string(req.TTL) != "null" {
		if err := ttl.UnmarshalJSON(req.TTL); err != nil || ttl <= 0 {
			return nil, &catalog.InvalidError{Field: "ttl", Reason: `must be a duration such as "1h", or a number of seconds, at most 24h`}
		}
	}
	if _, err := s.cfg.Catalog.Tenant(ctx, req.ID); err != nil {
		return nil, err
	}
	token, expires, err := s.cfg.Tokens.Mint(req.ID, time.Duration(ttl))
	if err != nil {
		return nil, err
	}
	return Token{Token: token, ExpiresAt: expires.UTC()}, nil
}
