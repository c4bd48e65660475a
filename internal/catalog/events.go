package catalog

import (
	"encoding/json"
	"time"

	"github.com/hookworker/hookworker/job"
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
	// Test marks a test event (endpoints.test), made for one endpoint and
	// never stored: its jobs say so (job.Event.Test). Not read from the
	// stream.
	Test bool `json:"-"`
}

// EventSubject is the subject an event of type typ with id is stored on.
func EventSubject(typ, id string) string {
	return EventSubjectPrefix + typ + "." + id
}

// StoredTenant returns the tenant of an event on the stream from its
// message's Hooks-Tenant header (job.HeaderTenant), which a producer
// publishing straight on the event subjects sets, and its body's tenant,
// which events.send sets beside the header: either names it, and when both
// do they must agree. An *InvalidError for "tenant" says they differ or
// name no valid tenant id.
func StoredTenant(header, body string) (string, error) {
	tenant := header
	switch {
	case tenant == "":
		tenant = body
	case body != "" && body != tenant:
		return "", invalid("tenant", "differs from the %s header's", job.HeaderTenant)
	}
	if tenant != "" && !ValidTenantID(tenant) {
		return "", invalid("tenant", "must be 1 to 63 of A-Za-z0-9_-")
	}
	return tenant, nil
}
