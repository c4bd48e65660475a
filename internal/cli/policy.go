package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/job"
)

// policyUsage is the usage of the delivery policy flags.
const policyUsage = "[--rate-limit N] [--ordered] [--retry-schedule D,D,...] [--timeout D] " +
	"[--auth-mtls-cert FILE --auth-mtls-key FILE | --oauth2-token-url URL --oauth2-client-id ID --oauth2-client-secret S [--oauth2-scope S]... | --no-auth]"

// policyFlags defines the endpoint delivery policy flags on fs. The
// function it returns is called once the flags are parsed: it checks them,
// reading the files they name, and returns what sets on an endpoint the
// fields of the flags given (an update's other fields stay as they are).
func policyFlags(fs *flag.FlagSet) func() (func(ep *client.Endpoint) error, error) {
	rate := fs.Int("rate-limit", 0, "at most N requests a second to the endpoint, across every worker (0: no limit)")
	ordered := fs.Bool("ordered", false, "deliver its events in the order they were stored")
	schedule := fs.String("retry-schedule", "", "comma-separated waits before each retry, such as 10s,1m,10m, in place of the worker's HOOKWORKER_RETRY_SCHEDULE (empty: the worker's)")
	timeout := fs.Duration("timeout", 0, "per-attempt timeout, cut to the worker's HOOKWORKER_TIMEOUT (0: the worker's)")
	certFile := fs.String("auth-mtls-cert", "", "a PEM file with the client certificate (chain) presented to the receiver; with --auth-mtls-key")
	keyFile := fs.String("auth-mtls-key", "", "a PEM file with the client certificate's private key")
	var oauth client.EndpointAuth
	var scopes listFlag
	fs.StringVar(&oauth.TokenURL, "oauth2-token-url", "", "the OAuth2 token endpoint a bearer token is got from with client credentials")
	fs.StringVar(&oauth.ClientID, "oauth2-client-id", "", "the OAuth2 client id")
	fs.StringVar(&oauth.ClientSecret, "oauth2-client-secret", "", "the OAuth2 client secret (@FILE reads it from a file)")
	fs.Var(&scopes, "oauth2-scope", "an OAuth2 scope to ask for; repeatable")
	noAuth := fs.Bool("no-auth", false, "remove the endpoint's authentication")
	return func() (func(ep *client.Endpoint) error, error) {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if *rate < 0 {
			return nil, errors.New("--rate-limit must not be negative")
		}
		if *timeout < 0 {
			return nil, errors.New("--timeout must not be negative")
		}
		// The format of HOOKWORKER_RETRY_SCHEDULE.
		var sched config.Schedule
		if err := sched.Decode(*schedule); err != nil {
			return nil, fmt.Errorf("--retry-schedule: %w", err)
		}
		if len(sched) > job.MaxScheduleLen {
			return nil, fmt.Errorf("--retry-schedule: at most %d waits, got %d", job.MaxScheduleLen, len(sched))
		}
		var waits []job.Duration
		for _, d := range sched {
			waits = append(waits, job.Duration(d))
		}
		mtls := given["auth-mtls-cert"] || given["auth-mtls-key"]
		oauth2 := given["oauth2-token-url"] || given["oauth2-client-id"] || given["oauth2-client-secret"] || given["oauth2-scope"]
		var auth *client.EndpointAuth
		switch {
		case mtls && oauth2, *noAuth && (mtls || oauth2):
			return nil, errors.New("give one of --auth-mtls-*, --oauth2-* and --no-auth")
		case mtls:
			if *certFile == "" {
				return nil, errors.New("--auth-mtls-cert is required with --auth-mtls-key")
			}
			cert, err := os.ReadFile(*certFile)
			if err != nil {
				return nil, fmt.Errorf("--auth-mtls-cert: %w", err)
			}
			auth = &client.EndpointAuth{Type: client.AuthMTLS, Cert: string(cert)}
			if *keyFile != "" {
				key, err := os.ReadFile(*keyFile)
				if err != nil {
					return nil, fmt.Errorf("--auth-mtls-key: %w", err)
				}
				auth.Key = string(key)
			}
		case oauth2:
			a := oauth
			a.Type, a.Scopes = client.AuthOAuth2, scopes
			if file, ok := strings.CutPrefix(a.ClientSecret, "@"); ok {
				b, err := os.ReadFile(file)
				if err != nil {
					return nil, fmt.Errorf("--oauth2-client-secret: %w", err)
				}
				a.ClientSecret = strings.TrimSpace(string(b))
			}
			if a.TokenURL != "" {
				if err := checkURL("--oauth2-token-url", a.TokenURL); err != nil {
					return nil, err
				}
			}
			auth = &a
		}
		return func(ep *client.Endpoint) error {
			switch {
			case *noAuth:
				ep.Auth = nil
			case auth != nil && auth.Type == client.AuthMTLS:
				if auth.Key == "" && (ep.Auth == nil || ep.Auth.Type != client.AuthMTLS) {
					return errors.New("--auth-mtls-key is required with --auth-mtls-cert")
				}
				ep.Auth = auth
			case auth != nil:
				a := *auth
				if old := ep.Auth; old != nil && old.Type == client.AuthOAuth2 {
					// An update names only what changes.
					a.TokenURL = cmp.Or(a.TokenURL, old.TokenURL)
					a.ClientID = cmp.Or(a.ClientID, old.ClientID)
					if !given["oauth2-scope"] {
						a.Scopes = old.Scopes
					}
				}
				if a.TokenURL == "" || a.ClientID == "" {
					return errors.New("--oauth2-token-url and --oauth2-client-id are required for an oauth2 auth")
				}
				ep.Auth = &a
			}
			if given["rate-limit"] {
				ep.RateLimit = *rate
			}
			if given["ordered"] {
				ep.Ordered = *ordered
			}
			if given["retry-schedule"] {
				ep.RetrySchedule = waits
			}
			if given["timeout"] {
				ep.Timeout = job.Duration(*timeout)
			}
			return nil
		}, nil
	}
}

// updateCommand is `endpoint update ID [flags]`: it changes the fields the
// flags give and keeps the others, the auth's key or client secret
// included when it is not given again.
func updateCommand(fs *flag.FlagSet) apiCheck {
	description := fs.String("description", "", "free text")
	policy := policyFlags(fs)
	return func(args []string, _ io.Reader) (apiAction, error) {
		if err := checkEndpointID("endpoint id", args[0]); err != nil {
			return nil, err
		}
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		apply, err := policy()
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
			ep, err := c.Endpoint(ctx, args[0])
			if err != nil {
				return err
			}
			if given["description"] {
				ep.Description = *description
			}
			if err := apply(&ep); err != nil {
				return err
			}
			return printed(out)(c.PutEndpoint(ctx, ep, ""))
		}, nil
	}
}
