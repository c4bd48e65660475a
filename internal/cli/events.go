package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/secret"
)

// apiCommand is one subcommand of event-type, endpoint or event. Every
// subcommand has the same shape: parse, check, connect, act. flags defines
// its flags on fs and returns its check, which apiGroup calls with the
// positional arguments once the flags are parsed and before it connects.
type apiCommand struct {
	usage string // the arguments, for the usage line
	args  int    // how many positional arguments it takes
	flags func(fs *flag.FlagSet) apiCheck
}

// apiCheck checks a subcommand's parsed flags and its positional arguments
// (reading standard input when a flag names "-") and returns what to do
// with the client; an error is a bad flag or argument, and nothing is done.
type apiCheck func(args []string, stdin io.Reader) (apiAction, error)

// apiAction is what a subcommand does with the client once its flags and
// arguments are checked: call the API and print the answer to out.
type apiAction func(ctx context.Context, c *client.Client, out *json.Encoder) error

// apiGroup runs `hookworker <group> <sub> ...` from cmds: exit 0 when it is
// done, 1 when the API answers an error or cannot be reached, 2 for a bad
// subcommand, flag or argument. A bad flag or argument is found before it
// connects.
func apiGroup(ctx context.Context, group string, cmds map[string]apiCommand, order []string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage:\n")
		for _, name := range order {
			fmt.Fprintf(w, "  hookworker %s %s %s\n", group, name, cmds[name].usage)
		}
		fmt.Fprintf(w, "\nOutput is one JSON object a line. Exit status: 0 done, 1 the API answered an error, 2 a bad flag.\n")
	}
	if len(args) == 0 {
		groupUsage(stderr)
		return ExitUsage
	}
	if isHelp(args[0]) {
		groupUsage(stdout)
		groupFlags(stdout, group, cmds, order)
		return ExitOK
	}
	sub, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hookworker %s: unknown subcommand %q\n\n", group, args[0])
		groupUsage(stderr)
		return ExitUsage
	}
	name := "hookworker " + group + " " + args[0]
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s\n", name, sub.usage)
		fs.PrintDefaults()
	}
	check := sub.flags(fs)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if len(pos) != sub.args {
		fmt.Fprintf(stderr, "%s: takes %d argument(s), got %d\n", name, sub.args, len(pos))
		fs.Usage()
		return ExitUsage
	}
	act, err := check(pos, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}
	c, nc, code := dialAPI(name, stderr)
	if code != ExitOK {
		return code
	}
	defer nc.Close()
	if err := act(ctx, c, json.NewEncoder(stdout)); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
	return ExitOK
}

// groupFlags writes the flags of each subcommand of group that has any, in
// order, for `hookworker help <group>` and `hookworker <group> -h`.
func groupFlags(w io.Writer, group string, cmds map[string]apiCommand, order []string) {
	for _, name := range order {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		cmds[name].flags(fs)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			continue
		}
		fmt.Fprintf(w, "\nhookworker %s %s flags:\n", group, name)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// dialAPI loads the configuration and connects to NATS as name, and returns
// a client of the API over the connection, which the caller closes. When it
// fails, it has said why on stderr and returns the exit status to end with;
// else the status is ExitOK.
func dialAPI(name string, stderr io.Writer) (*client.Client, *nats.Conn, int) {
	cfg, ok := loadConfig(stderr)
	if !ok {
		return nil, nil, ExitUsage
	}
	nc, err := connect(cfg, name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, nil, ExitFailure
	}
	return client.New(nc, client.WithPrefix(cfg.APIPrefix)), nc, ExitOK
}

// The formats of ids and secrets, as the flags' help and the errors state
// them (job.ValidID, catalog.ValidEndpointID, catalog.ValidEventID and
// secret.Parse hold the rules).
const (
	jobIDFormat      = "1 to 128 of A-Za-z0-9_-:"
	endpointIDFormat = "1 to 63 of A-Za-z0-9_-"
	eventIDFormat    = "1 to 64 of A-Za-z0-9_-"
	secretFormat     = secret.Format
)

// checkEndpointID checks an endpoint id given as what.
func checkEndpointID(what, id string) error {
	if !catalog.ValidEndpointID(id) {
		return fmt.Errorf("%s %q is not an endpoint id (%s)", what, id, endpointIDFormat)
	}
	return nil
}

// checkTypeName checks an event type name given as what.
func checkTypeName(what, name string) error {
	if !catalog.ValidTypeName(name) {
		return fmt.Errorf("%s %q is not an event type name (dot-separated tokens of A-Za-z0-9_-, such as order.created)", what, name)
	}
	return nil
}

// checkEventID checks an event id given as what.
func checkEventID(what, id string) error {
	if !catalog.ValidEventID(id) {
		return fmt.Errorf("%s %q is not an event id (%s)", what, id, eventIDFormat)
	}
	return nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "-" || !strings.HasPrefix(args[0], "-") {
			pos = append(pos, args[0])
			args = args[1:]
			continue
		}
		return append(pos, args...), nil // after "--"
	}
}

// readJSONArg reads a JSON document from a file name, or standard input
// for "-".
func readJSONArg(what, name string, stdin io.Reader) (json.RawMessage, error) {
	var data []byte
	var err error
	if name == "-" {
		if stdin == nil {
			return nil, fmt.Errorf("%s: no standard input", what)
		}
		data, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%s must be JSON", what)
	}
	return data, nil
}

// eventTypeCommands are `hookworker event-type ...`.
var eventTypeCommands = map[string]apiCommand{
	"put": {"NAME [--description TEXT] [--schema FILE|-]", 1, func(fs *flag.FlagSet) apiCheck {
		desc := fs.String("description", "", "what the event means")
		schema := fs.String("schema", "", "file holding the payload's JSON Schema, - for standard input (default: any payload)")
		return func(args []string, stdin io.Reader) (apiAction, error) {
			if err := checkTypeName("event type", args[0]); err != nil {
				return nil, err
			}
			t := client.EventType{Name: args[0], Description: *desc}
			if *schema != "" {
				s, err := readJSONArg("--schema", *schema, stdin)
				if err != nil {
					return nil, err
				}
				t.Schema = s
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				return printed(out)(c.PutEventType(ctx, t))
			}, nil
		}
	}},
	"get": {"NAME", 1, nameCommand(func(ctx context.Context, c *client.Client, name string) (any, error) {
		return c.EventType(ctx, name)
	})},
	"rm": {"NAME", 1, nameCommand(func(ctx context.Context, c *client.Client, name string) (any, error) {
		return map[string]any{"name": name, "archived": true}, c.DeleteEventType(ctx, name)
	})},
	"list": {"[--archived]", 0, func(fs *flag.FlagSet) apiCheck {
		archived := fs.Bool("archived", false, "list the archived types too")
		return func([]string, io.Reader) (apiAction, error) {
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				return printAll(c.AllEventTypes(ctx, *archived), 0, out)
			}, nil
		}
	}},
}

// nameCommand is an event-type subcommand that takes one type name and
// prints what fn returns, unless it returns an error.
func nameCommand(fn func(ctx context.Context, c *client.Client, name string) (any, error)) func(*flag.FlagSet) apiCheck {
	return argCommand(func(name string) error { return checkTypeName("event type", name) }, fn)
}

// idCommand is an endpoint subcommand that takes one endpoint id and prints
// what fn returns, unless it returns an error.
func idCommand(fn func(ctx context.Context, c *client.Client, id string) (any, error)) func(*flag.FlagSet) apiCheck {
	return argCommand(func(id string) error { return checkEndpointID("endpoint id", id) }, fn)
}

// metadataArg is --metadata's value: nil when not given, an error when not
// JSON.
func metadataArg(s string) (json.RawMessage, error) {
	if s == "" {
		return nil, nil
	}
	if !json.Valid([]byte(s)) {
		return nil, errors.New("--metadata must be JSON")
	}
	return json.RawMessage(s), nil
}

// printed returns what prints an API call's result as one JSON line, or
// returns its error: printed(out)(c.Call(ctx, ...)).
func printed(out *json.Encoder) func(v any, err error) error {
	return func(v any, err error) error {
		if err != nil {
			return err
		}
		return out.Encode(v)
	}
}

// argCommand is a subcommand without flags that takes one argument, checked
// by check, and prints what fn returns, unless it returns an error.
func argCommand(check func(string) error, fn func(ctx context.Context, c *client.Client, arg string) (any, error)) func(*flag.FlagSet) apiCheck {
	return func(*flag.FlagSet) apiCheck {
		return func(args []string, _ io.Reader) (apiAction, error) {
			if err := check(args[0]); err != nil {
				return nil, err
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				return printed(out)(fn(ctx, c, args[0]))
			}, nil
		}
	}
}

// setDisabled is `endpoint disable|enable`: it puts the endpoint back with
// disabled set.
func setDisabled(disabled bool) func(fs *flag.FlagSet) apiCheck {
	return func(fs *flag.FlagSet) apiCheck {
		var reason *string
		if disabled {
			reason = fs.String("reason", "disabled by hand", "why it is disabled")
		}
		return func(args []string, _ io.Reader) (apiAction, error) {
			if err := checkEndpointID("endpoint id", args[0]); err != nil {
				return nil, err
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				ep, err := c.Endpoint(ctx, args[0])
				if err != nil {
					return err
				}
				ep.Disabled = disabled
				ep.DisabledReason = ""
				if disabled {
					ep.DisabledReason = *reason
				}
				return printed(out)(c.PutEndpoint(ctx, ep, ""))
			}, nil
		}
	}
}

// checkURL checks an endpoint URL given as what: an absolute http or https
// URL (the API checks the rest: where it points).
func checkURL(what, raw string) error {
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%s must be an absolute http or https URL", what)
	}
	return nil
}

// endpointCommands are `hookworker endpoint ...`.
var endpointCommands = map[string]apiCommand{
	"add": {"--url URL [--id ID] [--event-type T]... [--channel C]... [--metadata JSON] [--header K:V]... [--secret whsec_…] [--description TEXT] [--tenant ID] " + policyUsage, 0,
		func(fs *flag.FlagSet) apiCheck {
			var ep client.Endpoint
			var types, channels listFlag
			headers := headerFlag{}
			var metadata, secret string
			fs.StringVar(&ep.URL, "url", "", "where the endpoint's events are posted (required)")
			fs.StringVar(&ep.ID, "id", "", "endpoint id, "+endpointIDFormat+" (default: the endpoint that has --url, else a generated one)")
			fs.StringVar(&ep.Description, "description", "", "free text")
			fs.Var(&types, "event-type", "an event type it receives; repeatable (default: every type)")
			fs.Var(&channels, "channel", "a channel it listens to; repeatable (default: every event)")
			fs.StringVar(&metadata, "metadata", "", "a JSON object kept with the endpoint")
			fs.Var(headers, "header", "an extra request header Name:value (or Name=value); repeatable")
			fs.StringVar(&secret, "secret", "", "its signing secret, "+secretFormat+" (default: a generated one)")
			tenant, checkTenant := tenantFlag(fs, "the tenant it belongs to, for good: it receives that tenant's events only (default: none, the operator's own)")
			policy := policyFlags(fs)
			return func([]string, io.Reader) (apiAction, error) {
				if ep.URL == "" {
					return nil, errors.New("--url is required")
				}
				apply, err := policy()
				if err != nil {
					return nil, err
				}
				if err := apply(&ep); err != nil {
					return nil, err
				}
				if err := checkTenant(); err != nil {
					return nil, err
				}
				ep.Tenant = *tenant
				if err := checkURL("--url", ep.URL); err != nil {
					return nil, err
				}
				if ep.ID != "" {
					if err := checkEndpointID("--id", ep.ID); err != nil {
						return nil, err
					}
				}
				if ep.Metadata, err = metadataArg(metadata); err != nil {
					return nil, err
				}
				if secret != "" {
					if err := catalog.CheckSecret(secret); err != nil {
						return nil, fmt.Errorf("--secret %v", err)
					}
				}
				ep.EventTypes, ep.Channels = types, channels
				if len(headers) > 0 {
					ep.Headers = headers
				}
				return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
					return printed(out)(c.PutEndpoint(ctx, ep, secret))
				}, nil
			}
		}},
	"list": {"[--event-type T] [--channel C] [--tenant ID] [--asc] [--limit N]", 0, func(fs *flag.FlagSet) apiCheck {
		var q client.EndpointQuery
		fs.StringVar(&q.EventType, "event-type", "", "only the endpoints that receive this type")
		fs.StringVar(&q.Channel, "channel", "", "only the endpoints that listen to this channel")
		tenant, checkTenant := tenantFlag(fs, "only the endpoints of this tenant")
		asc := fs.Bool("asc", false, "oldest first (default: newest first)")
		limit := fs.Int("limit", 0, "print at most N endpoints (default: all)")
		return func([]string, io.Reader) (apiAction, error) {
			if *limit < 0 {
				return nil, errors.New("--limit must not be negative")
			}
			if err := checkTenant(); err != nil {
				return nil, err
			}
			q.Tenant = *tenant
			if *asc {
				q.Order = "asc"
			}
			if *limit > 0 {
				q.Limit = min(*limit, 1000)
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				return printAll(c.AllEndpoints(ctx, q), *limit, out)
			}, nil
		}
	}},
	"get": {"ID", 1, idCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		return c.Endpoint(ctx, id)
	})},
	"secret": {"ID", 1, idCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		s, err := c.Secret(ctx, id)
		return map[string]string{"secret": s}, err
	})},
	"rotate": {"ID [--secret whsec_…]", 1, func(fs *flag.FlagSet) apiCheck {
		secret := fs.String("secret", "", "the new secret, "+secretFormat+" (default: a generated one)")
		return func(args []string, _ io.Reader) (apiAction, error) {
			if err := checkEndpointID("endpoint id", args[0]); err != nil {
				return nil, err
			}
			if *secret != "" {
				if err := catalog.CheckSecret(*secret); err != nil {
					return nil, fmt.Errorf("--secret %v", err)
				}
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				if err := c.Rotate(ctx, args[0], *secret); err != nil {
					return err
				}
				return out.Encode(map[string]any{"id": args[0], "rotated": true})
			}, nil
		}
	}},
	"rm": {"ID", 1, idCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		return map[string]any{"id": id, "deleted": true}, c.DeleteEndpoint(ctx, id)
	})},
	"update":  {"ID [--description TEXT] " + policyUsage, 1, updateCommand},
	"recover": {"ID --since D|T [--until T] [--tenant ID]", 1, recoverCommand},
	"disable": {"ID [--reason TEXT]", 1, setDisabled(true)},
	"enable":  {"ID", 1, setDisabled(false)},
}

// eventCommands are `hookworker event ...`.
var eventCommands = map[string]apiCommand{
	"resend": {"EVENT_ID --endpoint ID", 1, resendCommand},
	"send": {"--type T --payload JSON|- [--channel C] [--id ID] [--tenant ID]", 0, func(fs *flag.FlagSet) apiCheck {
		var ev client.Event
		var payload string
		fs.StringVar(&ev.Type, "type", "", "the event type (required)")
		fs.StringVar(&payload, "payload", "", "the JSON payload, - for standard input (required)")
		fs.StringVar(&ev.Channel, "channel", "", "the channel it is sent on")
		fs.StringVar(&ev.ID, "id", "", "the event id, its idempotency key: "+eventIDFormat+" (default: a generated one)")
		tenant, checkTenant := tenantFlag(fs, "the tenant it is sent for: it reaches that tenant's endpoints only (default: none, the operator's own endpoints only)")
		return func(_ []string, stdin io.Reader) (apiAction, error) {
			if ev.Type == "" {
				return nil, errors.New("--type is required")
			}
			if err := checkTenant(); err != nil {
				return nil, err
			}
			ev.Tenant = *tenant
			if payload == "" {
				return nil, errors.New("--payload is required (- reads standard input)")
			}
			if err := checkTypeName("--type", ev.Type); err != nil {
				return nil, err
			}
			if ev.ID != "" {
				if err := checkEventID("--id", ev.ID); err != nil {
					return nil, err
				}
			}
			if ev.Channel != "" && !catalog.ValidChannel(ev.Channel) {
				return nil, fmt.Errorf("--channel %q is not a channel (1 to 128 of A-Za-z0-9_.:-)", ev.Channel)
			}
			switch payload {
			case "-":
				p, err := readJSONArg("--payload", "-", stdin)
				if err != nil {
					return nil, err
				}
				ev.Payload = p
			default:
				if !json.Valid([]byte(payload)) {
					return nil, errors.New("--payload must be JSON")
				}
				ev.Payload = json.RawMessage(payload)
			}
			return func(ctx context.Context, c *client.Client, out *json.Encoder) error {
				sent, err := c.SendEvent(ctx, ev)
				if err != nil {
					return err
				}
				if sent.Duplicate {
					// As `send` says of a job: the output is the first copy.
					fmt.Fprintf(fs.Output(), "%s: event %s was sent before; this copy was dropped\n", fs.Name(), sent.ID)
				}
				return out.Encode(sent)
			}, nil
		}
	}},
}

// Subcommand orders for the usage.
var (
	eventTypeOrder = []string{"put", "get", "rm", "list"}
	endpointOrder  = []string{"add", "update", "list", "get", "secret", "rotate", "rm", "recover", "disable", "enable"}
	eventOrder     = []string{"send", "resend"}
)
