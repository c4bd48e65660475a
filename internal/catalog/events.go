package catalog

import (
	"encoding/json"
	"time"
)

// EventSubjectPrefix starts the subject of every event:
// hooks.event.<type>.<event id>.
const EventSubjectPrefix = "hooks.event."

// Event is one event as stored on the event stream.
type Event struct {
	// ID is the event's id (its idempotency key, and the webhook-id of its
	// deliveries).
	ID string `json:"id"`
	// Type is the event type's name.
	Type string `json:"type"`
	// Channel is the channel it was sent on; empty for none.
	Channel string `json:"channel,omitempty"`
	// Tenant is the tenant it was sent for; empty for the operator's own
	// events. On the stream, the message's Hooks-Tenant header
	// (job.HeaderTenant) names it too.
	Tenant string `json:"tenant,omitempty"`
	// Timestamp is when it was sent.
	Timestamp time.Time `json:"timestamp"`
	// Payload is the event's data.
	Payload json.RawMessage `json:"payload"`
}

// EventSubject is the subject an event of type typ with id is stored on.
func EventSubject(typ, id string) string {
	return EventSubjectPrefix + typ + "." + id
}
