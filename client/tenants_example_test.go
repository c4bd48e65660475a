package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
)

// A tenant is one of your customers: its events reach its own endpoints
// only, and events sent without a tenant reach yours (those without one)
// only.
func ExampleClient_PutTenant() {
	url, stop := hookworker()
	defer stop()

	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()

	if _, err := c.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		log.Fatal(err)
	}
	acme, err := c.PutTenant(ctx, client.Tenant{ID: "acme", Name: "Acme Inc."})
	if err != nil {
		log.Fatal(err)
	}
	for _, ep := range []client.Endpoint{
		{ID: "ep_acme", URL: "https://acme.example.com/webhooks", Tenant: acme.ID},
		{ID: "ep_ours", URL: "https://ops.example.com/webhooks"},
	} {
		if _, err := c.PutEndpoint(ctx, ep, ""); err != nil {
			log.Fatal(err)
		}
	}
	sent, err := c.SendEvent(ctx, client.Event{Type: "order.created", Tenant: "acme", Payload: json.RawMessage(`{"order":42}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("acme's event goes to", sent.Endpoints, "endpoint")

	page, err := c.Endpoints(ctx, client.EndpointQuery{Tenant: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	for _, ep := range page.Endpoints {
		fmt.Println("acme's endpoint:", ep.ID)
	}

	// An endpoint's tenant is set when it is made, for good.
	_, err = c.PutEndpoint(ctx, client.Endpoint{ID: "ep_acme", URL: "https://acme.example.com/webhooks"}, "")
	var apiErr *client.Error
	if errors.As(err, &apiErr) && errors.Is(err, client.ErrBadRequest) {
		fmt.Println("refused:", apiErr.Field)
	}

	// Deleting a tenant deletes its endpoints.
	if err := c.DeleteTenant(ctx, "acme"); err != nil {
		log.Fatal(err)
	}
	_, err = c.Endpoint(ctx, "ep_acme")
	fmt.Println("ep_acme found:", !errors.Is(err, client.ErrNotFound))
	// Output:
	// acme's event goes to 1 endpoint
	// acme's endpoint: ep_acme
	// refused: tenant
	// ep_acme found: false
}
