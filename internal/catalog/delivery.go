package catalog

import (
	"context"
	"errors"
	"time"
)

// Deliverable returns endpoint id as a delivery to it must see it: from the
// mirror when it holds the endpoint enabled, else from the bucket, so that
// an endpoint created, or enabled again, a moment ago in another process is
// not taken for deleted or disabled. An endpoint disabled or deleted is
// seen so once the mirror has the change, as the fan-out sees it. A
// deleted endpoint is ErrNotFound.
func (c *Catalog) Deliverable(ctx context.Context, id string) (Endpoint, error) {
	if s, ok := getDecoded(c.endpoints, id, decodeJSON[stored]); ok && !s.Disabled {
		return s.Endpoint, nil
	}
	s, _, err := c.get(ctx, id)
	return s.Endpoint, err
}

// MirroredSigningSecrets is SigningSecrets read from the catalog's mirror of
// the bucket, without a request: the current secret first, then those
// rotated out less than the grace period before now. It reports false when
// the mirror does not hold the endpoint.
func (c *Catalog) MirroredSigningSecrets(id string, now time.Time) ([]string, bool) {
	s, ok := getDecoded(c.endpoints, id, decodeJSON[stored])
	if !ok {
		return nil, false
	}
	return s.signing(now), true
}

// signing returns the secrets a request is signed with at now: the current
// one, then the MaxOldSecrets most recent old ones still in their grace
// period (an endpoint stored before rotations were bounded may hold more).
func (s stored) signing(now time.Time) []string {
	out := []string{s.Secret}
	for _, o := range s.OldSecrets {
		if o.Until.After(now) {
			out = append(out, o.Secret)
		}
	}
	if len(out) > 1+MaxOldSecrets {
		out = append(out[:1], out[len(out)-MaxOldSecrets:]...)
	}
	return out
}

// Failed records that a delivery to endpoint id failed at at, and returns
// since when every delivery to it has failed: at, or the time of the first
// failure after its last success. It writes only when the endpoint was not
// failing already, and then waits until the catalog's mirror has the
// write. The time comes from the mirror when it holds one, and may then
// predate a success recorded a moment before: confirm with FailingSince
// before acting on it. A deleted endpoint is ErrNotFound.
func (c *Catalog) Failed(ctx context.Context, id string, at time.Time) (since time.Time, err error) {
	if s, ok := getDecoded(c.endpoints, id, decodeJSON[stored]); ok && s.FailingSince != nil {
		return *s.FailingSince, nil
	}
	since = at.UTC()
	started := false
	err = c.change(ctx, id, func(s *stored) {
		started = s.FailingSince == nil // the change may be tried again
		if !started {
			since = *s.FailingSince
			return
		}
		s.FailingSince = &since
	})
	if err != nil || !started {
		return since, err
	}
	// A success right after must not read, from a mirror that has not seen
	// this write yet, that the endpoint is not failing (Succeeded would
	// then not end the streak). This is a transition, so the wait is rare.
	return since, c.endpoints.sync(ctx)
}

// Succeeded records that a delivery to endpoint id succeeded: it is no
// longer failing. It writes only when the endpoint was failing, and then
// waits until the catalog's mirror has the write; a deleted endpoint is no
// error. When a failing alert was raised for the streak it ends, it
// publishes the recovered alert.
func (c *Catalog) Succeeded(ctx context.Context, id string) error {
	s, ok := getDecoded(c.endpoints, id, decodeJSON[stored])
	if ok && s.FailingSince == nil {
		return nil
	}
	var recovered *Alert
	at := c.now()
	err := c.change(ctx, id, func(s *stored) {
		recovered = nil // the change may be tried again
		if s.FailingAlerted && s.FailingSince != nil {
			recovered = &Alert{Endpoint: id, Tenant: s.Tenant, Since: *s.FailingSince, At: at, LastError: s.FailingError}
		}
		s.FailingSince, s.FailingAlerted, s.FailingError = nil, false, ""
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if recovered != nil {
		if err := c.publish(RecoveredSubject, *recovered); err != nil {
			return err
		}
	}
	// A failure right after must not read the streak just ended from a
	// mirror that has not seen this write yet (Failed would then not start
	// a new one). This is a transition, so the wait is rare.
	return c.endpoints.sync(ctx)
}

// FailingSince returns, read from the bucket, since when every delivery to
// endpoint id has failed; false when the last one succeeded. A deleted
// endpoint is ErrNotFound.
func (c *Catalog) FailingSince(ctx context.Context, id string) (time.Time, bool, error) {
	s, _, err := c.get(ctx, id)
	if err != nil || s.FailingSince == nil {
		return time.Time{}, false, err
	}
	return *s.FailingSince, true, nil
}
