package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/catalog"
)

// tenantIDFormat is the format of a tenant id (catalog.ValidTenantID holds
// the rule).
const tenantIDFormat = "1 to 63 of A-Za-z0-9_-"

// maxTokenTTL is the longest a tenant token may live, as the API mints
// them.
const maxTokenTTL = 24 * time.Hour

// checkTenantID checks a tenant id given as what.
func checkTenantID(what, id string) error {
	if !catalog.ValidTenantID(id) {
		return fmt.Errorf("%s %q is not a tenant id (%s)", what, id, tenantIDFormat)
	}
	return nil
}

// tenantFlag defines --tenant on fs, for the subcommands that take a
// tenant, with usage saying what it does there; check checks its value.
func tenantFlag(fs *flag.FlagSet, usage string) (tenant *string, check func() error) {
	tenant = fs.String("tenant", "", usage)
	return tenant, func() error {
		if *tenant == "" {
			return nil
		}
		return checkTenantID("--tenant", *tenant)
	}
}

// tenantCommand is a tenant subcommand that takes one tenant id and prints
// what fn returns, unless it returns an error.
func tenantCommand(fn func(ctx context.Context, c *client.Client, id string) (any, error)) func(*flag.FlagSet) apiCheck {
	return argCommand(func(id string) error { return checkTenantID("tenant id", id) }, fn)
}

// tenantCommands are `hookworker tenant ...`.
var tenantCommands = map[string]apiCommand{
	"put": {"[--id ID] [--name TEXT] [--metadata JSON]", 0, func(fs *flag.FlagSet) apiCheck {
		var t client.Tenant
		var metadata string
		fs.StringVar(&t.ID, "id", "", "tenant id, "+tenantIDFormat+"; an existing tenant is updated (default: a generated one)")
		fs.StringVar(&t.Name, "name", "", "the tenant's name, at most 256 characters")
		fs.StringVar(&metadata, "metadata", "", "a JSON object kept with the tenant")
		return func([]string, io.Reader) (apiAction, error) {
			if t.ID != "" {
				if err := checkTenantID("--id", t.ID); err != nil {
					return nil, err
				}
			}
			var err error
			if t.Metadata, err = metadataArg(metadata); err != nil {
				return nil, err
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				return printed(out)(c.PutTenant(ctx, t))
			}, nil
		}
	}},
	"get": {"ID", 1, tenantCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		return c.Tenant(ctx, id)
	})},
	"list": {"[--limit N]", 0, func(fs *flag.FlagSet) apiCheck {
		limit := fs.Int("limit", 0, "print at most N tenants (default: all)")
		return func([]string, io.Reader) (apiAction, error) {
			if *limit < 0 {
				return nil, errors.New("--limit must not be negative")
			}
			var q client.TenantQuery
			if *limit > 0 {
				q.Limit = min(*limit, 1000)
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				return printAll(c.AllTenants(ctx, q), *limit, out)
			}, nil
		}
	}},
	"rm": {"ID", 1, tenantCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		return map[string]any{"id": id, "deleted": true}, c.DeleteTenant(ctx, id)
	})},
	"token": {"ID [--ttl D]", 1, func(fs *flag.FlagSet) apiCheck {
		ttl := fs.Duration("ttl", time.Hour, "how long the token is accepted, at most 24h")
		return func(args []string, _ io.Reader) (apiAction, error) {
			if err := checkTenantID("tenant id", args[0]); err != nil {
				return nil, err
			}
			if *ttl <= 0 || *ttl > maxTokenTTL {
				return nil, fmt.Errorf("--ttl must be more than 0 and at most %s, got %s", maxTokenTTL, *ttl)
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				tok, err := c.TenantToken(ctx, args[0], *ttl)
				if err != nil {
					return err
				}
				return out.Encode(tok)
			}, nil
		}
	}},
}

// tenantOrder is the order of the tenant subcommands in the usage.
var tenantOrder = []string{"put", "get", "list", "rm", "token"}

// printAll writes every item seq yields as a JSON line to out, at most
// limit of them when limit is positive; the first error ends it.
func printAll[T any](seq iter.Seq2[T, error], limit int, out *json.Encoder) error {
	n := 0
	for v, err := range seq {
		if err != nil {
			return err
		}
		if err := out.Encode(v); err != nil {
			return err
		}
		if n++; limit > 0 && n >= limit {
			break
		}
	}
	return nil
}
