package endpoint_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// TestProducerCannotNameAnEndpoint: a job on the producers' subject that
// names an endpoint and an event (to have a body of its choice signed with
// the endpoint's secret and sent where it likes) is rejected with nothing
// sent; so is one that names only a tenant; a job on the fan-out's subject
// that names no endpoint is rejected too.
// The same job on the fan-out's subject (the control) is delivered, signed
// with the endpoint's secret, to the endpoint's own URL and not to the URL
// the job gives.
func TestProducerCannotNameAnEndpoint(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "a.b")
	real, attacker := w.receiver(t, nil), w.receiver(t, nil)
	ep := w.putEndpoint(t, catalog.Endpoint{URL: real.URL}, "")
	forged := func(id string) map[string]any {
		return map[string]any{"id": id, "url": attacker.URL, "payload": map[string]any{"forged": true},
			"endpoint": ep.ID, "event": map[string]any{"id": "evt_f", "type": "a.b"}}
	}
	w.publishJobOn(t, topo.Subject, forged("evt_f:"+ep.ID))
	w.publishJobOn(t, bus.EndpointSubject(topo.Subject), map[string]any{"id": "plain-on-fanout", "url": attacker.URL, "payload": map[string]any{}})
	// Naming a tenant alone is naming too, on either subject.
	w.publishJobOn(t, topo.Subject, map[string]any{"id": "tenant-on-producers", "url": attacker.URL, "payload": map[string]any{}, "tenant": "acme"})
	w.publishJobOn(t, bus.EndpointSubject(topo.Subject), map[string]any{"id": "tenant-on-fanout", "url": attacker.URL, "payload": map[string]any{}, "tenant": "acme"})

	r := w.result(t, "evt_f:"+ep.ID)
	if r.Outcome != job.Rejected || !strings.Contains(r.Error, "may name an endpoint") || r.Endpoint != ep.ID {
		t.Errorf("producer's job naming an endpoint: %s %q (endpoint %q), want rejected naming the endpoint", r.Outcome, r.Error, r.Endpoint)
	}
	if r := w.result(t, "plain-on-fanout"); r.Outcome != job.Rejected || !strings.Contains(r.Error, "must name its endpoint") {
		t.Errorf("plain job on the fan-out's subject: %s %q, want rejected", r.Outcome, r.Error)
	}
	if r := w.result(t, "tenant-on-producers"); r.Outcome != job.Rejected || !strings.Contains(r.Error, "or a tenant") || r.Tenant != "acme" {
		t.Errorf("producer's job naming a tenant: %s %q (tenant %q), want rejected naming the tenant", r.Outcome, r.Error, r.Tenant)
	}
	if r := w.result(t, "tenant-on-fanout"); r.Outcome != job.Rejected || !strings.Contains(r.Error, "must name its endpoint") {
		t.Errorf("job naming only a tenant on the fan-out's subject: %s %q, want rejected", r.Outcome, r.Error)
	}

	// The control: the fan-out's subject takes it, and it goes to the
	// endpoint's URL.
	w.publishJobOn(t, bus.EndpointSubject(topo.Subject), forged("evt_g:"+ep.ID))
	if r := w.result(t, "evt_g:"+ep.ID); r.Outcome != job.Delivered {
		t.Fatalf("the job on the fan-out's subject: %s %q, want delivered", r.Outcome, r.Error)
	}
	if n := len(attacker.requests()); n != 0 {
		t.Errorf("the URL in the job got %d requests, want none", n)
	}
	reqs := real.requests()
	if len(reqs) != 1 || !verifies(t, w.secret(t, ep.ID), reqs[0]) {
		t.Fatalf("the endpoint got %d requests, want 1 signed with its secret", len(reqs))
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0].body, &body); err != nil || body["forged"] != true {
		t.Fatalf("body %s", reqs[0].body)
	}
}
