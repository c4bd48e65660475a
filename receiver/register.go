package receiver

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookworker/hookworker/client"
)

// EndpointAPI is what Register needs of hookworker's endpoint API; a
// *client.Client has it.
type EndpointAPI interface {
	// Endpoint returns the endpoint id, or an error matching
	// client.ErrNotFound.
	Endpoint(ctx context.Context, id string) (client.Endpoint, error)
	// Endpoints returns one page of the endpoints q selects.
	Endpoints(ctx context.Context, q client.EndpointQuery) (client.EndpointPage, error)
	// PutEndpoint creates or updates an endpoint; secret ("" for a
	// generated one) is the new endpoint's signing secret.
	PutEndpoint(ctx context.Context, e client.Endpoint, secret string) (client.Endpoint, error)
	// Secret returns the current signing secret of endpoint id.
	Secret(ctx context.Context, id string) (string, error)
}

// RegisterOption changes what Register does when it creates an endpoint.
type RegisterOption func(*registration)

// registration holds the options of one Register call.
type registration struct {
	secret string
}

// WithSecret gives the endpoint Register creates the signing secret
// secret ("whsec_" followed by 32 to 100 characters of base64) instead of a generated one. An
// endpoint that exists already keeps its own: Register returns that one.
func WithSecret(secret string) RegisterOption {
	return func(r *registration) { r.secret = secret }
}

// Register is a receiver's setup step: it makes sure the endpoint want
// exists and returns its current signing secret, the one to verify with,
// and the endpoint as the API has it.
//
// Register creates an endpoint only when there is none, and never changes
// one that exists:
//   - with want.ID, the endpoint of that id is reused when there is one,
//     else one is created from want with that id;
//   - without it, the endpoint whose URL is exactly want.URL is reused
//     (the oldest, should there be several), else one is created from want
//     with a generated id.
//
// An existing endpoint may differ from want (another URL, other event
// types, disabled): compare the endpoint returned, and update it with
// PutEndpoint if that is what the receiver wants. After a rotation the old
// secret keeps signing for the API's grace period, so a receiver that
// calls Register again within it (at its next start) verifies every
// delivery; one that runs longer reads the secret again now and then
// (EndpointAPI.Secret) and passes the new one and the old to
// Receiver.SetSecrets. The error of an API that refused the endpoint is a
// *client.Error; no error holds a secret.
func Register(ctx context.Context, api EndpointAPI, want client.Endpoint, opts ...RegisterOption) (secret string, ep client.Endpoint, err error) {
	var r registration
	for _, o := range opts {
		o(&r)
	}
	ep, found, err := lookup(ctx, api, want)
	if err != nil {
		return "", client.Endpoint{}, fmt.Errorf("receiver: register: %w", err)
	}
	if !found {
		if want.URL == "" {
			return "", client.Endpoint{}, errors.New("receiver: register: the endpoint has no URL")
		}
		if ep, err = api.PutEndpoint(ctx, want, r.secret); err != nil {
			return "", client.Endpoint{}, fmt.Errorf("receiver: register: create the endpoint: %w", err)
		}
	}
	if secret, err = api.Secret(ctx, ep.ID); err != nil {
		return "", client.Endpoint{}, fmt.Errorf("receiver: register: the secret of endpoint %q: %w", ep.ID, err)
	}
	return secret, ep, nil
}

// lookup finds the endpoint want names: by id when it has one, else by
// URL.
func lookup(ctx context.Context, api EndpointAPI, want client.Endpoint) (client.Endpoint, bool, error) {
	if want.ID != "" {
		ep, err := api.Endpoint(ctx, want.ID)
		switch {
		case err == nil:
			return ep, true, nil
		case errors.Is(err, client.ErrNotFound):
			return client.Endpoint{}, false, nil
		default:
			return client.Endpoint{}, false, fmt.Errorf("look up endpoint %q: %w", want.ID, err)
		}
	}
	q := client.EndpointQuery{Order: "asc", Limit: 1000}
	for {
		page, err := api.Endpoints(ctx, q)
		if err != nil {
			return client.Endpoint{}, false, fmt.Errorf("list the endpoints: %w", err)
		}
		for _, ep := range page.Endpoints {
			if ep.URL == want.URL {
				return ep, true, nil
			}
		}
		if page.Done || page.Iterator == "" {
			return client.Endpoint{}, false, nil
		}
		q.Iterator = page.Iterator
	}
}
