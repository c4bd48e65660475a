package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// TestResendAcrossTenants: an event is resent only to an endpoint of its
// own tenant (or, without one, to an endpoint without one); any other is a
// bad request naming the endpoint, and publishes nothing. The tenant of an
// event published straight with a Hooks-Tenant header is read from the
// header, and the job carries it.
func TestResendAcrossTenants(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	for _, id := range []string{"acme", "globex"} {
		if _, err := e.cat.PutTenant(ctx, catalog.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for id, tenant := range map[string]string{"ep_acme": "acme", "ep_globex": "globex"} {
		if _, err := e.cat.PutEndpoint(ctx, catalog.Endpoint{ID: id, URL: "https://" + id + ".example.com/hook", Tenant: tenant}, ""); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	// Stored as events.send stores it, tenant in the body and the header.
	body, _ := json.Marshal(catalog.Event{ID: "evt_acme", Type: "order.created", Tenant: "acme", Timestamp: at, Payload: json.RawMessage(`{}`)})
	e.publish(t, "evt_acme", "acme", body)
	// Published straight, the tenant in the header only.
	e.publish(t, "evt_raw", "acme", []byte(`{"payload":{}}`))
	e.storeEvent(t, catalog.Event{ID: "evt_own", Type: "order.created", Timestamp: at, Payload: json.RawMessage(`{}`)})

	for _, tt := range []struct{ name, event, endpoint string }{
		{"another tenant's endpoint", "evt_acme", "ep_globex"},
		{"the operator's endpoint", "evt_acme", "ep_a"},
		{"a tenant's endpoint for the operator's event", "evt_own", "ep_acme"},
		{"another tenant's endpoint, header only", "evt_raw", "ep_globex"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.r.Resend(ctx, tt.event, tt.endpoint)
			var ie *catalog.InvalidError
			if !errors.As(err, &ie) || ie.Field != "endpoint" || !strings.Contains(ie.Reason, "tenant") {
				t.Fatalf("Resend(%s, %s) = %v, want a bad request naming the endpoint and the tenants", tt.event, tt.endpoint, err)
			}
		})
	}
	if jobs, _ := e.published(t); len(jobs) != 0 {
		t.Fatalf("refused resends published %d jobs", len(jobs))
	}
	// The controls: each to an endpoint of its own tenant.
	for _, c := range []struct{ event, endpoint string }{{"evt_acme", "ep_acme"}, {"evt_raw", "ep_acme"}, {"evt_own", "ep_a"}} {
		if _, err := e.r.Resend(ctx, c.event, c.endpoint); err != nil {
			t.Fatalf("Resend(%s, %s): %v", c.event, c.endpoint, err)
		}
	}
	jobs, _ := e.published(t)
	want := []string{"acme", "acme", ""}
	if len(jobs) != len(want) {
		t.Fatalf("published %d jobs, want %d", len(jobs), len(want))
	}
	for i, j := range jobs {
		if j.Tenant != want[i] {
			t.Errorf("job %s carries tenant %q, want %q", j.ID, j.Tenant, want[i])
		}
	}
}

// publish stores an event of type order.created with id, its tenant in the
// Hooks-Tenant header.
func (e env) publish(t *testing.T, id, tenant string, body []byte) {
	t.Helper()
	msg := &nats.Msg{Subject: catalog.EventSubject("order.created", id), Data: body, Header: nats.Header{job.HeaderTenant: {tenant}}}
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}
