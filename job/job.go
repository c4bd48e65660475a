// Package job holds the wire types of hookworker: it decodes the send jobs
// producers publish and encodes the results hookworker publishes, as the
// public contract defines them. It depends on no part of the delivery
// engine, so that a producer or a receiver that imports it links none.
//
// Decode checks a job completely before anything is sent: a job it accepts
// has a valid id, a destination and what its type needs. Its errors are short,
// name the field and never repeat a URL (a Discord webhook token lives in
// the path).
package job

import (
	"encoding/json"
	"net/url"
)

// Type is the kind of a job.
type Type string

// The job types.
const (
	// Webhook posts Payload verbatim, signed per Standard Webhooks. It is the
	// default.
	Webhook Type = "webhook"
	// Discord turns the discord object into a Discord execute-webhook call.
	Discord Type = "discord"
	// Slack posts the slack object to a Slack incoming webhook or
	// response_url.
	Slack Type = "slack"
)

// MaxIDLen is the longest job id accepted.
const MaxIDLen = 128

// Job is one send job, as published on the job subject.
type Job struct {
	// ID identifies the job: sent as webhook-id, echoed in the result and
	// used to de-duplicate results. See ValidID.
	ID string `json:"id,omitempty"`
	// Type is Webhook, Discord or Slack.
	Type Type `json:"type,omitempty"`
	// URL is the one destination; a producer sets exactly one of URL and
	// URLs. Decode moves it into URLs: a decoded job's URL is empty.
	URL string `json:"url,omitempty"`
	// URLs is a pool of destinations used round-robin. A decoded job holds
	// every destination here, the one of url included, so that nothing
	// after Decode looks at URL.
	URLs []string `json:"urls,omitempty"`
	// Destinations are URLs as Decode parsed them, one per entry, so that
	// they are parsed once per job: the worker hands them on to the
	// sender. They are shared, and only read.
	Destinations []*url.URL `json:"-"`
	// Payload is the JSON body of a webhook job, kept byte for byte as
	// published.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Headers are extra request headers.
	Headers map[string]string `json:"headers,omitempty"`
	// Discord is the discord object of a Discord job, kept as published; the
	// discord package decodes and checks it.
	Discord json.RawMessage `json:"discord,omitempty"`
	// Slack is the slack object of a Slack job, kept as published; the
	// slack package decodes and checks it.
	Slack json.RawMessage `json:"slack,omitempty"`
	// Timeout is the per-attempt timeout the job asks for; zero means the
	// worker's. It is clamped to the worker's maximum.
	Timeout Duration `json:"timeout,omitempty"`
	// MaxRetries is the retry budget the job asks for; nil means the
	// worker's. It is clamped to the worker's maximum.
	MaxRetries *int `json:"max_retries,omitempty"`
	// MaxProxyRetries is the proxy rotation budget the job asks for; nil
	// means the worker's. It is clamped to the worker's maximum.
	MaxProxyRetries *int `json:"max_proxy_retries,omitempty"`
	// Meta is any JSON value, echoed in the result.
	Meta json.RawMessage `json:"meta,omitempty"`
	// RetrySchedule, when set, is the wait before each retry, in place of
	// MaxRetries and the worker's exponential backoff: one retry per
	// entry, then the job fails. The worker cuts it to its limit.
	RetrySchedule []Duration `json:"retry_schedule,omitempty"`
	// Endpoint is the id of the endpoint an event job goes to; empty for a
	// plain job. Only the jobs hookworker makes from events name one (on
	// the job subject followed by ".endpoint"); a worker rejects a job that
	// names an endpoint or an event on the job subject.
	Endpoint string `json:"endpoint,omitempty"`
	// Event names the event an event job delivers; nil for a plain job.
	// Endpoint and Event are set together.
	Event *Event `json:"event,omitempty"`
	// Tenant is the tenant whose event an event job delivers; empty for
	// the operator's own events and for plain jobs. Like Endpoint, only
	// the jobs hookworker makes from events carry one.
	Tenant string `json:"tenant,omitempty"`
	// Ordered marks an event job to an ordered endpoint, published on the
	// endpoint's own subject (the endpoint subject followed by its id): its
	// first attempt waits until the jobs before it on that subject are
	// over. Only with Endpoint.
	Ordered bool `json:"ordered,omitempty"`
	// Sequence is the stream sequence of the job's message, set by the
	// worker that took it; 0 when not known. It is not part of the wire
	// form.
	Sequence uint64 `json:"-"`
}

// Event names the event an event job delivers, as the job and its result
// carry it.
type Event struct {
	// ID is the event's id: the webhook-id of every delivery of it.
	ID string `json:"id"`
	// Type is the event type's name.
	Type string `json:"type"`
	// Channel is the channel it was sent on; empty for none.
	Channel string `json:"channel,omitempty"`
	// Test marks a test event (endpoints.test): sent to one endpoint
	// alone and never stored, so it cannot be resent or replayed.
	Test bool `json:"test,omitempty"`
}

// ValidID reports whether id is a valid job id: 1 to MaxIDLen characters of
// A-Z, a-z, 0-9, '_', '-' and ':'.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == ':':
		default:
			return false
		}
	}
	return true
}
