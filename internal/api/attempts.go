package api

import (
	"context"
	"fmt"
	"time"

	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/catalog"
)

// logEndpoints are the subjects of the delivery log and of replays, served
// when the Config has what they need.
func (s *Service) logEndpoints() []endpoint {
	var eps []endpoint
	if s.cfg.Attempts != nil {
		eps = append(eps, endpoint{"attempts.list", s.listAttempts}, endpoint{"endpoints.stats", s.endpointStats})
	}
	if s.cfg.Replayer != nil {
		eps = append(eps, endpoint{"events.resend", s.resend}, endpoint{"endpoints.recover", s.recoverEndpoint},
			endpoint{"endpoints.test", s.testEndpoint})
	}
	return eps
}

func (s *Service) listAttempts(ctx context.Context, data []byte) (any, error) {
	var q attempt.Query
	if err := decode(data, &q); err != nil {
		return nil, err
	}
	var ok bool
	if q.Tenant, ok = tenantFilter(ctx, q.Tenant); !ok {
		return attempt.Page{Attempts: []attempt.Record{}, Done: true}, nil
	}
	// A tenant's listing holds the records of its own events only: one
	// that names another tenant's endpoint lists none, as one that names
	// no endpoint at all does, so as not to tell the two apart.
	return s.cfg.Attempts.List(ctx, q)
}

// Resent is the reply of events.resend.
type Resent struct {
	// JobID is the new job's id.
	JobID string `json:"job_id"`
}

func (s *Service) resend(ctx context.Context, data []byte) (any, error) {
	var req struct {
		EventID  string `json:"event_id"`
		Endpoint string `json:"endpoint"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if !principal(ctx).IsOperator() {
		// A tenant resends its own events to its own endpoints; any
		// other is missing to it.
		if _, err := s.endpointFor(ctx, req.Endpoint); err != nil {
			return nil, err
		}
		ev, err := s.cfg.Replayer.Event(ctx, req.EventID)
		if err != nil {
			return nil, err
		}
		if !principal(ctx).Allows(ev.Tenant) {
			return nil, fmt.Errorf("event %q: %w", req.EventID, catalog.ErrNotFound)
		}
	}
	id, err := s.cfg.Replayer.Resend(ctx, req.EventID, req.Endpoint)
	if err != nil {
		return nil, err
	}
	return Resent{JobID: id}, nil
}

// Recovered is the reply of endpoints.recover.
type Recovered struct {
	// Events is how many events were sent again.
	Events int `json:"events"`
}

func (s *Service) recoverEndpoint(ctx context.Context, data []byte) (any, error) {
	var req struct {
		ID     string    `json:"id"`
		Since  time.Time `json:"since"`
		Until  time.Time `json:"until"`
		Tenant string    `json:"tenant"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if req.Since.IsZero() {
		return nil, &catalog.InvalidError{Field: "since", Reason: "is required, an RFC 3339 time"}
	}
	if req.Tenant != "" && !catalog.ValidTenantID(req.Tenant) {
		return nil, &catalog.InvalidError{Field: "tenant", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	}
	ep, err := s.endpointFor(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	// tenant is a filter: an endpoint of another tenant, or of none, is
	// missing.
	if req.Tenant != "" && ep.Tenant != req.Tenant {
		return nil, missingEndpoint(req.ID)
	}
	n, err := s.cfg.Replayer.Recover(ctx, req.ID, req.Since, req.Until)
	if err != nil {
		return nil, err
	}
	return Recovered{Events: n}, nil
}
