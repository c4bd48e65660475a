package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/job"
)

// An endpoint's delivery policy: its own retry schedule and timeout, and
// a bearer token got with OAuth2 client credentials. The client secret is
// write-only: no reply holds it, and an update that leaves it out keeps it.
func ExampleEndpointAuth() {
	url, stop := hookworker()
	defer stop()
	nc, err := nats.Connect(url)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()

	ep, err := c.PutEndpoint(ctx, client.Endpoint{
		ID:            "ep_bank",
		URL:           "https://bank.example.com/hooks",
		RetrySchedule: []job.Duration{job.Duration(10 * time.Second), job.Duration(time.Minute)},
		Timeout:       job.Duration(5 * time.Second),
		Auth: &client.EndpointAuth{Type: client.AuthOAuth2, TokenURL: "https://auth.example.com/token",
			ClientID: "hookworker", ClientSecret: "its-secret", Scopes: []string{"hooks.write"}},
	}, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.RetrySchedule, ep.Timeout, ep.Auth.Type, ep.Auth.ClientID, ep.Auth.Scopes, "secret in the reply:", ep.Auth.ClientSecret != "")

	// Another scope: the secret given before is kept.
	ep.Auth.Scopes = []string{"hooks.write", "hooks.read"}
	if ep, err = c.PutEndpoint(ctx, ep, ""); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.Auth.Scopes)
	// Output:
	// [10s 1m0s] 5s oauth2 hookworker [hooks.write] secret in the reply: false
	// [hooks.write hooks.read]
}
