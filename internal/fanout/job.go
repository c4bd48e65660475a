package fanout

import (
	"encoding/json"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/jsonstr"
	"github.com/hookworker/hookworker/job"
)

// NewJob returns the job, with id, that delivers event ev to endpoint ep:
// the wire form the fan-out publishes, whose webhook-id is the event id.
func NewJob(id string, ev catalog.Event, ep catalog.Endpoint) Job {
	j := Job{ID: id, Type: job.Webhook, URL: ep.URL, Endpoint: ep.ID, Event: eventRef(ev), Tenant: ev.Tenant,
		Payload: Payload{Type: ev.Type, Timestamp: ev.Timestamp, Data: ev.Payload}, Headers: ep.Headers}
	if j.Headers == nil {
		j.Headers = map[string]string{}
	}
	return j
}

// jobEncoder writes the jobs of one event in their wire form, the bytes
// json.Marshal makes of each Job: the payload and the event, the same in
// every job of the event, are encoded once, not once per endpoint.
type jobEncoder struct {
	payload []byte // the Payload's JSON
	event   []byte // the job.Event's JSON
}

// newJobEncoder returns the encoder of the jobs of ev.
func newJobEncoder(ev catalog.Event) (jobEncoder, error) {
	p := NewJob("", ev, catalog.Endpoint{})
	payload, err := json.Marshal(p.Payload)
	if err != nil {
		return jobEncoder{}, err
	}
	event, err := json.Marshal(p.Event)
	if err != nil {
		return jobEncoder{}, err
	}
	return jobEncoder{payload: payload, event: event}, nil
}

// encode returns the JSON of j, a job of the encoder's event.
func (e jobEncoder) encode(j Job) ([]byte, error) {
	headers := []byte("{}")
	if len(j.Headers) > 0 {
		var err error
		if headers, err = json.Marshal(j.Headers); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, 128+len(j.ID)+len(j.URL)+len(j.Endpoint)+len(e.payload)+len(headers)+len(e.event)+len(j.Tenant))
	b = append(b, `{"id":`...)
	b = jsonstr.Append(b, j.ID)
	b = append(b, `,"type":`...)
	b = jsonstr.Append(b, string(j.Type))
	b = append(b, `,"url":`...)
	b = jsonstr.Append(b, j.URL)
	b = append(b, `,"payload":`...)
	b = append(b, e.payload...)
	b = append(b, `,"headers":`...)
	b = append(b, headers...)
	b = append(b, `,"endpoint":`...)
	b = jsonstr.Append(b, j.Endpoint)
	b = append(b, `,"event":`...)
	b = append(b, e.event...)
	if j.Tenant != "" {
		b = append(b, `,"tenant":`...)
		b = jsonstr.Append(b, j.Tenant)
	}
	if j.Ordered {
		b = append(b, `,"ordered":true`...)
	}
	return append(b, '}'), nil
}
