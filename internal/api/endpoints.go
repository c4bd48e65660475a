package api

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nuid"

	"github.com/hookworker/hookworker/internal/catalog"
)

// The operations on one endpoint beyond put, get and delete: a change of
// some of its fields, a test event, and its delivery statistics.

// patchEndpoint changes the fields the request names of endpoint id and
// leaves the others as they are; "secret", when given, becomes the
// current secret as in a put.
func (s *Service) patchEndpoint(ctx context.Context, data []byte) (any, error) {
	var req map[string]json.RawMessage
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	var id string
	if err := json.Unmarshal(req["id"], &id); err != nil || id == "" {
		return nil, &catalog.InvalidError{Field: "id", Reason: "is required, a string"}
	}
	cur, err := s.endpointFor(ctx, id)
	if err != nil {
		return nil, err
	}
	var secret string
	if raw, ok := req["secret"]; ok {
		if err := json.Unmarshal(raw, &secret); err != nil {
			return nil, &catalog.InvalidError{Field: "secret", Reason: "must be a string"}
		}
		delete(req, "secret")
	}
	body, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(body, &merged); err != nil {
		return nil, err
	}
	for k, v := range req {
		merged[k] = v
	}
	body, err = json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	var e catalog.Endpoint
	if err := decode(body, &e); err != nil {
		return nil, err
	}
	e.ID = id
	return s.putEndpointFor(ctx, e, secret)
}

// Tested is the reply of endpoints.test.
type Tested struct {
	// EventID is the test event's id, new for each test: the webhook-id
	// the endpoint receives.
	EventID string `json:"event_id"`
	// JobID is the id of its delivery's job.
	JobID string `json:"job_id"`
}

// testEndpoint sends a test event of a type to one endpoint alone: the
// type's first example, when its schema has "examples", else {}. The
// event is not stored on the event stream, so no other endpoint receives
// it and no replay sends it again; its delivery is recorded as any other,
// its job and attempt records marked test.
func (s *Service) testEndpoint(ctx context.Context, data []byte) (any, error) {
	var req struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if req.EventType == "" {
		return nil, &catalog.InvalidError{Field: "event_type", Reason: "is required"}
	}
	ep, err := s.endpointFor(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	typ, err := s.cfg.Catalog.EventType(ctx, req.EventType)
	if err != nil {
		return nil, err
	}
	if typ.Archived {
		return nil, fmt.Errorf("event type %q: %w", typ.Name, catalog.ErrNotFound)
	}
	ev := catalog.Event{ID: "evt_" + nuid.Next(), Type: typ.Name, Tenant: ep.Tenant,
		Timestamp: time.Now().UTC(), Payload: Example(typ.Schema), Test: true}
	job, err := s.cfg.Replayer.Deliver(ctx, ev, ep)
	if err != nil {
		return nil, err
	}
	return Tested{EventID: ev.ID, JobID: job}, nil
}

// Example returns the first of schema's "examples" (JSON Schema's
// annotation of sample values), or {} when it has none.
func Example(schema json.RawMessage) json.RawMessage {
	var s struct {
		Examples []json.RawMessage `json:"examples"`
	}
	if json.Unmarshal(schema, &s) != nil || len(s.Examples) == 0 || len(s.Examples[0]) == 0 {
		return json.RawMessage("{}")
	}
	return s.Examples[0]
}

// DefaultStatsWindow is how far back endpoints.stats counts when the
// request gives no since.
const DefaultStatsWindow = 24 * time.Hour

// endpointStats counts the attempts of endpoint id since a time (24 hours
// ago by default) until now, by outcome, in all and per hour.
func (s *Service) endpointStats(ctx context.Context, data []byte) (any, error) {
	var req struct {
		ID    string    `json:"id"`
		Since time.Time `json:"since"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if _, err := s.endpointFor(ctx, req.ID); err != nil {
		return nil, err
	}
	now := time.Now()
	if req.Since.IsZero() {
		req.Since = now.Add(-DefaultStatsWindow)
	}
	return s.cfg.Attempts.Stats(ctx, req.ID, req.Since, now)
}
