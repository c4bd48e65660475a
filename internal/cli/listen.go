package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/internal/address"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/receiver"
	"github.com/hookworker/hookworker/redact"
)

// listenUsage explains `hookworker listen`.
const listenUsage = `Usage: hookworker listen [--addr HOST:PORT] [--endpoint ID] [--event-type T]... [--url URL] [--secret whsec_…] [--secret-refresh 30s]

A local receiver for development. It registers the endpoint for its address
through the API (or reuses it: same id, same secret), then verifies every
webhook it gets with the endpoint's secret, prints it on standard output as one
JSON line {"webhook_id", "type", "timestamp", "data"} and answers 204. A request
that fails verification is answered 403 and logged on standard error, without
its body. It stops on SIGINT or SIGTERM.

The endpoint posts to http://HOST:PORT/ unless --url says otherwise (a tunnel,
another name). An endpoint that exists with another URL is moved to this one,
and given the --event-type list when there is one; nothing else of it changes.
Without --endpoint, listen uses the endpoint that has the URL, else this
machine's listen-HOSTNAME: created the first time, moved to each new address
after, so a listen on a new address (--addr 127.0.0.1:0) leaves no endpoint
behind. Two listens on one machine at once each need their own --endpoint.
Every delivery is printed, repeats of a webhook-id too (a resend shows up).

The workers deliver to a loopback or private address only when they allow it:
run them with HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true, or with
HOOKWORKER_ALLOWED_NETWORKS naming the address (127.0.0.1/32), for listen on
127.0.0.1 to get anything. The API refuses such an endpoint URL otherwise.

listen verifies with the endpoint's secret, which it reads again every
--secret-refresh: after "hookworker endpoint rotate" it verifies with the new
secret, and with the old one too for requests signed before.

Exit status: 0 stopped by a signal, 1 the API cannot be reached or answered an
error (or the address cannot be listened on), 2 a bad flag.

Flags:
`

// listenShutdown bounds how long listen waits for requests in flight when
// it stops.
const listenShutdown = 5 * time.Second

// listen is `hookworker listen`.
func listen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookworker listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on, HOST:PORT (port 0: any free port)")
	id := fs.String("endpoint", "", "the endpoint id, "+endpointIDFormat+" (default: the endpoint that has the URL, else "+defaultListenID(hostname())+")")
	var types listFlag
	fs.Var(&types, "event-type", "an event type the endpoint receives; repeatable (default: every type)")
	rawURL := fs.String("url", "", "the URL the endpoint posts to (default: http://HOST:PORT/ of --addr)")
	secret := fs.String("secret", "", "the signing secret of an endpoint listen creates, "+secretFormat+" (default: a generated one)")
	refresh := fs.Duration("secret-refresh", 30*time.Second, "how often listen reads the endpoint's secret again, to follow a rotation")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), listenUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hookworker listen: "+format+"\n", a...)
		return ExitUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return bad("--addr must be HOST:PORT: %v", err)
	}
	if *id != "" && !catalog.ValidEndpointID(*id) {
		return bad("--endpoint must be %s", endpointIDFormat)
	}
	for _, t := range types {
		if !catalog.ValidTypeName(t) {
			return bad("--event-type %q is not an event type name", t)
		}
	}
	if *rawURL != "" {
		if u, err := url.Parse(*rawURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return bad("--url must be an absolute http or https URL")
		}
	}
	if *secret != "" {
		if err := catalog.CheckSecret(*secret); err != nil {
			return bad("--secret %v", err)
		}
	}
	if *refresh <= 0 {
		return bad("--secret-refresh must be positive")
	}
	cfg, ok := loadConfig(stderr)
	if !ok {
		return ExitUsage
	}
	log, err := config.NewLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return bad("%v", err)
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hookworker listen: "+format+"\n", a...)
		return ExitFailure
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return fail("%v", err)
	}
	defer ln.Close()
	want := client.Endpoint{ID: *id, URL: *rawURL, EventTypes: types}
	if want.URL == "" {
		want.URL = listenURL(host, ln.Addr())
	}

	nc, err := connect(cfg, "hookworker listen")
	if err != nil {
		return fail("%v", err)
	}
	defer nc.Close()
	c := client.New(nc, client.WithPrefix(cfg.APIPrefix))
	if want.ID == "" {
		if want.ID, err = listenEndpoint(ctx, c, want.URL); err != nil {
			return fail("%v", err)
		}
	}
	var opts []receiver.RegisterOption
	if *secret != "" {
		opts = append(opts, receiver.WithSecret(*secret))
	}
	key, ep, err := receiver.Register(ctx, c, want, opts...)
	if err != nil {
		return fail("%v%s", err, privateHint(err))
	}
	if *secret != "" && key != *secret {
		log.Warn("the endpoint exists with another secret: verifying with its own, not --secret", "endpoint", ep.ID)
	}
	if moved := ep.URL != want.URL; moved || (len(types) > 0 && !sameSet(ep.EventTypes, types)) {
		from := ep.URL
		ep.URL = want.URL
		if len(types) > 0 {
			ep.EventTypes = types
		}
		if ep, err = c.PutEndpoint(ctx, ep, ""); err != nil {
			return fail("update endpoint %s: %v%s", ep.ID, err, privateHint(err))
		}
		if moved {
			log.Info("endpoint moved to this address", "endpoint", ep.ID, "from", redact.URL(from), "url", redact.URL(ep.URL))
		}
	}
	if ep.Disabled {
		log.Warn("the endpoint is disabled and gets nothing: run hookworker endpoint enable "+ep.ID, "endpoint", ep.ID, "reason", ep.DisabledReason)
	}
	if note := privateNote(ep.URL); note != "" {
		log.Info(note)
	}

	rc, err := receiver.New(receiver.Config{Secrets: []string{key}, Store: everyDelivery{}, Logger: log})
	if err != nil {
		return fail("%v", err)
	}
	p := &printer{enc: json.NewEncoder(stdout)}
	rc.Default(p.print)
	go followSecret(ctx, c, ep.ID, key, *refresh, rc, log)
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "endpoint", ep.ID, "url", redact.URL(ep.URL), "event_types", ep.EventTypes)

	select {
	case err := <-served:
		return fail("serve: %v", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listenShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at shutdown", "error", err)
	}
	log.Info("listen stopped")
	return ExitOK
}

// followSecret reads the secret of endpoint id every interval until ctx
// ends; when it has changed (a rotation), rc verifies with the new secret
// and the one before it, which signs alongside for the rotation's grace
// period and signed the requests still being retried.
func followSecret(ctx context.Context, c *client.Client, id, current string, interval time.Duration, rc *receiver.Receiver, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s, err := c.Secret(ctx, id)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("read the endpoint's secret again", "endpoint", id, "error", err)
			}
			continue
		}
		if s == current {
			continue
		}
		if err := rc.SetSecrets([]string{s, current}); err != nil {
			log.Warn("the endpoint's new secret", "endpoint", id, "error", err)
			continue
		}
		current = s
		log.Info("the endpoint's secret changed: verifying with the new one, and the one before", "endpoint", id)
	}
}

// listenEndpoint is the id of the endpoint listen uses without --endpoint:
// the endpoint that has url when there is one, else this machine's
// listen-HOSTNAME, which Register creates the first time and listen moves to
// each new address after. So a listen on a new address (--addr
// 127.0.0.1:0) takes the endpoint of the last one along instead of leaving
// it behind, failing every event until it is disabled.
func listenEndpoint(ctx context.Context, c *client.Client, url string) (string, error) {
	for ep, err := range c.AllEndpoints(ctx, client.EndpointQuery{Order: "asc", Limit: 1000}) {
		if err != nil {
			return "", fmt.Errorf("list the endpoints: %w", err)
		}
		if ep.URL == url {
			return ep.ID, nil
		}
	}
	return defaultListenID(hostname()), nil
}

// hostname is this machine's name, or "" when it has none.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// defaultListenID is the endpoint id listen uses on the machine named host:
// listen-HOST, each character of host that an endpoint id cannot hold
// (A-Za-z0-9_-) made "-", cut to an id's 63 characters; "listen" without a
// host.
func defaultListenID(host string) string {
	host = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, host)
	if host == "" {
		return "listen"
	}
	id := "listen-" + host
	if len(id) > 63 {
		id = id[:63]
	}
	return id
}

// listenURL is the URL of a listener on addr asked for with host: the host
// as given (this machine when unspecified), the port as bound.
func listenURL(host string, addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// privateHint adds what to set to an API error that refused a non-public
// endpoint URL.
func privateHint(err error) string {
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Field != "url" || !strings.Contains(apiErr.Description, "not a public address") {
		return ""
	}
	return "\nthe workers refuse a non-public address unless they allow it: run them with HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true" +
		" (or HOOKWORKER_ALLOWED_NETWORKS naming the address, e.g. 127.0.0.1/32), or give --url a public URL that reaches this address"
}

// privateNote says, for an endpoint URL the workers' default address policy
// refuses (loopback, a private network, localhost, ...), what the workers
// need to deliver to it.
func privateNote(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	var refused *address.RefusedError
	if !errors.As(address.Policy{}.CheckURL(u), &refused) {
		return ""
	}
	return "the workers deliver to " + u.Hostname() + " only with HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true or HOOKWORKER_ALLOWED_NETWORKS naming it"
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// printer writes each event as one JSON line.
type printer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// line is what listen prints for one webhook.
type line struct {
	WebhookID string          `json:"webhook_id"`
	Type      string          `json:"type"`
	Timestamp *time.Time      `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// print writes ev; an error (standard output gone) makes the sender retry.
func (p *printer) print(_ context.Context, ev receiver.Event) error {
	l := line{WebhookID: ev.ID, Type: ev.Type, Data: ev.Data}
	if !ev.Timestamp.IsZero() {
		ts := ev.Timestamp
		l.Timestamp = &ts
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.enc.Encode(l)
}

// everyDelivery is a receiver.Store that remembers nothing: listen shows
// every delivery, a repeat of a webhook-id too.
type everyDelivery struct{}

// Claim always claims.
func (everyDelivery) Claim(context.Context, string) (receiver.Claim, error) {
	return receiver.Claimed, nil
}

// Complete records nothing.
func (everyDelivery) Complete(context.Context, string) error { return nil }

// Release releases nothing.
func (everyDelivery) Release(context.Context, string) error { return nil }
