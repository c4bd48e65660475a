package endpoint_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// TestTenantsOverTheAPI runs tenants through the NATS API and a real
// worker: an event sent for a tenant reaches that tenant's matching
// endpoints only, one sent without a tenant the operator's own only, and a
// raw publish names its tenant in a Hooks-Tenant header; results and
// attempt records carry the tenant; a resend across tenants, an unknown
// tenant and a change of an endpoint's tenant are bad requests; listings
// filter by tenant; deleting a tenant deletes its endpoints and leaves the
// delivery log.
func TestTenantsOverTheAPI(t *testing.T) {
	t.Parallel()
	w := start(t, options{api: true})
	ctx := context.Background()
	c := w.api
	for _, name := range []string{"order.created", "order.paid"} {
		if _, err := c.PutEventType(ctx, client.EventType{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"acme", "globex"} {
		if _, err := c.PutTenant(ctx, client.Tenant{ID: id, Name: id + " Inc."}); err != nil {
			t.Fatal(err)
		}
	}
	rAcme, rAcmePaid, rGlobex, rOwn := w.receiver(t, nil), w.receiver(t, nil), w.receiver(t, nil), w.receiver(t, nil)
	put := func(e client.Endpoint) client.Endpoint {
		t.Helper()
		out, err := c.PutEndpoint(ctx, e, "")
		if err != nil {
			t.Fatalf("put endpoint %s: %v", e.ID, err)
		}
		return out
	}
	epAcme := put(client.Endpoint{ID: "ep_acme", URL: rAcme.URL, Tenant: "acme", EventTypes: []string{"order.created"}})
	put(client.Endpoint{ID: "ep_acme_paid", URL: rAcmePaid.URL, Tenant: "acme", EventTypes: []string{"order.paid"}})
	epGlobex := put(client.Endpoint{ID: "ep_globex", URL: rGlobex.URL, Tenant: "globex"})
	epOwn := put(client.Endpoint{ID: "ep_own", URL: rOwn.URL})

	// Bad requests change nothing.
	badRequest := func(what string, err error, field string) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code != 400 || ce.Field != field {
			t.Errorf("%s: %v, want a 400 naming %s", what, err, field)
		}
	}
	_, err := c.SendEvent(ctx, client.Event{Type: "order.created", Tenant: "initech", Payload: json.RawMessage(`{}`)})
	badRequest("an event of an unknown tenant", err, "tenant")
	_, err = c.PutEndpoint(ctx, client.Endpoint{URL: rAcme.URL + "/x", Tenant: "initech"}, "")
	badRequest("an endpoint of an unknown tenant", err, "tenant")
	_, err = c.PutEndpoint(ctx, client.Endpoint{ID: epAcme.ID, URL: epAcme.URL, Tenant: "globex"}, "")
	badRequest("an endpoint moved to another tenant", err, "tenant")
	_, err = c.PutEndpoint(ctx, client.Endpoint{ID: epAcme.ID, URL: epAcme.URL}, "")
	badRequest("an endpoint's tenant removed", err, "tenant")
	if got, err := c.Endpoint(ctx, epAcme.ID); err != nil || got.Tenant != "acme" || !slices.Equal(got.EventTypes, []string{"order.created"}) {
		t.Fatalf("after refused puts: %+v (%v)", got, err)
	}

	// Events reach their tenant's matching endpoints, or the operator's.
	sends := []struct {
		id, tenant string
		endpoints  int
	}{{"evt_acme", "acme", 1}, {"evt_globex", "globex", 1}, {"evt_own", "", 1}}
	for _, s := range sends {
		sent, err := c.SendEvent(ctx, client.Event{ID: s.id, Type: "order.created", Tenant: s.tenant, Payload: json.RawMessage(`{"n":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		if sent.Endpoints != s.endpoints {
			t.Errorf("event %s goes to %d endpoints, want %d", s.id, sent.Endpoints, s.endpoints)
		}
	}
	// A producer publishing straight names the tenant in a header.
	raw := func(id, tenant string) {
		t.Helper()
		msg := &nats.Msg{Subject: catalog.EventSubject("order.created", id), Data: []byte(`{"payload":{"n":2}}`),
			Header: nats.Header{job.HeaderTenant: {tenant}}}
		if _, err := w.js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	raw("evt_raw", "globex")
	raw("evt_unknown", "initech")

	want := map[string]string{ // job id: tenant
		"evt_acme:" + epAcme.ID: "acme", "evt_globex:" + epGlobex.ID: "globex",
		"evt_own:" + epOwn.ID: "", "evt_raw:" + epGlobex.ID: "globex",
	}
	for id, tenant := range want {
		if r := w.result(t, id); r.Outcome != job.Delivered || r.Tenant != tenant {
			t.Errorf("result %s: %s, tenant %q; want delivered, tenant %q", id, r.Outcome, r.Tenant, tenant)
		}
	}
	if r := w.result(t, "evt_unknown"); r.Outcome != job.Rejected || r.Tenant != "initech" {
		t.Errorf("raw event of an unknown tenant: %s, tenant %q; want rejected naming initech", r.Outcome, r.Tenant)
	}
	webhookIDs := func(rc *receiver) []string {
		var ids []string
		for _, r := range rc.requests() {
			ids = append(ids, r.header.Get("webhook-id"))
		}
		slices.Sort(ids)
		return ids
	}
	for _, rc := range []struct {
		name string
		r    *receiver
		want []string
	}{
		{"acme's", rAcme, []string{"evt_acme"}},
		{"acme's for order.paid", rAcmePaid, nil},
		{"globex's", rGlobex, []string{"evt_globex", "evt_raw"}},
		{"the operator's", rOwn, []string{"evt_own"}},
	} {
		if got := webhookIDs(rc.r); !slices.Equal(got, rc.want) {
			t.Errorf("%s endpoint received %v, want %v", rc.name, got, rc.want)
		}
	}

	// The delivery log: records carry the tenant, null for none, and
	// filter by it.
	var globexLog, allLog []client.Attempt
	deadline := time.Now().Add(10 * time.Second)
	for {
		allLog = attempts(t, c, client.AttemptQuery{})
		if len(allLog) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	globexLog = attempts(t, c, client.AttemptQuery{Tenant: "globex"})
	if len(allLog) != 4 {
		t.Fatalf("the log holds %d records, want 4", len(allLog))
	}
	if len(globexLog) != 2 {
		t.Errorf("the log of globex holds %d records, want 2", len(globexLog))
	}
	for _, a := range globexLog {
		if a.Tenant != "globex" || a.Endpoint != epGlobex.ID {
			t.Errorf("globex's record %+v", a)
		}
	}
	for _, a := range allLog {
		if wantTenant := want[a.JobID]; a.Tenant != wantTenant {
			t.Errorf("record of %s carries tenant %q, want %q", a.JobID, a.Tenant, wantTenant)
		}
		if a.Endpoint == epOwn.ID {
			if b, _ := json.Marshal(a); !json.Valid(b) || !containsNullTenant(b) {
				t.Errorf("the operator's record %s, want tenant null", b)
			}
		}
	}

	// A resend across tenants is a bad request; within one it is sent.
	_, err = c.Resend(ctx, "evt_acme", epGlobex.ID)
	badRequest("a resend of acme's event to globex's endpoint", err, "endpoint")
	_, err = c.Resend(ctx, "evt_own", epAcme.ID)
	badRequest("a resend of the operator's event to acme's endpoint", err, "endpoint")
	_, err = c.Resend(ctx, "evt_acme", epOwn.ID)
	badRequest("a resend of acme's event to the operator's endpoint", err, "endpoint")
	jobID, err := c.Resend(ctx, "evt_acme", epAcme.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r := w.result(t, jobID); r.Outcome != job.Delivered || r.Tenant != "acme" {
		t.Errorf("resend: %s, tenant %q; want delivered, tenant acme", r.Outcome, r.Tenant)
	}

	// Listings filter by tenant; recover takes it as a filter too.
	page, err := c.Endpoints(ctx, client.EndpointQuery{Tenant: "acme", Order: "asc"})
	if err != nil || !slices.Equal(endpointIDs(page.Endpoints), []string{"ep_acme", "ep_acme_paid"}) {
		t.Errorf("acme's endpoints: %v (%v)", endpointIDs(page.Endpoints), err)
	}
	if _, err := c.RecoverTenant(ctx, "globex", epAcme.ID, time.Now().Add(-time.Hour), time.Time{}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("recover of acme's endpoint as globex's: %v, want not found", err)
	}
	if _, err := c.RecoverTenant(ctx, "acme", epAcme.ID, time.Now().Add(-time.Hour), time.Time{}); err != nil {
		t.Errorf("recover of acme's endpoint as acme's: %v", err)
	}

	// Deleting a tenant deletes its endpoints, and leaves its log.
	if err := c.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ep_acme", "ep_acme_paid"} {
		if _, err := c.Endpoint(ctx, id); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("endpoint %s of the deleted tenant: %v, want not found", id, err)
		}
	}
	if _, err := c.Endpoint(ctx, epGlobex.ID); err != nil {
		t.Errorf("globex's endpoint after acme's deletion: %v", err)
	}
	if _, err := c.Tenant(ctx, "acme"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("deleted tenant: %v, want not found", err)
	}
	if got := attempts(t, c, client.AttemptQuery{Tenant: "acme"}); len(got) == 0 {
		t.Error("the deleted tenant's records are gone, want them kept")
	}
}

// attempts lists every record q selects.
func attempts(t *testing.T, c *client.Client, q client.AttemptQuery) []client.Attempt {
	t.Helper()
	var out []client.Attempt
	for a, err := range c.AllAttempts(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func endpointIDs(eps []client.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.ID)
	}
	return out
}

// containsNullTenant reports whether the JSON object b has "tenant": null.
func containsNullTenant(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && string(m["tenant"]) == "null"
}

// TestEventJobGoesToItsTenantsEndpointOnly: a job of a tenant's event
// whose endpoint now belongs to another tenant, or to none (deleted and
// made again with the same id since the fan-out), ends failed with nothing
// sent; the same job of the endpoint's own tenant (the control) is
// delivered.
func TestEventJobGoesToItsTenantsEndpointOnly(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "a.b")
	if _, err := w.cat.PutTenant(context.Background(), catalog.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	rc := w.receiver(t, nil)
	ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL}, "")
	eventJob := func(id, tenant string) map[string]any {
		j := map[string]any{"id": id, "url": rc.URL, "payload": map[string]any{},
			"endpoint": ep.ID, "event": map[string]any{"id": "evt_t", "type": "a.b"}}
		if tenant != "" {
			j["tenant"] = tenant
		}
		return j
	}
	w.publishJob(t, eventJob("acme-job", "acme"))
	if r := w.result(t, "acme-job"); r.Outcome != job.Failed || r.Attempts != 0 || r.Tenant != "acme" ||
		!strings.Contains(r.Error, "another tenant") {
		t.Errorf("acme's job to the operator's endpoint: %s after %d attempts, tenant %q, %q; want failed, nothing sent",
			r.Outcome, r.Attempts, r.Tenant, r.Error)
	}
	w.publishJob(t, eventJob("own-job", ""))
	if r := w.result(t, "own-job"); r.Outcome != job.Delivered {
		t.Fatalf("the operator's job: %s %q, want delivered", r.Outcome, r.Error)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("the endpoint got %d requests, want the operator's job's alone", n)
	}
}
