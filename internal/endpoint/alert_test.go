package endpoint_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
)

// TestFailingAndRecoveredAlerts: when every delivery to an endpoint has
// failed for the alert period, hooks.ops.endpoint.failing is published
// once for the streak, and hooks.ops.endpoint.recovered once when a
// delivery succeeds again; a new streak raises a new alert.
func TestFailingAndRecoveredAlerts(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(int64(0))
	now := func() time.Time { return t0.Add(time.Duration(clock.Load())) }
	w := start(t, options{alertAfter: time.Hour, now: now})
	var mu sync.Mutex
	alerts := map[string][]catalog.Alert{}
	for _, subject := range []string{catalog.FailingSubject, catalog.RecoveredSubject} {
		if _, err := w.nc.Subscribe(subject, func(m *nats.Msg) {
			var a catalog.Alert
			if err := json.Unmarshal(m.Data, &a); err != nil {
				t.Errorf("%s: %s: %v", subject, m.Data, err)
			}
			mu.Lock()
			alerts[subject] = append(alerts[subject], a)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(subject string) int {
		mu.Lock()
		defer mu.Unlock()
		return len(alerts[subject])
	}
	waitAlerts := func(subject string, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count(subject) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d alerts on %s, want %d", count(subject), subject, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var failing atomic.Bool
	rc := w.receiver(t, func(int) int {
		if failing.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	w.putType(t, "a.b")
	ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL}, "")
	n := 0
	deliver := func(at time.Duration) {
		t.Helper()
		clock.Store(int64(at))
		n++
		id := fmt.Sprintf("evt_%d", n)
		w.send(t, catalog.Event{ID: id, Type: "a.b", Payload: json.RawMessage(`{}`)})
		w.result(t, fanout.JobID(id, ep.ID))
	}

	failing.Store(true)
	deliver(0)
	deliver(30 * time.Minute)
	if c := count(catalog.FailingSubject); c != 0 {
		t.Fatalf("%d failing alerts after 30 minutes, want none", c)
	}
	deliver(61 * time.Minute)
	waitAlerts(catalog.FailingSubject, 1)
	deliver(2 * time.Hour) // still failing: no second alert
	failing.Store(false)
	deliver(3 * time.Hour)
	waitAlerts(catalog.RecoveredSubject, 1)
	deliver(4 * time.Hour) // still fine: nothing more
	// A new streak is a new episode.
	failing.Store(true)
	deliver(5 * time.Hour)
	deliver(7 * time.Hour)
	waitAlerts(catalog.FailingSubject, 2)
	failing.Store(false)
	deliver(8 * time.Hour)
	waitAlerts(catalog.RecoveredSubject, 2)

	mu.Lock()
	defer mu.Unlock()
	if f, r := len(alerts[catalog.FailingSubject]), len(alerts[catalog.RecoveredSubject]); f != 2 || r != 2 {
		t.Fatalf("%d failing and %d recovered alerts, want 2 of each: %+v", f, r, alerts)
	}
	first := alerts[catalog.FailingSubject][0]
	if first.Endpoint != ep.ID || !first.Since.Equal(t0) || !first.At.Equal(t0.Add(61*time.Minute)) || first.LastError != "status 503 Service Unavailable" {
		t.Errorf("failing alert %+v", first)
	}
	back := alerts[catalog.RecoveredSubject][0]
	if back.Endpoint != ep.ID || !back.Since.Equal(t0) || back.At.IsZero() || back.LastError != "status 503 Service Unavailable" {
		t.Errorf("recovered alert %+v", back)
	}
	if second := alerts[catalog.FailingSubject][1]; !second.Since.Equal(t0.Add(5 * time.Hour)) {
		t.Errorf("second failing alert %+v, want its streak from 5h", second)
	}
}
