package client

import (
	"context"
	"encoding/json"
	"iter"
	"time"
)

// Attempt is one HTTP attempt of a delivery, as the delivery log keeps it.
type Attempt struct {
	// JobID is the job's id.
	JobID string `json:"job_id"`
	// EventID, EventType and Channel name the event ("" for a plain job,
	// and Channel for an event sent on none).
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Channel   string `json:"channel"`
	// Endpoint is the endpoint's id ("" for a plain job).
	Endpoint string `json:"endpoint"`
	// Tenant is the tenant of the event ("" for none).
	Tenant string `json:"tenant"`
	// URL is where the attempt went, its secrets removed.
	URL string `json:"url"`
	// Attempt is the attempt's number, from 1.
	Attempt int `json:"attempt"`
	// Timestamp is when the attempt began.
	Timestamp time.Time `json:"timestamp"`
	// DurationMS is how long it took, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// RequestHeaders are the headers sent; those that carry credentials
	// read "[redacted]".
	RequestHeaders map[string]string `json:"request_headers"`
	// Status is the response status; 0 without a response.
	Status int `json:"status"`
	// Response is the response body: JSON when it was JSON, else a JSON
	// string; null without one.
	Response json.RawMessage `json:"response"`
	// Error says what went wrong; "" for nothing.
	Error string `json:"error"`
	// Outcome is delivered, retry or failed.
	Outcome string `json:"outcome"`
	// Test is true for a test event's attempt (Client.TestEndpoint): its
	// event is not stored, so it has no payload and cannot be resent.
	Test bool `json:"test,omitempty"`
	// Payload is the event's payload; null when the event is no longer
	// kept or the job is a plain one.
	Payload json.RawMessage `json:"payload"`
}

// MarshalJSON encodes a as the delivery log's record: the fields a plain
// job or an answered attempt has no value for (event_id, event_type,
// channel, endpoint, tenant, status, error, response, payload) are null,
// not empty.
func (a Attempt) MarshalJSON() ([]byte, error) {
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	raw := func(m json.RawMessage) json.RawMessage {
		if len(m) == 0 {
			return json.RawMessage("null")
		}
		return m
	}
	var status *int
	if a.Status != 0 {
		status = &a.Status
	}
	return json.Marshal(struct {
		JobID          string            `json:"job_id"`
		EventID        *string           `json:"event_id"`
		EventType      *string           `json:"event_type"`
		Channel        *string           `json:"channel"`
		Endpoint       *string           `json:"endpoint"`
		Tenant         *string           `json:"tenant"`
		URL            string            `json:"url"`
		Attempt        int               `json:"attempt"`
		Timestamp      time.Time         `json:"timestamp"`
		DurationMS     int64             `json:"duration_ms"`
		RequestHeaders map[string]string `json:"request_headers"`
		Status         *int              `json:"status"`
		Response       json.RawMessage   `json:"response"`
		Error          *string           `json:"error"`
		Outcome        string            `json:"outcome"`
		Test           bool              `json:"test,omitempty"`
		Payload        json.RawMessage   `json:"payload"`
	}{
		a.JobID, str(a.EventID), str(a.EventType), str(a.Channel), str(a.Endpoint), str(a.Tenant), a.URL, a.Attempt,
		a.Timestamp, a.DurationMS, a.RequestHeaders, status, raw(a.Response), str(a.Error), a.Outcome, a.Test, raw(a.Payload),
	})
}

// AttemptQuery selects attempts. Every field is optional.
type AttemptQuery struct {
	// Endpoint, EventType, Channel, EventID, Tenant and Outcome keep the
	// attempts that have them.
	Endpoint  string `json:"endpoint,omitempty"`
	EventType string `json:"event_type,omitempty"`
	Channel   string `json:"channel,omitempty"`
	EventID   string `json:"event_id,omitempty"`
	Tenant    string `json:"tenant,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	// Before keeps the attempts recorded before it, After those recorded
	// at or after it.
	Before time.Time `json:"before,omitzero"`
	After  time.Time `json:"after,omitzero"`
	// Limit is the page size: default 50, at most 1000.
	Limit int `json:"limit,omitempty"`
	// Iterator continues below the page that returned it.
	Iterator string `json:"iterator,omitempty"`
}

// AttemptPage is one page of attempts, newest first.
type AttemptPage struct {
	// Attempts are the page's attempts.
	Attempts []Attempt `json:"attempts"`
	// Iterator continues the listing; empty when Done.
	Iterator string `json:"iterator"`
	// Done is true on the last page.
	Done bool `json:"done"`
}

// Attempts returns one page of the attempts q selects, newest first.
func (c *Client) Attempts(ctx context.Context, q AttemptQuery) (AttemptPage, error) {
	var out AttemptPage
	err := c.call(ctx, "attempts.list", q, &out)
	return out, err
}

// AllAttempts yields every attempt q selects, newest first, page after
// page from q.Iterator; it stops at the first error, which it yields.
func (c *Client) AllAttempts(ctx context.Context, q AttemptQuery) iter.Seq2[Attempt, error] {
	return func(yield func(Attempt, error) bool) {
		for {
			page, err := c.Attempts(ctx, q)
			if err != nil {
				yield(Attempt{}, err)
				return
			}
			for _, a := range page.Attempts {
				if !yield(a, nil) {
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

// Resend delivers event eventID to endpoint once more, with the event id
// as its webhook-id, and returns the new job's id (whose result Wait
// reads). An unknown event or endpoint is ErrNotFound.
func (c *Client) Resend(ctx context.Context, eventID, endpoint string) (string, error) {
	var out struct {
		JobID string `json:"job_id"`
	}
	err := c.call(ctx, "events.resend", map[string]string{"event_id": eventID, "endpoint": endpoint}, &out)
	return out.JobID, err
}

// Recover sends again, once each, every event whose delivery to endpoint
// failed between since and until (zero: now) and has not been delivered
// since, and returns how many it sent.
func (c *Client) Recover(ctx context.Context, endpoint string, since, until time.Time) (int, error) {
	return c.RecoverTenant(ctx, "", endpoint, since, until)
}

// RecoverTenant is Recover of an endpoint of tenant ("" for any): an
// endpoint of another tenant, or of none, is ErrNotFound.
func (c *Client) RecoverTenant(ctx context.Context, tenant, endpoint string, since, until time.Time) (int, error) {
	var out struct {
		Events int `json:"events"`
	}
	err := c.call(ctx, "endpoints.recover", struct {
		ID     string    `json:"id"`
		Since  time.Time `json:"since"`
		Until  time.Time `json:"until,omitzero"`
		Tenant string    `json:"tenant,omitempty"`
	}{endpoint, since, until, tenant}, &out)
	return out.Events, err
}
