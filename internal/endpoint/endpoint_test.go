package endpoint_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/endpoint"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/internal/secret"
	"github.com/hookworker/hookworker/job"
)

// TestFanOutDeliversSignedToMatchingEndpoints: one event, endpoints of which
// one is filtered out by type and one by channel; exactly the right two
// receive it, each verifying with its own secret (and not with the
// other's), both with the event id as webhook-id; the results name the
// event and the endpoint.
func TestFanOutDeliversSignedToMatchingEndpoints(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "order.created")
	w.putType(t, "order.refunded")
	all, typed, otherType, otherChannel := w.receiver(t, nil), w.receiver(t, nil), w.receiver(t, nil), w.receiver(t, nil)
	epAll := w.putEndpoint(t, catalog.Endpoint{URL: all.URL}, "")
	epTyped := w.putEndpoint(t, catalog.Endpoint{URL: typed.URL, EventTypes: []string{"order.created"}, Channels: []string{"shop-1"},
		Headers: map[string]string{"X-Tenant": "acme"}}, "")
	w.putEndpoint(t, catalog.Endpoint{URL: otherType.URL, EventTypes: []string{"order.refunded"}}, "")
	w.putEndpoint(t, catalog.Endpoint{URL: otherChannel.URL, Channels: []string{"shop-2"}}, "")

	w.send(t, catalog.Event{ID: "evt_1", Type: "order.created", Channel: "shop-1", Payload: json.RawMessage(`{"n":1}`)})
	for _, ep := range []catalog.Endpoint{epAll, epTyped} {
		r := w.result(t, fanout.JobID("evt_1", ep.ID))
		if r.Outcome != job.Delivered || r.Endpoint != ep.ID || r.Event == nil ||
			*r.Event != (job.Event{ID: "evt_1", Type: "order.created", Channel: "shop-1"}) {
			t.Errorf("result for %s: %+v (event %+v)", ep.ID, r, r.Event)
		}
	}
	secretAll, secretTyped := w.secret(t, epAll.ID), w.secret(t, epTyped.ID)
	for _, c := range []struct {
		name          string
		rc            *receiver
		own, other    string
		wantTenantHdr string
	}{
		{"no filter", all, secretAll, secretTyped, ""},
		{"type and channel", typed, secretTyped, secretAll, "acme"},
	} {
		reqs := c.rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests, want 1", c.name, len(reqs))
		}
		req := reqs[0]
		if !verifies(t, c.own, req) {
			t.Errorf("%s: does not verify with its own secret", c.name)
		}
		if verifies(t, c.other, req) {
			t.Errorf("%s: verifies with the other endpoint's secret", c.name)
		}
		if got := req.header.Get("webhook-id"); got != "evt_1" {
			t.Errorf("%s: webhook-id %q, want the event id", c.name, got)
		}
		if got := req.header.Get("X-Tenant"); got != c.wantTenantHdr {
			t.Errorf("%s: X-Tenant %q, want %q", c.name, got, c.wantTenantHdr)
		}
		var p struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(req.body, &p); err != nil || p.Type != "order.created" || string(p.Data) != `{"n":1}` {
			t.Errorf("%s: body %s", c.name, req.body)
		}
	}
	// The filtered-out ones got nothing: their jobs were never made, and
	// the two delivered settle the event's fan-out.
	if n := len(otherType.requests()) + len(otherChannel.requests()); n != 0 {
		t.Errorf("filtered-out endpoints got %d requests", n)
	}
}

// TestRotationDuringGrace: after a rotation, a receiver holding only the
// old secret and one holding only the new both verify the same request;
// and a rotation between two attempts of one job applies to the retry.
func TestRotationDuringGrace(t *testing.T) {
	t.Parallel()
	w := start(t, options{schedule: []time.Duration{50 * time.Millisecond}})
	w.putType(t, "user.updated")
	ctx := context.Background()
	oldSecret, newSecret, newer := secret.New(), secret.New(), secret.New()
	var epID string
	rc := w.receiver(t, func(n int) int {
		if n == 1 {
			// The second event's first attempt: rotate, then fail it.
			if err := w.cat.Rotate(ctx, epID, newer); err != nil {
				t.Errorf("rotate: %v", err)
			}
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	epID = w.putEndpoint(t, catalog.Endpoint{URL: rc.URL}, oldSecret).ID
	if err := w.cat.Rotate(ctx, epID, newSecret); err != nil {
		t.Fatal(err)
	}
	w.send(t, catalog.Event{ID: "evt_a", Type: "user.updated", Payload: json.RawMessage(`{}`)})
	w.result(t, fanout.JobID("evt_a", epID))
	req := rc.requests()[0]
	if !verifies(t, oldSecret, req) || !verifies(t, newSecret, req) {
		t.Errorf("during the grace period: old verifies %v, new verifies %v; want both",
			verifies(t, oldSecret, req), verifies(t, newSecret, req))
	}
	if verifies(t, secret.New(), req) {
		t.Error("verifies with an unrelated secret")
	}

	w.send(t, catalog.Event{ID: "evt_b", Type: "user.updated", Payload: json.RawMessage(`{}`)})
	if r := w.result(t, fanout.JobID("evt_b", epID)); r.Outcome != job.Delivered || r.Attempts != 2 {
		t.Fatalf("evt_b: %s after %d attempts, want delivered after 2", r.Outcome, r.Attempts)
	}
	reqs := rc.requests()
	before, retry := reqs[1], reqs[2]
	if verifies(t, newer, before) {
		t.Error("the attempt before the rotation verifies with the secret made after it")
	}
	if !verifies(t, newer, retry) || !verifies(t, newSecret, retry) || !verifies(t, oldSecret, retry) {
		t.Error("the retry after the rotation is not signed with the new secret and those in their grace period")
	}
	if before.header.Get("webhook-id") != "evt_b" || retry.header.Get("webhook-id") != "evt_b" {
		t.Error("webhook-id changed between attempts")
	}
}

// TestGoneDisablesEndpoint: a 410 disables the endpoint, publishes the
// operational event, and the next event does not go to it (while it goes
// to another endpoint); put with disabled false enables it again.
func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	w := start(t, options{schedule: []time.Duration{10 * time.Millisecond}})
	w.putType(t, "invoice.paid")
	gone := w.receiver(t, func(n int) int {
		if n == 0 {
			return http.StatusGone
		}
		return http.StatusOK
	})
	live := w.receiver(t, nil)
	epGone := w.putEndpoint(t, catalog.Endpoint{URL: gone.URL}, "")
	epLive := w.putEndpoint(t, catalog.Endpoint{URL: live.URL}, "")

	w.send(t, catalog.Event{ID: "evt_1", Type: "invoice.paid", Payload: json.RawMessage(`{}`)})
	if r := w.result(t, fanout.JobID("evt_1", epGone.ID)); r.Outcome != job.Failed || r.Status != http.StatusGone || r.Attempts != 1 {
		t.Errorf("410 result: %s, status %d, %d attempts; want failed, 410, 1 (no retry)", r.Outcome, r.Status, r.Attempts)
	}
	w.waitFor(t, "the disabled event", func() bool { return len(w.disabled) > 0 })
	w.mu.Lock()
	d := w.disabled[0]
	w.mu.Unlock()
	if d.Endpoint != epGone.ID || d.Reason != endpoint.GoneReason || d.At.IsZero() {
		t.Errorf("disabled event %+v", d)
	}
	ep, err := w.cat.Endpoint(context.Background(), epGone.ID)
	if err != nil || !ep.Disabled || ep.DisabledReason != endpoint.GoneReason {
		t.Errorf("endpoint after 410: disabled %v reason %q (%v)", ep.Disabled, ep.DisabledReason, err)
	}

	w.send(t, catalog.Event{ID: "evt_2", Type: "invoice.paid", Payload: json.RawMessage(`{}`)})
	w.result(t, fanout.JobID("evt_2", epLive.ID))
	if n := len(gone.requests()); n != 1 {
		t.Errorf("disabled endpoint got %d requests, want the one before", n)
	}
	w.mu.Lock()
	_, made := w.results[fanout.JobID("evt_2", epGone.ID)]
	w.mu.Unlock()
	if made {
		t.Error("a job was made for the disabled endpoint")
	}

	ep.Disabled = false
	w.putEndpoint(t, ep, "")
	w.send(t, catalog.Event{ID: "evt_3", Type: "invoice.paid", Payload: json.RawMessage(`{}`)})
	if r := w.result(t, fanout.JobID("evt_3", epGone.ID)); r.Outcome != job.Delivered {
		t.Errorf("after enabling again: %s (%s)", r.Outcome, r.Error)
	}
}

// TestJobOfDisabledOrDeletedEndpoint: a job whose endpoint is disabled or
// deleted when its turn comes fails with that reason and sends nothing.
func TestJobOfDisabledOrDeletedEndpoint(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "a.b")
	rc := w.receiver(t, nil)
	ctx := context.Background()
	disabled := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL + "/disabled"}, "")
	if err := w.cat.Disable(ctx, disabled.ID, "maintenance"); err != nil {
		t.Fatal(err)
	}
	deleted := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL + "/deleted"}, "")
	if err := w.cat.DeleteEndpoint(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	live := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL + "/live"}, "")
	tests := []struct {
		name, endpoint, wantErr string
		want                    job.Outcome
	}{
		{"disabled", disabled.ID, "endpoint " + disabled.ID + " is disabled (maintenance); nothing sent", job.Failed},
		{"deleted", deleted.ID, "endpoint " + deleted.ID + " was deleted; nothing sent", job.Failed},
		{"live (control)", live.ID, "", job.Delivered},
	}
	for _, tt := range tests {
		w.publishJob(t, map[string]any{"id": "evt_x:" + tt.endpoint, "url": rc.URL + "/" + tt.name, "payload": map[string]any{},
			"endpoint": tt.endpoint, "event": map[string]any{"id": "evt_x", "type": "a.b"}})
	}
	for _, tt := range tests {
		r := w.result(t, "evt_x:"+tt.endpoint)
		if r.Outcome != tt.want || r.Error != tt.wantErr || r.Endpoint != tt.endpoint {
			t.Errorf("%s: %s %q (endpoint %q), want %s %q", tt.name, r.Outcome, r.Error, r.Endpoint, tt.want, tt.wantErr)
		}
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d requests, want only the live endpoint's", n)
	}
}

// TestRetrySchedule: a job with retry_schedule ["200ms","400ms"], event
// job or plain, is retried after those waits (the first one waited in its
// slot, the second one a deferral, being longer than the sender's
// DeferAfter), then fails.
func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	w := start(t, options{deferAfter: 300 * time.Millisecond, schedule: []time.Duration{time.Hour}})
	w.putType(t, "a.b")
	tests := []struct {
		name  string
		event bool
	}{
		{"event job", true},
		{"plain job", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := w.receiver(t, func(int) int { return http.StatusInternalServerError })
			ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL}, "")
			id, wantID := "plain-r", "plain-r"
			j := map[string]any{"id": id, "url": rc.URL, "payload": map[string]any{}, "retry_schedule": []string{"200ms", "400ms"}}
			if tt.event {
				id, wantID = "evt_r:"+ep.ID, "evt_r"
				j["id"], j["endpoint"], j["event"] = id, ep.ID, map[string]any{"id": "evt_r", "type": "a.b"}
			}
			w.publishJob(t, j)
			r := w.result(t, id)
			if r.Outcome != job.Failed || r.Attempts != 3 || r.Status != http.StatusInternalServerError {
				t.Errorf("result: %s after %d attempts, status %d; want failed after 3, 500", r.Outcome, r.Attempts, r.Status)
			}
			reqs := rc.requests()
			if len(reqs) != 3 {
				t.Fatalf("%d requests, want 3", len(reqs))
			}
			for i, min := range []time.Duration{180 * time.Millisecond, 360 * time.Millisecond} {
				if gap := reqs[i+1].at.Sub(reqs[i].at); gap < min {
					t.Errorf("wait before retry %d: %s, want at least %s", i+1, gap, min)
				}
			}
			for i, req := range reqs {
				if req.header.Get("webhook-id") != wantID {
					t.Errorf("attempt %d: webhook-id %q, want %q", i+1, req.header.Get("webhook-id"), wantID)
				}
				if tt.event && !verifies(t, w.secret(t, ep.ID), req) {
					t.Errorf("attempt %d: not signed with the endpoint's secret", i+1)
				}
			}
		})
	}
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestSustainedFailureDisables: an endpoint every delivery to which fails
// for DisableAfter is disabled, with the operational event; one whose
// failures are broken by a success is not.
func TestSustainedFailureDisables(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	w := start(t, options{disableAfter: time.Hour, now: clk.Now})
	w.putType(t, "a.b")
	failing := w.receiver(t, func(int) int { return http.StatusInternalServerError })
	// flaky fails the first event, answers the second, fails the third.
	flaky := w.receiver(t, func(n int) int {
		if n == 1 {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	epFailing := w.putEndpoint(t, catalog.Endpoint{URL: failing.URL}, "")
	epFlaky := w.putEndpoint(t, catalog.Endpoint{URL: flaky.URL}, "")
	event := func(id string) {
		t.Helper()
		w.send(t, catalog.Event{ID: id, Type: "a.b", Payload: json.RawMessage(`{}`)})
		w.result(t, fanout.JobID(id, epFlaky.ID))
	}
	event("evt_1") // both fail: failing since 12:00
	// Its failure is recorded before its result: the clock moves on only
	// after it, or the endpoint would be failing since 13:30.
	w.result(t, fanout.JobID("evt_1", epFailing.ID))
	clk.advance(90 * time.Minute)
	event("evt_2") // failing fails again, 90m on: disabled; flaky succeeds
	w.result(t, fanout.JobID("evt_2", epFailing.ID))
	w.waitFor(t, "the disabled event", func() bool { return len(w.disabled) > 0 })
	clk.advance(90 * time.Minute)
	event("evt_3") // flaky fails, for the first time since its success

	ep, err := w.cat.Endpoint(context.Background(), epFailing.ID)
	if want := "every delivery failed since 2026-11-27T12:00:00Z"; err != nil || !ep.Disabled || ep.DisabledReason != want {
		t.Errorf("failing endpoint: disabled %v, reason %q, want %q (%v)", ep.Disabled, ep.DisabledReason, want, err)
	}
	if ep, err := w.cat.Endpoint(context.Background(), epFlaky.ID); err != nil || ep.Disabled {
		t.Errorf("flaky endpoint disabled (%q): its failures were broken by a success (%v)", ep.DisabledReason, err)
	}
	if n := len(failing.requests()); n != 2 {
		t.Errorf("failing endpoint got %d requests, want 2 (none after it was disabled)", n)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.disabled) != 1 || w.disabled[0].Endpoint != epFailing.ID {
		t.Errorf("disabled events %+v, want one for %s", w.disabled, epFailing.ID)
	}
}
