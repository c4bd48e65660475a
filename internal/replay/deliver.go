package replay

import (
	"context"

	"github.com/hookworker/hookworker/internal/catalog"
)

// Event returns the stored event id, of whatever type; an unknown id is
// catalog.ErrNotFound. It lets a caller see whose event it is (its
// Tenant) before it asks for a resend.
func (r *Replayer) Event(ctx context.Context, id string) (catalog.Event, error) {
	if !catalog.ValidEventID(id) {
		return catalog.Event{}, &catalog.InvalidError{Field: "event_id", Reason: "must be 1 to 64 of A-Za-z0-9_-"}
	}
	return r.find(ctx, id)
}

// Deliver publishes one delivery of ev, which need not be stored, to ep
// alone, whatever ep's filters say, and returns its job id. It is how a
// test event reaches one endpoint: the event stream, which every matching
// endpoint is fanned out from, never holds it.
func (r *Replayer) Deliver(ctx context.Context, ev catalog.Event, ep catalog.Endpoint) (string, error) {
	if !catalog.ValidEventID(ev.ID) {
		return "", &catalog.InvalidError{Field: "id", Reason: "must be 1 to 64 of A-Za-z0-9_-"}
	}
	return r.send(ctx, ev, ep)
}
