package catalog_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/catalog"
)

// TestAlertFailingOncePerStreak: of many callers at once, one raises the
// failing alert of a streak, and it is published once; Succeeded ends the
// streak with one recovered alert, and the next streak can alert again.
func TestAlertFailingOncePerStreak(t *testing.T) {
	c, nc, clk := setup(t)
	ctx := context.Background()
	var failing, recovered atomic.Int32
	var mu sync.Mutex
	var last catalog.Alert
	for subject, n := range map[string]*atomic.Int32{catalog.FailingSubject: &failing, catalog.RecoveredSubject: &recovered} {
		if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
			n.Add(1)
			mu.Lock()
			defer mu.Unlock()
			_ = json.Unmarshal(m.Data, &last)
		}); err != nil {
			t.Fatal(err)
		}
	}
	ep, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/"}, "")
	if err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	if _, err := c.Failed(ctx, ep.ID, start); err != nil {
		t.Fatal(err)
	}
	if raised, err := c.AlertFailing(ctx, ep.ID, time.Hour, start.Add(59*time.Minute), "status 500"); raised || err != nil {
		t.Fatalf("raised %v, %v before the hour", raised, err)
	}
	var raised atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := c.AlertFailing(ctx, ep.ID, time.Hour, start.Add(61*time.Minute), "status 500")
			if err != nil {
				t.Error(err)
			}
			if ok {
				raised.Add(1)
			}
		})
	}
	wg.Wait()
	// A success read against a mirror that has not seen the streak yet
	// ends nothing; a later one does, once.
	deadline := time.Now().Add(5 * time.Second)
	for recovered.Load() < 1 && time.Now().Before(deadline) {
		if err := c.Succeeded(ctx, ep.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.Succeeded(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // room for a second alert, which must not come
	if raised.Load() != 1 || failing.Load() != 1 || recovered.Load() != 1 {
		t.Fatalf("raised %d, published %d failing and %d recovered alerts; want one of each", raised.Load(), failing.Load(), recovered.Load())
	}
	mu.Lock()
	if last.Endpoint != ep.ID || !last.Since.Equal(start) || last.LastError != "status 500" {
		t.Errorf("recovered alert %+v", last)
	}
	mu.Unlock()
	// A new streak alerts again.
	if _, err := c.Failed(ctx, ep.ID, start.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.AlertFailing(ctx, ep.ID, time.Hour, start.Add(4*time.Hour), "timeout"); !ok || err != nil {
		t.Fatalf("the next streak: raised %v, %v", ok, err)
	}
}
