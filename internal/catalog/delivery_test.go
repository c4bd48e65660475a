package catalog_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/secret"
)

// TestFailingStreak checks the time of the first failure since the last
// success: kept across failures and a put, cleared by a success and by
// enabling the endpoint again.
func TestFailingStreak(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	ep, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_1", URL: "https://example.com/"}, "")
	if err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	put := func() error {
		_, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: ep.ID, URL: "https://example.com/v2"}, "")
		return err
	}
	fail := func(at time.Time) func() error {
		return func() error { _, err := c.Failed(ctx, ep.ID, at); return err }
	}
	steps := []struct {
		name    string
		do      []func() error
		failing bool
		want    time.Time
	}{
		{"not failing at first", nil, false, time.Time{}},
		{"first failure starts the streak", []func() error{fail(t0)}, true, t0},
		{"a later failure keeps its start", []func() error{fail(t0.Add(time.Hour))}, true, t0},
		{"a put keeps it", []func() error{put, fail(t0.Add(2 * time.Hour))}, true, t0},
		{"a success ends it", []func() error{func() error { return c.Succeeded(ctx, ep.ID) }}, false, time.Time{}},
		{"the next failure starts another", []func() error{fail(t0.Add(3 * time.Hour))}, true, t0.Add(3 * time.Hour)},
		{"enabling again ends it", []func() error{func() error { return c.Disable(ctx, ep.ID, "gone") }, put}, false, time.Time{}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			for _, do := range s.do {
				if err := do(); err != nil {
					t.Fatal(err)
				}
			}
			got, failing, err := c.FailingSince(ctx, ep.ID)
			if err != nil || failing != s.failing || !got.Equal(s.want) {
				t.Errorf("FailingSince = %s, %v (%v); want %s, %v", got, failing, err, s.want, s.failing)
			}
		})
	}
	if _, err := c.Failed(ctx, "ep_missing", t0); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Failed on a missing endpoint: %v, want ErrNotFound", err)
	}
	if err := c.Succeeded(ctx, "ep_missing"); err != nil {
		t.Errorf("Succeeded on a missing endpoint: %v", err)
	}
}

// TestDeliverable checks that a delivery sees an endpoint's state in the
// bucket, even one the mirror has not caught up with, and the secrets it
// signs with.
func TestDeliverable(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	ep, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_1", URL: "https://example.com/"}, goodSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Deliverable(ctx, ep.ID)
	if err != nil || got.ID != ep.ID || got.Disabled {
		t.Errorf("Deliverable = %+v, %v", got, err)
	}
	if err := c.Disable(ctx, ep.ID, "maintenance"); err != nil {
		t.Fatal(err)
	}
	// Once the mirror has the change, as the fan-out sees it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, err := c.Deliverable(ctx, ep.ID)
		if err == nil && got.Disabled && got.DisabledReason == "maintenance" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Disable: %+v, %v", got, err)
		}
	}
	if _, err := c.Deliverable(ctx, "ep_none"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("missing endpoint: %v, want ErrNotFound", err)
	}

	newSecret := secret.New()
	if err := c.Rotate(ctx, ep.ID, newSecret); err != nil {
		t.Fatal(err)
	}
	want := []string{newSecret, goodSecret}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, ok := c.MirroredSigningSecrets(ep.ID, clk.Now())
		if ok && slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("MirroredSigningSecrets = %d secrets (%v), want the new then the old", len(got), ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, ok := c.MirroredSigningSecrets(ep.ID, clk.Now().Add(25*time.Hour)); !ok || !slices.Equal(got, want[:1]) {
		t.Errorf("after the grace period: %d secrets, want the new one only", len(got))
	}
	if _, ok := c.MirroredSigningSecrets("ep_none", clk.Now()); ok {
		t.Error("MirroredSigningSecrets knows a missing endpoint")
	}
}
