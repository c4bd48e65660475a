package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
)

// hookworker starts an in-process NATS server with what a running
// hookworker serves on it (the API), and returns its URL and a function
// that stops both.
func hookworker() (string, func()) {
	dir, err := os.MkdirTemp("", "client-example")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10e9) {
		log.Fatal("nats server not ready")
	}
	b, err := bus.Connect(bus.Config{URL: srv.ClientURL()})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	if err != nil {
		log.Fatal(err)
	}
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Tenants: eb.Tenants})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := api.Start(b.Conn(), api.Config{Catalog: cat, JetStream: b.JetStream(), Events: eb.Events})
	if err != nil {
		log.Fatal(err)
	}
	return srv.ClientURL(), func() {
		_ = svc.Stop()
		cancel()
		b.Close()
		srv.Shutdown()
		os.RemoveAll(dir)
	}
}

// Register an event type, subscribe an endpoint to it and send an event:
// every worker then delivers it to the endpoint.
func Example() {
	url, stop := hookworker()
	defer stop()

	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()

	_, err = c.PutEventType(ctx, client.EventType{
		Name:        "order.created",
		Description: "an order was placed",
		Schema:      json.RawMessage(`{"type":"object","required":["order"],"properties":{"order":{"type":"integer"}}}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	ep, err := c.PutEndpoint(ctx, client.Endpoint{
		ID:         "ep_shop",
		URL:        "https://shop.example.com/webhooks",
		EventTypes: []string{"order.created"},
	}, "") // no secret given: one is generated
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("endpoint", ep.ID, "receives", ep.EventTypes)

	sent, err := c.SendEvent(ctx, client.Event{ID: "evt_1", Type: "order.created", Payload: json.RawMessage(`{"order":42}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("event", sent.ID, "goes to", sent.Endpoints, "endpoint")

	// The same id again is dropped, whatever it carries: the reply is the
	// first copy's.
	again, err := c.SendEvent(ctx, client.Event{ID: "evt_1", Type: "order.created", Payload: json.RawMessage(`{"order":43}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("event", again.ID, "sent again: duplicate", again.Duplicate, "first sent", again.Timestamp.Equal(sent.Timestamp))

	_, err = c.SendEvent(ctx, client.Event{Type: "order.created", Payload: json.RawMessage(`{"order":"forty-two"}`)})
	var apiErr *client.Error
	if errors.As(err, &apiErr) && errors.Is(err, client.ErrBadRequest) {
		for _, v := range apiErr.Violations {
			fmt.Println("refused:", v.Pointer, v.Reason)
		}
	}
	// Output:
	// endpoint ep_shop receives [order.created]
	// event evt_1 goes to 1 endpoint
	// event evt_1 sent again: duplicate true first sent true
	// refused: /order got string, want integer
}

// The receiver's side of the setup: the secret to verify the endpoint's
// requests with, and a fresh one when it may have leaked.
func ExampleClient_Secret() {
	url, stop := hookworker()
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()

	if _, err := c.PutEndpoint(ctx, client.Endpoint{ID: "ep_1", URL: "https://example.com/hook"}, ""); err != nil {
		log.Fatal(err)
	}
	before, err := c.Secret(ctx, "ep_1")
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Rotate(ctx, "ep_1", ""); err != nil {
		log.Fatal(err)
	}
	after, err := c.Secret(ctx, "ep_1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(before) > len("whsec_"), before != after)

	_, err = c.Secret(ctx, "ep_unknown")
	fmt.Println(errors.Is(err, client.ErrNotFound))
	// Output:
	// true true
	// true
}

// Walk every endpoint, page after page.
func ExampleClient_AllEndpoints() {
	url, stop := hookworker()
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()
	for _, id := range []string{"ep_a", "ep_b", "ep_c"} {
		if _, err := c.PutEndpoint(ctx, client.Endpoint{ID: id, URL: "https://example.com/" + id}, ""); err != nil {
			log.Fatal(err)
		}
	}
	for ep, err := range c.AllEndpoints(ctx, client.EndpointQuery{Order: "asc", Limit: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ep.ID, ep.URL)
	}
	// Output:
	// ep_a https://example.com/ep_a
	// ep_b https://example.com/ep_b
	// ep_c https://example.com/ep_c
}

// Walk every event type by name, however many pages the API answers them
// in; an archived type is listed only on request.
func ExampleClient_AllEventTypes() {
	url, stop := hookworker()
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()
	for _, name := range []string{"order.paid", "order.created", "order.cancelled"} {
		if _, err := c.PutEventType(ctx, client.EventType{Name: name}); err != nil {
			log.Fatal(err)
		}
	}
	if err := c.DeleteEventType(ctx, "order.cancelled"); err != nil {
		log.Fatal(err)
	}
	for t, err := range c.AllEventTypes(ctx, false) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(t.Name)
	}
	// Output:
	// order.created
	// order.paid
}
