package fanout

import (
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// NewJob returns the job, with id, that delivers event ev to endpoint ep:
// the wire form the fan-out publishes, whose webhook-id is the event id.
func NewJob(id string, ev catalog.Event, ep catalog.Endpoint) Job {
	j := Job{ID: id, Type: job.Webhook, URL: ep.URL, Endpoint: ep.ID, Event: eventRef(ev),
		Payload: Payload{Type: ev.Type, Timestamp: ev.Timestamp, Data: ev.Payload}, Headers: ep.Headers}
	if j.Headers == nil {
		j.Headers = map[string]string{}
	}
	return j
}
