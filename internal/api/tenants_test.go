package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
	"github.com/hookworker/hookworker/job"
)

// minter is a Minter that names the tenant and the ttl in its tokens.
type minter struct{ at time.Time }

func (m minter) Mint(tenant string, ttl time.Duration) (string, time.Time, error) {
	if ttl == 0 {
		ttl = time.Hour
	}
	if ttl > 24*time.Hour {
		return "", time.Time{}, &catalog.InvalidError{Field: "ttl", Reason: "at most 24h"}
	}
	return fmt.Sprintf("token-of-%s-for-%s", tenant, ttl), m.at.Add(ttl), nil
}

// startTenants runs the API with the tenant bucket and, when tokens, a
// minter (else a nil *auth.Tokens, as a worker without a token secret
// has), and returns a client of it and the event topology.
func startTenants(t *testing.T, tokens bool) (*client.Client, bus.EventsBound) {
	t.Helper()
	ctx, b, eb := catalogtest.Start(t)
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants, Conn: b.Conn()})
	if err != nil {
		t.Fatal(err)
	}
	var none *auth.Tokens
	cfg := api.Config{Catalog: cat, JetStream: b.JetStream(), Events: eb.Events, Tokens: none}
	if tokens {
		cfg.Tokens = minter{at: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	}
	svc, err := api.Start(b.Conn(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	nc, _ := bustest.Connect(t, b.Conn().ConnectedUrl())
	return client.New(nc, client.WithTimeout(2*time.Second)), eb
}

func TestTenantsPutGetListDelete(t *testing.T) {
	c, _ := startTenants(t, false)
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		tn    client.Tenant
		field string
	}{
		{"bad id", client.Tenant{ID: "a.b"}, "id"},
		{"long name", client.Tenant{ID: "x", Name: strings.Repeat("n", 257)}, "name"},
		{"metadata not an object", client.Tenant{ID: "x", Metadata: json.RawMessage(`"m"`)}, "metadata"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutTenant(ctx, tt.tn)
			if ce := apiError(t, err); ce.Code != 400 || ce.Field != tt.field {
				t.Fatalf("error %+v, want a 400 naming %s", ce, tt.field)
			}
		})
	}
	gen, err := c.PutTenant(ctx, client.Tenant{Name: "Generated"})
	if err != nil || !strings.HasPrefix(gen.ID, "tn_") || gen.CreatedAt.IsZero() {
		t.Fatalf("tenant without id: %+v (%v)", gen, err)
	}
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("t%d", i)
		if _, err := c.PutTenant(ctx, client.Tenant{ID: id, Metadata: json.RawMessage(`{"plan":"pro"}`)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	want = append(want, gen.ID) // by id: t… before tn_…
	got, err := c.Tenant(ctx, "t3")
	if err != nil || got.ID != "t3" || string(got.Metadata) != `{"plan":"pro"}` {
		t.Errorf("tenants.get: %+v (%v)", got, err)
	}
	var listed []string
	pages := 0
	for q := (client.TenantQuery{Limit: 2}); ; pages++ {
		page, err := c.Tenants(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range page.Tenants {
			listed = append(listed, tn.ID)
		}
		if page.Done {
			break
		}
		q.Iterator = page.Iterator
	}
	if !slices.Equal(listed, want) || pages != 2 {
		t.Errorf("listed %v in %d pages after the first, want %v in 2", listed, pages, want)
	}
	if err := c.DeleteTenant(ctx, "t3"); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"get a deleted tenant": func() error { _, err := c.Tenant(ctx, "t3"); return err }(),
		"delete it again":      c.DeleteTenant(ctx, "t3"),
	} {
		if !errors.Is(err, client.ErrNotFound) {
			t.Errorf("%s: %v, want not found", what, err)
		}
	}
	if _, err := c.Tenants(ctx, client.TenantQuery{Limit: 1001}); !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("a page of 1001: %v, want a bad request", err)
	}
}

func TestTenantToken(t *testing.T) {
	c, _ := startTenants(t, true)
	ctx := context.Background()
	if _, err := c.PutTenant(ctx, client.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.TenantToken(ctx, "acme", 2*time.Hour)
	if err != nil || tok.Token != "token-of-acme-for-2h0m0s" || !tok.ExpiresAt.Equal(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("token: %+v (%v)", tok, err)
	}
	if tok, err := c.TenantToken(ctx, "acme", 0); err != nil || tok.Token != "token-of-acme-for-1h0m0s" {
		t.Errorf("token without a ttl: %+v (%v), want the minter's default", tok, err)
	}
	if _, err := c.TenantToken(ctx, "initech", 0); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("token of an unknown tenant: %v, want not found", err)
	}
	for _, ttl := range []time.Duration{-time.Second, 25 * time.Hour} {
		_, err := c.TenantToken(ctx, "acme", ttl)
		if ce := apiError(t, err); ce.Code != 400 || ce.Field != "ttl" {
			t.Errorf("ttl %s: %+v, want a 400 naming ttl", ttl, ce)
		}
	}

	// Without a minter, tenants.token is not served (a nil *auth.Tokens
	// is none: it would panic).
	plain, _ := startTenants(t, false)
	if _, err := plain.PutTenant(ctx, client.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	var ce *client.Error
	if _, err := plain.TenantToken(ctx, "acme", 0); err == nil || errors.As(err, &ce) {
		t.Errorf("token without a minter: %v, want no answer", err)
	}
}

// An event sent for a tenant is stored with the tenant in its body and in
// a Hooks-Tenant header; one without a tenant has neither.
func TestSendEventStoresTheTenant(t *testing.T) {
	c, eb := startTenants(t, false)
	ctx := context.Background()
	if _, err := c.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutTenant(ctx, client.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []client.Event{
		{ID: "evt_acme", Type: "order.created", Tenant: "acme", Payload: json.RawMessage(`{}`)},
		{ID: "evt_own", Type: "order.created", Payload: json.RawMessage(`{}`)},
	} {
		if _, err := c.SendEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		m, err := eb.Events.GetLastMsgForSubject(ctx, catalog.EventSubject(ev.Type, ev.ID))
		if err != nil {
			t.Fatal(err)
		}
		var body catalog.Event
		if err := json.Unmarshal(m.Data, &body); err != nil {
			t.Fatal(err)
		}
		if body.Tenant != ev.Tenant || m.Header.Get(job.HeaderTenant) != ev.Tenant {
			t.Errorf("event %s stored with tenant %q and header %q, want %q", ev.ID, body.Tenant, m.Header.Get(job.HeaderTenant), ev.Tenant)
		}
	}
	// The first copy's tenant answers a repeat.
	sent, err := c.SendEvent(ctx, client.Event{ID: "evt_acme", Type: "order.created", Payload: json.RawMessage(`{}`)})
	if err != nil || !sent.Duplicate {
		t.Errorf("repeat: %+v (%v), want a duplicate", sent, err)
	}
	_, err = c.SendEvent(ctx, client.Event{Type: "order.created", Tenant: "a.b", Payload: json.RawMessage(`{}`)})
	if ce := apiError(t, err); ce.Code != 400 || ce.Field != "tenant" {
		t.Errorf("a bad tenant id: %+v, want a 400 naming tenant", ce)
	}
}
