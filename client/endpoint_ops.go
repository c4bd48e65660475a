package client

import (
	"context"
	"time"
)

// PatchEndpoint changes the fields of endpoint id that fields names, by
// their JSON names ("description", "event_types", "disabled", "secret", …),
// leaves the others as they are and returns the endpoint.
func (c *Client) PatchEndpoint(ctx context.Context, id string, fields map[string]any) (Endpoint, error) {
	req := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		req[k] = v
	}
	req["id"] = id
	var out Endpoint
	err := c.call(ctx, "endpoints.patch", req, &out)
	return out, err
}

// TestSent is a test event's delivery.
type TestSent struct {
	// EventID is the test event's id, the webhook-id the endpoint gets.
	EventID string `json:"event_id"`
	// JobID is its delivery's job id.
	JobID string `json:"job_id"`
}

// TestEndpoint sends endpoint id, and no other, a test event of type
// eventType: the first of the type's schema "examples", or {}.
func (c *Client) TestEndpoint(ctx context.Context, id, eventType string) (TestSent, error) {
	var out TestSent
	err := c.call(ctx, "endpoints.test", map[string]string{"id": id, "event_type": eventType}, &out)
	return out, err
}

// Counts are attempts by outcome.
type Counts struct {
	Delivered int `json:"delivered"`
	Retry     int `json:"retry"`
	Failed    int `json:"failed"`
}

// HourCounts are the attempts of the hour that starts at Hour.
type HourCounts struct {
	Hour time.Time `json:"hour"`
	Counts
}

// EndpointStats are an endpoint's attempts from Since until Until, by
// outcome, in all and per hour, oldest first.
type EndpointStats struct {
	Endpoint string       `json:"endpoint"`
	Since    time.Time    `json:"since"`
	Until    time.Time    `json:"until"`
	Total    Counts       `json:"total"`
	Hours    []HourCounts `json:"hours"`
}

// EndpointStats counts endpoint id's attempts since a time (zero: 24 hours
// ago) until now.
func (c *Client) EndpointStats(ctx context.Context, id string, since time.Time) (EndpointStats, error) {
	var out EndpointStats
	err := c.call(ctx, "endpoints.stats", struct {
		ID    string    `json:"id"`
		Since time.Time `json:"since,omitzero"`
	}{id, since}, &out)
	return out, err
}
