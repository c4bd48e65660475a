package api

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/catalog"
)

// WatchBuffer is how many records a watch holds for a reader that has not
// taken them yet; past it, new records are dropped for that reader.
const WatchBuffer = 256

// Watch returns the attempt records stored from now on that the caller
// may see, of endpoint alone when it is not "": every record for the
// operator, the records of its own events for a tenant (one that names
// another tenant's endpoint sees none, as one naming no endpoint that
// exists). The channel closes when ctx ends. A reader that falls behind by
// more than WatchBuffer records misses the newest; the delivery log keeps
// them all for attempts.list.
//
// It reads the records as they are published, on the attempt subjects,
// and is authorised as the operation "attempts.watch", which a tenant may
// call.
func (s *Service) Watch(ctx context.Context, endpoint string) (<-chan attempt.Record, error) {
	if err := permit(ctx, "attempts.watch"); err != nil {
		return nil, err
	}
	if endpoint != "" && !catalog.ValidEndpointID(endpoint) {
		return nil, &catalog.InvalidError{Field: "endpoint", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	}
	subject := attempt.SubjectPrefix + "*.>"
	if endpoint != "" {
		subject = attempt.SubjectPrefix + endpoint + ".>"
	}
	p := principal(ctx)
	out := make(chan attempt.Record, WatchBuffer)
	var mu sync.Mutex // held by a send, and by the close
	closed := false
	nc := s.cfg.JetStream.Conn()
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		var r attempt.Record
		if json.Unmarshal(m.Data, &r) != nil {
			return
		}
		if endpoint != "" && (r.Endpoint == nil || *r.Endpoint != endpoint) {
			return // "_" stands for no endpoint in a subject
		}
		tenant := ""
		if r.Tenant != nil {
			tenant = *r.Tenant
		}
		if !p.Allows(tenant) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return
		}
		select {
		case out <- r:
		default: // the reader is behind: drop
		}
	})
	if err != nil {
		return nil, fmt.Errorf("watch attempts: %w", err)
	}
	if err := nc.FlushTimeout(s.cfg.Timeout); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("watch attempts: %w", err)
	}
	go func() {
		<-ctx.Done()
		_ = sub.Unsubscribe()
		mu.Lock()
		closed = true
		close(out)
		mu.Unlock()
	}()
	return out, nil
}
