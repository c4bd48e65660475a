package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The early warning of an endpoint whose deliveries all fail: an alert on
// FailingSubject once a failing streak is old enough, once per streak, and
// one on RecoveredSubject when a delivery ends the streak an alert was
// raised for. The streak's state lives on the stored endpoint, and every
// change to it is a compare-and-set: of many workers, only the one whose
// write raises or ends the alert publishes it.

// Subjects of the endpoint alerts.
const (
	// FailingSubject is where an Alert goes when every delivery to an
	// endpoint has failed for the alert period.
	FailingSubject = "hooks.ops.endpoint.failing"
	// RecoveredSubject is where an Alert goes when a delivery succeeds
	// again after a failing alert.
	RecoveredSubject = "hooks.ops.endpoint.recovered"
)

// Alert is the operational event of an endpoint failing, or recovered.
type Alert struct {
	// Endpoint is the endpoint's id; Tenant its tenant (empty for none).
	Endpoint string `json:"endpoint"`
	Tenant   string `json:"tenant,omitempty"`
	// Since is when the failing streak began: the first failure after the
	// last success.
	Since time.Time `json:"since"`
	// At is when the alert was raised: the failure that made the streak
	// old enough, or the success that ended it.
	At time.Time `json:"at"`
	// LastError is the error of the failure that raised the failing alert.
	LastError string `json:"last_error"`
}

// errUnchanged aborts an update that has nothing to write.
var errUnchanged = errors.New("unchanged")

// AlertFailing raises the failing alert of endpoint id when every delivery
// to it has failed for at least after by at, and the alert is not raised
// already for this streak; lastErr is the failure's error. It reports
// whether it raised it (and published it, when the catalog has a
// connection). A deleted endpoint is ErrNotFound.
func (c *Catalog) AlertFailing(ctx context.Context, id string, after time.Duration, at time.Time, lastErr string) (bool, error) {
	// The mirror spares a write once the alert is raised, or while the
	// streak is young; one that has not seen the streak yet does not.
	if s, ok := getDecoded(c.endpoints, id, decodeJSON[stored]); ok && s.FailingSince != nil && (s.FailingAlerted || at.Sub(*s.FailingSince) < after) {
		return false, nil
	}
	var a Alert
	err := update(ctx, c.cfg.Endpoints, id, func(cur []byte) ([]byte, error) {
		if cur == nil {
			return nil, notFound("endpoint", id)
		}
		s, err := decodeJSON[stored](cur)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", id, err)
		}
		if s.FailingSince == nil || s.FailingAlerted || at.Sub(*s.FailingSince) < after {
			return nil, errUnchanged
		}
		s.FailingAlerted, s.FailingError = true, lastErr
		a = Alert{Endpoint: id, Tenant: s.Tenant, Since: *s.FailingSince, At: at.UTC(), LastError: lastErr}
		return json.Marshal(s)
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, c.publish(FailingSubject, a)
}

// publish sends an operational event on subject, when the catalog has a
// connection.
func (c *Catalog) publish(subject string, v any) error {
	if c.cfg.Conn == nil {
		return nil
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := c.cfg.Conn.Publish(subject, body); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}
