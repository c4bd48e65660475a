package fanout

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// TestEventsReachTheirTenantsEndpoints: an event of a tenant, named by the
// Hooks-Tenant header of a raw publish or by the body as events.send
// stores it, makes jobs for that tenant's endpoints only, each carrying the
// tenant; an event without a tenant makes jobs for the endpoints without
// one only. An event of an unknown tenant gets a rejected result naming it
// and makes no job; so does one whose header and body name different
// tenants, or whose tenant is not a tenant id (their results name none).
func TestEventsReachTheirTenantsEndpoints(t *testing.T) {
	srv := bustest.Server(t)
	p := startProc(t, srv, 0)
	ctx := context.Background()
	for _, id := range []string{"acme", "globex"} {
		if _, err := p.cat.PutTenant(ctx, catalog.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	setupCatalog(t, p.cat,
		catalog.Endpoint{ID: "ep_acme", URL: "https://a.example.com/hook", Tenant: "acme"},
		catalog.Endpoint{ID: "ep_globex", URL: "https://g.example.com/hook", Tenant: "globex"},
		catalog.Endpoint{ID: "ep_own", URL: "https://o.example.com/hook"},
	)
	nc, js := bustest.Connect(t, srv.ClientURL())
	results, err := nc.SubscribeSync("hooks.result")
	if err != nil {
		t.Fatal(err)
	}
	p.run(t)
	publish := func(id, tenantHeader, body string) {
		t.Helper()
		msg := &nats.Msg{Subject: catalog.EventSubject("order.created", id), Data: []byte(body), Header: nats.Header{}}
		if tenantHeader != "" {
			msg.Header.Set(job.HeaderTenant, tenantHeader)
		}
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	publish("evt_acme", "acme", `{"payload":{"order":1}}`)
	publish("evt_globex", "globex", `{"tenant":"globex","payload":{"order":2}}`)
	publish("evt_own", "", `{"payload":{"order":3}}`)
	publish("evt_body", "", `{"tenant":"acme","payload":{"order":4}}`)

	got := jobs(t, js, 4)
	want := map[string]string{"evt_acme:ep_acme": "acme", "evt_globex:ep_globex": "globex", "evt_own:ep_own": "", "evt_body:ep_acme": "acme"}
	for _, j := range got {
		tenant, ok := want[j.ID]
		if !ok || j.Tenant != tenant {
			t.Errorf("job %s with tenant %q; want the jobs %v", j.ID, j.Tenant, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, tt := range []struct{ name, id, header, body, tenant, error string }{
		{"unknown tenant", "evt_unknown", "initech", `{"payload":{"order":5}}`, "initech", `tenant "initech" does not exist`},
		{"header and body differ", "evt_differ", "acme", `{"tenant":"globex","payload":{"order":6}}`, "", "tenant: differs"},
		{"bad tenant id", "evt_bad", "a.b", `{"payload":{"order":7}}`, "", "tenant: must be"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			publish(tt.id, tt.header, tt.body)
			m, err := results.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var r job.Result
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatal(err)
			}
			if r.ID != tt.id || r.Outcome != job.Rejected || r.Tenant != tt.tenant || !strings.Contains(r.Error, tt.error) {
				t.Fatalf("result %s, want %s rejected with tenant %q saying %q", m.Data, tt.id, tt.tenant, tt.error)
			}
		})
	}
	settled(t, js)
	if got := jobs(t, js, 4); !slices.Equal(ids(got), []string{"evt_acme:ep_acme", "evt_body:ep_acme", "evt_globex:ep_globex", "evt_own:ep_own"}) {
		t.Fatalf("jobs %v", ids(got))
	}
}
