package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/job"
)

// Sent is the reply of events.send.
type Sent struct {
	// ID is the event's id.
	ID string `json:"id"`
	// Timestamp is when the event (its first copy) was sent.
	Timestamp time.Time `json:"timestamp"`
	// Endpoints is how many endpoints it goes to.
	Endpoints int `json:"endpoints"`
	// Duplicate is true when an event with this id was sent before: this
	// copy was dropped, whatever its type, channel or payload, and the
	// reply is the first copy's.
	Duplicate bool `json:"duplicate,omitempty"`
}

func (s *Service) sendEvent(ctx context.Context, data []byte) (any, error) {
	var req struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Channel string          `json:"channel"`
		Payload json.RawMessage `json:"payload"`
		Tenant  string          `json:"tenant"`
	}
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if req.ID == "" {
		req.ID = "evt_" + nuid.Next()
	} else if !catalog.ValidEventID(req.ID) {
		return nil, &catalog.InvalidError{Field: "id", Reason: "must be 1 to 64 of A-Za-z0-9_-"}
	}
	if req.Channel != "" && !catalog.ValidChannel(req.Channel) {
		return nil, &catalog.InvalidError{Field: "channel", Reason: "must be 1 to 128 of A-Za-z0-9_.:-"}
	}
	if req.Tenant != "" {
		if err := s.cfg.Catalog.CheckTenant(ctx, "tenant", req.Tenant); err != nil {
			return nil, err
		}
	}
	if err := s.cfg.Catalog.CheckEvent(ctx, req.Type, req.Payload); err != nil {
		return nil, err
	}
	ev := catalog.Event{ID: req.ID, Type: req.Type, Channel: req.Channel, Tenant: req.Tenant, Timestamp: time.Now().UTC(), Payload: req.Payload}
	stored, dup, err := s.store(ctx, ev)
	if err != nil {
		return nil, err
	}
	eps, err := s.cfg.Catalog.Matching(ctx, stored.Tenant, stored.Type, stored.Channel)
	if err != nil {
		return nil, err
	}
	return Sent{ID: stored.ID, Timestamp: stored.Timestamp, Endpoints: len(eps), Duplicate: dup}, nil
}

// store publishes ev on the event stream, once: a repeat of its id within
// the duplicate window, or on its subject at any time, stores nothing and
// returns the first copy, and true.
func (s *Service) store(ctx context.Context, ev catalog.Event) (catalog.Event, bool, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, ev.Payload); err != nil {
		return catalog.Event{}, false, &catalog.InvalidError{Field: "payload", Reason: "must be JSON"}
	}
	ev.Payload = buf.Bytes()
	body, err := json.Marshal(ev)
	if err != nil {
		return catalog.Event{}, false, err
	}
	if limit := s.cfg.JetStream.Conn().MaxPayload(); int64(len(body)) > limit-jobHeadroom {
		return catalog.Event{}, false, &catalog.InvalidError{Field: "payload",
			Reason: fmt.Sprintf("too large: the event takes %d bytes, at most %d", len(body), limit-jobHeadroom)}
	}
	subject := catalog.EventSubject(ev.Type, ev.ID)
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	if ev.Tenant != "" {
		msg.Header.Set(job.HeaderTenant, ev.Tenant)
	}
	natstrace.Inject(ctx, msg)
	ack, err := s.cfg.JetStream.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID), jetstream.WithExpectLastSequencePerSubject(0))
	var api *jetstream.APIError
	var first catalog.Event
	switch {
	case err == nil && !ack.Duplicate:
		return ev, false, nil
	case err == nil:
		first, err = s.stored(ctx, func() (*jetstream.RawStreamMsg, error) { return s.cfg.Events.GetMsg(ctx, ack.Sequence) })
	case errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		first, err = s.stored(ctx, func() (*jetstream.RawStreamMsg, error) { return s.cfg.Events.GetLastMsgForSubject(ctx, subject) })
	default:
		return catalog.Event{}, false, fmt.Errorf("store event %s: %w", ev.ID, err)
	}
	return first, err == nil, err
}

// jobHeadroom is what an event leaves of the server's max payload for what
// its jobs add around it (URL, headers, ids).
const jobHeadroom = 16 << 10

// stored reads the first copy of an event.
func (s *Service) stored(ctx context.Context, get func() (*jetstream.RawStreamMsg, error)) (catalog.Event, error) {
	raw, err := get()
	if err != nil {
		return catalog.Event{}, fmt.Errorf("read stored event: %w", err)
	}
	var ev catalog.Event
	if err := json.Unmarshal(raw.Data, &ev); err != nil {
		return catalog.Event{}, fmt.Errorf("read stored event: %w", err)
	}
	if ev.Tenant, err = catalog.StoredTenant(raw.Header.Get(job.HeaderTenant), ev.Tenant); err != nil {
		return catalog.Event{}, fmt.Errorf("read stored event: %w", err)
	}
	return ev, nil
}
