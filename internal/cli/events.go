package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hookworker/hookworker/client"
)

// apiCommand is one subcommand of event-type, endpoint or event: its flags
// are defined on fs, and do runs it with the client once they are parsed,
// with the positional arguments.
type apiCommand struct {
	usage string // the arguments, for the usage line
	args  int    // how many positional arguments it takes
	flags func(fs *flag.FlagSet) func(ctx context.Context, c *client.Client, args []string, stdin io.Reader, out *json.Encoder) error
}

// apiGroup runs `hookworker <group> <sub> ...` from cmds: exit 0 when it is
// done, 1 when the API answers an error or cannot be reached, 2 for a bad
// subcommand, flag or argument.
func apiGroup(ctx context.Context, group string, cmds map[string]apiCommand, order []string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage:\n")
		for _, name := range order {
			fmt.Fprintf(w, "  hookworker %s %s %s\n", group, name, cmds[name].usage)
		}
		fmt.Fprintf(w, "\nOutput is one JSON object a line. Exit status: 0 done, 1 the API answered an error, 2 a bad flag.\n")
	}
	if len(args) == 0 || isHelp(args[0]) {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		groupUsage(w)
		if len(args) == 0 {
			return ExitUsage
		}
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
	do := sub.flags(fs)
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
	cfg, ok := loadConfig(stderr)
	if !ok {
		return ExitUsage
	}
	nc, err := connect(cfg, name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
	defer nc.Close()
	c := client.New(nc, client.WithPrefix(cfg.APIPrefix))
	if err := do(ctx, c, pos, stdin, json.NewEncoder(stdout)); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		var ue usageError
		if errors.As(err, &ue) {
			return ExitUsage
		}
		return ExitFailure
	}
	return ExitOK
}

// usageError is a bad flag value found after parsing.
type usageError struct{ error }

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
			return nil, usageError{fmt.Errorf("%s: no standard input", what)}
		}
		data, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %v", what, err)}
	}
	if !json.Valid(data) {
		return nil, usageError{fmt.Errorf("%s must be JSON", what)}
	}
	return data, nil
}

// eventTypeCommands are `hookworker event-type ...`.
var eventTypeCommands = map[string]apiCommand{
	"put": {"NAME [--description TEXT] [--schema FILE|-]", 1, func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		desc := fs.String("description", "", "what the event means")
		schema := fs.String("schema", "", "file holding the payload's JSON Schema, - for standard input (default: any payload)")
		return func(ctx context.Context, c *client.Client, args []string, stdin io.Reader, out *json.Encoder) error {
			t := client.EventType{Name: args[0], Description: *desc}
			if *schema != "" {
				s, err := readJSONArg("--schema", *schema, stdin)
				if err != nil {
					return err
				}
				t.Schema = s
			}
			got, err := c.PutEventType(ctx, t)
			if err != nil {
				return err
			}
			return out.Encode(got)
		}
	}},
	"get": {"NAME", 1, func(*flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		return func(ctx context.Context, c *client.Client, args []string, _ io.Reader, out *json.Encoder) error {
			got, err := c.EventType(ctx, args[0])
			if err != nil {
				return err
			}
			return out.Encode(got)
		}
	}},
	"rm": {"NAME", 1, func(*flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		return func(ctx context.Context, c *client.Client, args []string, _ io.Reader, out *json.Encoder) error {
			if err := c.DeleteEventType(ctx, args[0]); err != nil {
				return err
			}
			return out.Encode(map[string]any{"name": args[0], "archived": true})
		}
	}},
	"list": {"[--archived]", 0, func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		archived := fs.Bool("archived", false, "list the archived types too")
		return func(ctx context.Context, c *client.Client, _ []string, _ io.Reader, out *json.Encoder) error {
			list, err := c.EventTypes(ctx, *archived)
			if err != nil {
				return err
			}
			for _, t := range list {
				if err := out.Encode(t); err != nil {
					return err
				}
			}
			return nil
		}
	}},
}

// setDisabled is `endpoint disable|enable`: it puts the endpoint back with
// disabled set.
func setDisabled(disabled bool) func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
	return func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		var reason *string
		if disabled {
			reason = fs.String("reason", "disabled by hand", "why it is disabled")
		}
		return func(ctx context.Context, c *client.Client, args []string, _ io.Reader, out *json.Encoder) error {
			ep, err := c.Endpoint(ctx, args[0])
			if err != nil {
				return err
			}
			ep.Disabled = disabled
			ep.DisabledReason = ""
			if disabled {
				ep.DisabledReason = *reason
			}
			got, err := c.PutEndpoint(ctx, ep, "")
			if err != nil {
				return err
			}
			return out.Encode(got)
		}
	}
}

// idCommand is an endpoint subcommand that takes one id and prints what
// fn returns.
func idCommand(fn func(ctx context.Context, c *client.Client, id string) (any, error)) func(*flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
	return func(*flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		return func(ctx context.Context, c *client.Client, args []string, _ io.Reader, out *json.Encoder) error {
			v, err := fn(ctx, c, args[0])
			if err != nil {
				return err
			}
			return out.Encode(v)
		}
	}
}

// endpointCommands are `hookworker endpoint ...`.
var endpointCommands = map[string]apiCommand{
	"add": {"--url URL [--id ID] [--event-type T]... [--channel C]... [--metadata JSON] [--header K:V]... [--secret whsec_…] [--description TEXT]", 0,
		func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
			var ep client.Endpoint
			var types, channels listFlag
			headers := headerFlag{}
			var metadata, secret string
			fs.StringVar(&ep.URL, "url", "", "where the endpoint's events are posted (required)")
			fs.StringVar(&ep.ID, "id", "", "endpoint id (default: the endpoint that has --url, else a generated one)")
			fs.StringVar(&ep.Description, "description", "", "free text")
			fs.Var(&types, "event-type", "an event type it receives; repeatable (default: every type)")
			fs.Var(&channels, "channel", "a channel it listens to; repeatable (default: every event)")
			fs.StringVar(&metadata, "metadata", "", "a JSON object kept with the endpoint")
			fs.Var(headers, "header", "an extra request header Name:value (or Name=value); repeatable")
			fs.StringVar(&secret, "secret", "", "its signing secret, whsec_… (default: a generated one)")
			return func(ctx context.Context, c *client.Client, _ []string, _ io.Reader, out *json.Encoder) error {
				if ep.URL == "" {
					return usageError{errors.New("--url is required")}
				}
				if metadata != "" {
					if !json.Valid([]byte(metadata)) {
						return usageError{errors.New("--metadata must be JSON")}
					}
					ep.Metadata = json.RawMessage(metadata)
				}
				ep.EventTypes, ep.Channels = types, channels
				if len(headers) > 0 {
					ep.Headers = headers
				}
				got, err := c.PutEndpoint(ctx, ep, secret)
				if err != nil {
					return err
				}
				return out.Encode(got)
			}
		}},
	"list": {"[--event-type T] [--channel C] [--asc] [--limit N]", 0, func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		var q client.EndpointQuery
		fs.StringVar(&q.EventType, "event-type", "", "only the endpoints that receive this type")
		fs.StringVar(&q.Channel, "channel", "", "only the endpoints that listen to this channel")
		asc := fs.Bool("asc", false, "oldest first (default: newest first)")
		limit := fs.Int("limit", 0, "print at most N endpoints (default: all)")
		return func(ctx context.Context, c *client.Client, _ []string, _ io.Reader, out *json.Encoder) error {
			if *limit < 0 {
				return usageError{errors.New("--limit must not be negative")}
			}
			if *asc {
				q.Order = "asc"
			}
			if *limit > 0 {
				q.Limit = min(*limit, 1000)
			}
			n := 0
			for ep, err := range c.AllEndpoints(ctx, q) {
				if err != nil {
					return err
				}
				if err := out.Encode(ep); err != nil {
					return err
				}
				if n++; *limit > 0 && n >= *limit {
					break
				}
			}
			return nil
		}
	}},
	"get": {"ID", 1, idCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		return c.Endpoint(ctx, id)
	})},
	"secret": {"ID", 1, idCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		s, err := c.Secret(ctx, id)
		return map[string]string{"secret": s}, err
	})},
	"rotate": {"ID [--secret whsec_…]", 1, func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		secret := fs.String("secret", "", "the new secret (default: a generated one)")
		return func(ctx context.Context, c *client.Client, args []string, _ io.Reader, out *json.Encoder) error {
			if err := c.Rotate(ctx, args[0], *secret); err != nil {
				return err
			}
			return out.Encode(map[string]any{"id": args[0], "rotated": true})
		}
	}},
	"rm": {"ID", 1, idCommand(func(ctx context.Context, c *client.Client, id string) (any, error) {
		return map[string]any{"id": id, "deleted": true}, c.DeleteEndpoint(ctx, id)
	})},
	"recover": {"ID --since D|T [--until T]", 1, recoverCommand},
	"disable": {"ID [--reason TEXT]", 1, setDisabled(true)},
	"enable":  {"ID", 1, setDisabled(false)},
}

// eventCommands are `hookworker event ...`.
var eventCommands = map[string]apiCommand{
	"resend": {"EVENT_ID --endpoint ID", 1, resendCommand},
	"send": {"--type T --payload JSON|- [--channel C] [--id ID]", 0, func(fs *flag.FlagSet) func(context.Context, *client.Client, []string, io.Reader, *json.Encoder) error {
		var ev client.Event
		var payload string
		fs.StringVar(&ev.Type, "type", "", "the event type (required)")
		fs.StringVar(&payload, "payload", "", "the JSON payload, - for standard input (required)")
		fs.StringVar(&ev.Channel, "channel", "", "the channel it is sent on")
		fs.StringVar(&ev.ID, "id", "", "the event id, its idempotency key (default: a generated one)")
		return func(ctx context.Context, c *client.Client, _ []string, stdin io.Reader, out *json.Encoder) error {
			if ev.Type == "" {
				return usageError{errors.New("--type is required")}
			}
			switch payload {
			case "":
				return usageError{errors.New("--payload is required (- reads standard input)")}
			case "-":
				p, err := readJSONArg("--payload", "-", stdin)
				if err != nil {
					return err
				}
				ev.Payload = p
			default:
				if !json.Valid([]byte(payload)) {
					return usageError{errors.New("--payload must be JSON")}
				}
				ev.Payload = json.RawMessage(payload)
			}
			sent, err := c.SendEvent(ctx, ev)
			if err != nil {
				return err
			}
			return out.Encode(sent)
		}
	}},
}

// Subcommand orders for the usage.
var (
	eventTypeOrder = []string{"put", "get", "rm", "list"}
	endpointOrder  = []string{"add", "list", "get", "secret", "rotate", "rm", "recover", "disable", "enable"}
	eventOrder     = []string{"send", "resend"}
)
