package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/attempt"
)

// Change an endpoint's description, send it a test event, and count how
// its deliveries went.
func ExampleClient_EndpointStats() {
	url, rec, stop := hookworkerWithLog()
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()
	schema := json.RawMessage(`{"type":"object","examples":[{"order":1}]}`)
	if _, err := c.PutEventType(ctx, client.EventType{Name: "order.created", Schema: schema}); err != nil {
		log.Fatal(err)
	}
	if _, err := c.PutEndpoint(ctx, client.Endpoint{ID: "ep_1", URL: "https://example.com/hook"}, ""); err != nil {
		log.Fatal(err)
	}
	ep, err := c.PatchEndpoint(ctx, "ep_1", map[string]any{"description": "the shop"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.URL, ep.Description)
	sent, err := c.TestEndpoint(ctx, "ep_1", "order.created")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(sent.JobID, sent.EventID+":ep_1:"))
	// Two attempts, as a worker records them: a 503, then a 204.
	for i, status := range []int{503, 204} {
		outcome := []attempt.Outcome{attempt.Retry, attempt.Delivered}[i]
		rec.Record(attempt.Attempt{JobID: sent.JobID, EventID: sent.EventID, EventType: "order.created", Endpoint: "ep_1",
			URL: "https://example.com/hook", Number: i + 1, Start: time.Now(), Status: status, Outcome: outcome})
	}
	if err := rec.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	st, err := c.EndpointStats(ctx, "ep_1", time.Time{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v, %d hours or more\n", st.Total, min(len(st.Hours), 24))
	// Output:
	// https://example.com/hook the shop
	// true
	// {Delivered:1 Retry:1 Failed:0}, 24 hours or more
}
