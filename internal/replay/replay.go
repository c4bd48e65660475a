// Package replay sends events again: one event to one endpoint (resend),
// or every event an endpoint missed in a time window (recover): those
// whose delivery to it failed and has not succeeded since, and those it
// should have received and has no delivered result for, failed or never
// sent because it was disabled. A replay is a new job in the fan-out's
// wire form, so its webhook-id is the event id, as the first delivery's
// was; its job id is new, so that neither the job stream's nor the result
// stream's duplicate window drops it.
//
// Recover reads the result stream, not the delivery log: a terminal result
// is published for every job before it is acknowledged, while the log may
// be off (HOOKWORKER_ATTEMPT_LOG) or have dropped records under load.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/job"
)

// MaxJobID is the longest job id.
const MaxJobID = 128

// Config is what a Replayer is built from.
type Config struct {
	// JetStream publishes the jobs.
	JetStream jetstream.JetStream
	// Catalog holds the endpoints and event types.
	Catalog *catalog.Catalog
	// Events is the event stream (HOOKS_EVENTS).
	Events jetstream.Stream
	// Results is the result stream (HOOKS_RESULTS), ResultSubject the
	// subject results are published on.
	Results       jetstream.Stream
	ResultSubject string
	// JobSubject is where jobs are published: the endpoint subject
	// (hooks.send.endpoint, see bus.EndpointSubject).
	JobSubject string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Replayer resends events.
type Replayer struct{ cfg Config }

// New returns a Replayer.
func New(cfg Config) (*Replayer, error) {
	if cfg.JetStream == nil || cfg.Catalog == nil || cfg.Events == nil || cfg.Results == nil ||
		cfg.JobSubject == "" || cfg.ResultSubject == "" {
		return nil, errors.New("replay: jetstream, catalog, streams and subjects are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Replayer{cfg: cfg}, nil
}

// JobID returns a job id for one more delivery of event eventID to
// endpoint endpointID: <event id>:<endpoint id>:<unique suffix>, the front
// cut when the whole would pass MaxJobID characters.
func JobID(eventID, endpointID string) string {
	suffix := ":" + nuid.Next()
	base := fanout.JobID(eventID, endpointID)
	if len(base)+len(suffix) > MaxJobID {
		base = base[:MaxJobID-len(suffix)]
	}
	return base + suffix
}

// Resend publishes one more delivery of event eventID to endpoint
// endpointID and returns its job id. An unknown event or endpoint is
// catalog.ErrNotFound; an event the endpoint's tenant, type or channel
// filters exclude (it would not have been fanned out to it) is an
// *catalog.InvalidError for "endpoint".
func (r *Replayer) Resend(ctx context.Context, eventID, endpointID string) (string, error) {
	if !catalog.ValidEventID(eventID) {
		return "", &catalog.InvalidError{Field: "event_id", Reason: "must be 1 to 64 of A-Za-z0-9_-"}
	}
	if !catalog.ValidEndpointID(endpointID) {
		return "", &catalog.InvalidError{Field: "endpoint", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	}
	ep, err := r.cfg.Catalog.Endpoint(ctx, endpointID)
	if err != nil {
		return "", err
	}
	ev, err := r.find(ctx, eventID)
	if err != nil {
		return "", err
	}
	if !ep.Wants(ev.Tenant, ev.Type, ev.Channel) {
		return "", &catalog.InvalidError{Field: "endpoint", Reason: excluded(ep, ev)}
	}
	return r.send(ctx, ev, ep)
}

// excluded says which of ep's filters exclude ev.
func excluded(ep catalog.Endpoint, ev catalog.Event) string {
	if ep.Tenant != ev.Tenant {
		return fmt.Sprintf("endpoint %s %s, and event %s %s", ep.ID, whose(ep.Tenant), ev.ID, whose(ev.Tenant))
	}
	channel := "without a channel"
	if ev.Channel != "" {
		channel = fmt.Sprintf("on channel %q", ev.Channel)
	}
	if len(ep.EventTypes) > 0 && !slices.Contains(ep.EventTypes, ev.Type) {
		return fmt.Sprintf("endpoint %s does not receive events of type %q (its event_types exclude event %s)", ep.ID, ev.Type, ev.ID)
	}
	return fmt.Sprintf("endpoint %s does not receive events sent %s (its channels exclude event %s)", ep.ID, channel, ev.ID)
}

// whose says whose an endpoint or an event of tenant is.
func whose(tenant string) string {
	if tenant == "" {
		return "is the operator's own (no tenant)"
	}
	return fmt.Sprintf("is tenant %q's", tenant)
}

// find returns the stored event id. Its subject holds its type, which a
// resend request does not give: each known type (archived ones too) is
// looked up.
func (r *Replayer) find(ctx context.Context, id string) (catalog.Event, error) {
	types, err := r.cfg.Catalog.EventTypes(ctx, true)
	if err != nil {
		return catalog.Event{}, err
	}
	for _, t := range types {
		ev, err := r.event(ctx, t.Name, id)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		return ev, err
	}
	return catalog.Event{}, fmt.Errorf("event %q: %w", id, catalog.ErrNotFound)
}

// event reads the event id of type typ from the event stream.
func (r *Replayer) event(ctx context.Context, typ, id string) (catalog.Event, error) {
	raw, err := r.cfg.Events.GetLastMsgForSubject(ctx, catalog.EventSubject(typ, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return catalog.Event{}, fmt.Errorf("event %q: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return catalog.Event{}, fmt.Errorf("read event %s: %w", id, err)
	}
	return decodeEvent(typ, id, raw.Data, raw.Header, raw.Time)
}

// decodeEvent decodes the event id of type typ stored at stored, from its
// message's data and header.
func decodeEvent(typ, id string, data []byte, header nats.Header, stored time.Time) (catalog.Event, error) {
	var ev catalog.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return catalog.Event{}, fmt.Errorf("read event %s: %w", id, err)
	}
	// The fan-out refused an event whose tenant is not one: so is its
	// replay.
	var err error
	if ev.Tenant, err = catalog.StoredTenant(header.Get(job.HeaderTenant), ev.Tenant); err != nil {
		return catalog.Event{}, fmt.Errorf("event %s: %w", id, err)
	}
	ev.ID, ev.Type = id, typ
	if ev.Timestamp.IsZero() {
		ev.Timestamp = stored.UTC()
	}
	return ev, nil
}

// send publishes the job of ev for ep under a new id and waits for its
// acknowledgement.
func (r *Replayer) send(ctx context.Context, ev catalog.Event, ep catalog.Endpoint) (string, error) {
	msg, err := r.job(ev, ep)
	if err != nil {
		return "", err
	}
	natstrace.Inject(ctx, msg) // the caller's trace goes on in the job
	if _, err := r.cfg.JetStream.PublishMsg(ctx, msg); err != nil {
		return "", fmt.Errorf("publish job %s: %w", msg.Header.Get(nats.MsgIdHdr), err)
	}
	return msg.Header.Get(nats.MsgIdHdr), nil
}

// job returns the message of the job of ev for ep, under a new id.
func (r *Replayer) job(ev catalog.Event, ep catalog.Endpoint) (*nats.Msg, error) {
	j := fanout.NewJob(JobID(ev.ID, ep.ID), ev, ep)
	body, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	if limit := r.cfg.JetStream.Conn().MaxPayload(); int64(len(body)) > limit {
		return nil, fmt.Errorf("job %s too large: %d bytes, the server takes at most %d", j.ID, len(body), limit)
	}
	return &nats.Msg{Subject: r.cfg.JobSubject, Data: body, Header: nats.Header{nats.MsgIdHdr: {j.ID}}}, nil
}

// result is what Recover reads of a result.
type result struct {
	Outcome  string  `json:"outcome"`
	Endpoint *string `json:"endpoint"`
	Event    *struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Channel string `json:"channel"`
	} `json:"event"`
}

// Recover sends again, once each, what endpoint id missed in [since,
// until) (until zero: now), and returns how many it sent: every event
// whose delivery to it ended failed in the window, that no delivered
// result of the same event to the same endpoint has followed and that the
// endpoint's filters still take; and every event stored in the window, and
// after the endpoint was created, that its filters take and that has no
// delivered result for it, whether its delivery failed, is yet to end, or
// was never made because the endpoint was disabled. Results are read from
// since to the last one stored; events from since to until.
func (r *Replayer) Recover(ctx context.Context, id string, since, until time.Time) (int, error) {
	if !catalog.ValidEndpointID(id) {
		return 0, &catalog.InvalidError{Field: "id", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	}
	if since.IsZero() {
		return 0, &catalog.InvalidError{Field: "since", Reason: "is required"}
	}
	if until.IsZero() {
		until = r.cfg.Now()
		if !since.Before(until) {
			return 0, &catalog.InvalidError{Field: "since", Reason: "must be in the past"}
		}
	}
	if !since.Before(until) {
		return 0, &catalog.InvalidError{Field: "until", Reason: "must be after since"}
	}
	ep, err := r.cfg.Catalog.Endpoint(ctx, id)
	if err != nil {
		return 0, err
	}
	info, err := r.cfg.Results.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("result stream: %w", err)
	}
	last := info.State.LastSeq
	type state struct {
		typ            string
		failed, passed uint64 // sequence of the last failed result in the window, of the last delivered one
	}
	events := map[string]*state{}
	var order []string
	err = bus.Scan(ctx, r.cfg.Results, jetstream.ConsumerConfig{
		FilterSubject: r.cfg.ResultSubject, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
	}, func(m jetstream.Msg) bool {
		meta, err := m.Metadata()
		if err != nil || meta.Sequence.Stream > last {
			return false
		}
		var res result
		if json.Unmarshal(m.Data(), &res) != nil || res.Endpoint == nil || *res.Endpoint != id || res.Event == nil {
			return true
		}
		s := events[res.Event.ID]
		if s == nil {
			s = &state{typ: res.Event.Type}
			events[res.Event.ID] = s
			order = append(order, res.Event.ID)
		}
		switch res.Outcome {
		case "failed":
			if meta.Timestamp.Before(until) {
				s.failed = meta.Sequence.Stream
			}
		case "delivered":
			s.passed = meta.Sequence.Stream
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	var missed []catalog.Event
	for _, evID := range order {
		s := events[evID]
		if s.failed == 0 || s.passed > s.failed {
			continue
		}
		ev, err := r.event(ctx, s.typ, evID)
		if errors.Is(err, catalog.ErrNotFound) {
			continue // the event is past the stream's max age
		}
		if err != nil {
			return 0, err
		}
		missed = append(missed, ev)
	}
	unsent, err := r.unsent(ctx, ep, since, until, func(evID string) bool {
		s := events[evID]
		return s != nil && (s.passed > 0 || s.failed > 0) // delivered, or taken above
	})
	if err != nil {
		return 0, err
	}
	missed = append(missed, unsent...)
	// Publish without waiting for each acknowledgement, so that a large
	// recovery fits in one request's time.
	var futures []jetstream.PubAckFuture
	for _, ev := range missed {
		if !ep.Wants(ev.Tenant, ev.Type, ev.Channel) {
			continue // the endpoint's filters have changed since
		}
		msg, err := r.job(ev, ep)
		if err != nil {
			return acked(ctx, futures), err
		}
		natstrace.Inject(ctx, msg)
		fut, err := r.cfg.JetStream.PublishMsgAsync(msg)
		if err != nil {
			return acked(ctx, futures), fmt.Errorf("publish job %s: %w", msg.Header.Get(nats.MsgIdHdr), err)
		}
		futures = append(futures, fut)
	}
	if n := acked(ctx, futures); n < len(futures) {
		return n, fmt.Errorf("recover endpoint %s: %d of %d jobs not stored", id, len(futures)-n, len(futures))
	}
	return len(futures), nil
}

// unsent returns, oldest first, the events stored in [since, until) and
// after endpoint ep was created that its filters take and that skip does
// not report: the events read are those stored when it starts.
func (r *Replayer) unsent(ctx context.Context, ep catalog.Endpoint, since, until time.Time, skip func(id string) bool) ([]catalog.Event, error) {
	from := since
	if ep.CreatedAt.After(from) {
		from = ep.CreatedAt
	}
	if !from.Before(until) {
		return nil, nil
	}
	info, err := r.cfg.Events.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("event stream: %w", err)
	}
	last := info.State.LastSeq
	var out []catalog.Event
	err = bus.Scan(ctx, r.cfg.Events, jetstream.ConsumerConfig{
		FilterSubject: bus.EventSubjects, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &from,
	}, func(m jetstream.Msg) bool {
		meta, err := m.Metadata()
		if err != nil || meta.Sequence.Stream > last || !meta.Timestamp.Before(until) {
			return false
		}
		rest := strings.TrimPrefix(m.Subject(), catalog.EventSubjectPrefix)
		dot := strings.LastIndexByte(rest, '.')
		if dot <= 0 {
			return true
		}
		typ, id := rest[:dot], rest[dot+1:]
		if skip(id) {
			return true
		}
		ev, err := decodeEvent(typ, id, m.Data(), m.Headers(), meta.Timestamp)
		if err != nil {
			return true // the fan-out refused it too
		}
		if ep.Wants(ev.Tenant, ev.Type, ev.Channel) {
			out = append(out, ev)
		}
		return true
	})
	return out, err
}

// acked waits for the futures' acknowledgements and returns how many
// jobs were stored.
func acked(ctx context.Context, futures []jetstream.PubAckFuture) int {
	n := 0
	for _, f := range futures {
		select {
		case <-f.Ok():
			n++
		case <-f.Err():
		case <-ctx.Done():
			return n
		}
	}
	return n
}
