package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/discord"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/redact"
	"github.com/hookworker/hookworker/slack"
)

// listFlag collects a repeatable flag; each value may be a comma-separated
// list.
type listFlag []string

// String returns the values comma-separated.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds one value or a comma-separated list.
func (l *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// headerFlag collects repeatable headers, each "Name: value" or
// "Name=value": a header name holds neither ':' nor '=', so the first of
// them ends it. Space around the name and the value is dropped.
type headerFlag map[string]string

// String returns the headers.
func (h headerFlag) String() string { return fmt.Sprint(map[string]string(h)) }

// Set adds one header.
func (h headerFlag) Set(v string) error {
	i := strings.IndexAny(v, ":=")
	if i < 0 || strings.TrimSpace(v[:i]) == "" {
		return errors.New(`want Name:value (or Name=value)`)
	}
	h[strings.TrimSpace(v[:i])] = strings.TrimSpace(v[i+1:])
	return nil
}

// send is `hookworker send`: publish one job with Nats-Msg-Id set to its id
// and print the id; with --wait, print its result too.
func send(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hookworker send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := jobFlags{headers: headerFlag{}}
	fs.Var(&f.urls, "url", "destination URL; repeat or comma-separate for a pool (urls)")
	fs.StringVar(&f.payload, "payload", "", "JSON payload of a webhook job (default {})")
	fs.StringVar(&f.typ, "type", "", `job type: webhook, discord or slack (default webhook, discord with --content, slack with --text or --slack)`)
	fs.StringVar(&f.content, "content", "", "Discord message content")
	fs.StringVar(&f.username, "username", "", "Discord (or legacy Slack webhook) username")
	fs.StringVar(&f.text, "text", "", "Slack message text (mrkdwn)")
	fs.StringVar(&f.slack, "slack", "", `the whole slack object of a Slack job, as JSON (--text sets its text)`)
	fs.StringVar(&f.id, "id", "", "job id, "+jobIDFormat+" (default: a generated one)")
	fs.Var(f.headers, "header", "extra request header Name:value (or Name=value); repeatable")
	fs.StringVar(&f.meta, "meta", "", "JSON value echoed in the result")
	fs.DurationVar(&f.jobTimeout, "job-timeout", 0, "the job's per-attempt HTTP timeout (default: the worker's)")
	fs.IntVar(&f.maxRetries, "max-retries", 0, "the job's max_retries (default: the worker's)")
	fs.IntVar(&f.maxProxyRetries, "max-proxy-retries", 0, "the job's max_proxy_retries (default: the worker's)")
	wait := fs.Bool("wait", false, "wait for the result and print it on standard output (the id goes to standard error); exit 1 unless delivered")
	timeout := fs.Duration("timeout", 60*time.Second, "how long --wait waits for the result (see --job-timeout for the job's own)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: hookworker send [flags] [-]\n\nPublishes one job, built from the flags or read as JSON from standard input\n(\"-\", or when standard input is not a terminal and --url is not given),\nand prints its id.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	f.given = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.given[fl.Name] = true })
	fromStdin := false
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "-":
		fromStdin = true
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "hookworker send: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	case len(f.urls) == 0 && stdin != nil && !isTerminal(stdin):
		fromStdin = true
	}

	var data []byte
	var err error
	if fromStdin {
		if stdin == nil {
			fmt.Fprintln(stderr, "hookworker send: no standard input")
			return ExitUsage
		}
		data, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
		if err != nil {
			fmt.Fprintf(stderr, "hookworker send: read standard input: %v\n", err)
			return ExitFailure
		}
		data = bytes.TrimSpace(data)
	} else {
		data, err = buildJob(f)
		if err != nil {
			fmt.Fprintf(stderr, "hookworker send: %v\n", err)
			return ExitUsage
		}
	}
	jobID, err := jobID(data, f.id)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker send: %v\n", err)
		return ExitUsage
	}
	j, err := job.Decode(data, jobID)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker send: invalid job: %v\n", err)
		return ExitUsage
	}

	cfg, ok := loadConfig(stderr)
	if !ok {
		return ExitUsage
	}
	for _, name := range config.Unknown() {
		fmt.Fprintf(stderr, "hookworker send: warning: unknown variable %s ignored; check its spelling in hookworker -h\n", name)
	}
	if err := checkDiscord(cfg, j); err != nil {
		fmt.Fprintf(stderr, "hookworker send: invalid job: %v\n", err)
		return ExitUsage
	}
	if err := checkSlack(j); err != nil {
		fmt.Fprintf(stderr, "hookworker send: invalid job: %v\n", err)
		return ExitUsage
	}
	nc, err := connect(cfg, "hookworker send")
	if err != nil {
		fmt.Fprintf(stderr, "hookworker send: %v\n", err)
		return ExitFailure
	}
	defer nc.Close()
	msg := nats.NewMsg(cfg.Subject)
	msg.Data = data
	msg.Header.Set(nats.MsgIdHdr, jobID)
	if size, limit := msgSize(msg), nc.MaxPayload(); size > limit {
		fmt.Fprintf(stderr, "hookworker send: invalid job: %d bytes with its headers, more than the %d bytes the NATS server accepts in one message (its max_payload)\n", size, limit)
		return ExitUsage
	}

	var results chan *nats.Msg
	if *wait {
		results = make(chan *nats.Msg, 1)
		sub, err := nc.Subscribe(cfg.ResultSubject, func(m *nats.Msg) {
			if m.Header.Get(job.HeaderJobID) == jobID {
				select {
				case results <- m:
				default:
				}
			}
		})
		if err != nil {
			fmt.Fprintf(stderr, "hookworker send: subscribe to results: %v\n", err)
			return ExitFailure
		}
		defer sub.Unsubscribe()
		if err := nc.Flush(); err != nil {
			fmt.Fprintf(stderr, "hookworker send: subscribe to results: %v\n", err)
			return ExitFailure
		}
	}

	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "hookworker send: %v\n", err)
		return ExitFailure
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ack, err := js.PublishMsg(pctx, msg)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "hookworker send: publish job %s: %v\n", jobID, err)
		return ExitFailure
	}
	if ack.Duplicate {
		fmt.Fprintf(stderr, "hookworker send: job %s was published before; this copy was dropped\n", jobID)
	}
	if !*wait {
		fmt.Fprintln(stdout, jobID)
		return ExitOK
	}
	fmt.Fprintln(stderr, jobID)
	t := time.NewTimer(*timeout)
	defer t.Stop()
	if ack.Duplicate {
		// The first copy may be done already: its result is then stored,
		// and the subscription above will never see it.
		c := client.New(nc, client.WithJobSubjects(cfg.Subject, cfg.ResultSubject, cfg.ResultStream),
			client.WithWaitLookback(bus.JobDuplicates+time.Minute))
		stored, err := c.LastResult(ctx, jobID)
		if err != nil {
			fmt.Fprintf(stderr, "hookworker send: look for the stored result of job %s: %v\n", jobID, err)
		}
		if stored != nil {
			select {
			case results <- stored:
			default: // the subscription has delivered it meanwhile
			}
		}
	}
	select {
	case m := <-results:
		fmt.Fprintln(stdout, string(m.Data))
		if m.Header.Get(job.HeaderOutcome) == string(job.Delivered) {
			return ExitOK
		}
		return ExitFailure
	case <-t.C:
		fmt.Fprintf(stderr, "hookworker send: no result for job %s within %s\n", jobID, *timeout)
		return ExitFailure
	case <-ctx.Done():
		return ExitFailure
	}
}

// msgSize returns the size the server counts against its max payload: the
// data and the headers as NATS encodes them.
func msgSize(m *nats.Msg) int64 {
	n := len("NATS/1.0\r\n\r\n") + len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return int64(n)
}

// checkDiscord checks the message of a Discord job as the worker will, with
// the configured default identity, so that a message the worker would reject
// is refused before it is published.
func checkDiscord(cfg config.Config, j job.Job) error {
	if j.Type != job.Discord {
		return nil
	}
	c := discord.New(nil, discord.Config{Username: cfg.DiscordUsername, AvatarURL: cfg.DiscordAvatarURL})
	_, err := c.Prepare(&j)
	return err
}

// checkSlack checks the message and the webhook URLs of a Slack job as the
// worker will, so that a job the worker would reject is refused before it
// is published. Its error shows no token.
func checkSlack(j job.Job) error {
	if j.Type != job.Slack {
		return nil
	}
	_, err := slack.New(nil, slack.Config{}).Prepare(&j)
	return err
}

// jobFlags are the flags send builds a job from.
type jobFlags struct {
	urls                        listFlag
	headers                     headerFlag
	payload, typ, content, meta string
	username, id, text, slack   string
	jobTimeout                  time.Duration
	maxRetries, maxProxyRetries int
	given                       map[string]bool // the flags set on the command line
}

// buildJob makes the job JSON from the flags.
func buildJob(f jobFlags) ([]byte, error) {
	if len(f.urls) == 0 {
		return nil, errors.New("--url is required (or give the job JSON on standard input)")
	}
	typ := f.typ
	if typ == "" {
		typ = string(job.Webhook)
		switch {
		case f.content != "":
			typ = string(job.Discord)
		case f.text != "" || f.slack != "":
			typ = string(job.Slack)
		}
	}
	if job.Type(typ) != job.Slack && (f.text != "" || f.slack != "") {
		return nil, errors.New("--text and --slack are for a job of type slack")
	}
	j := map[string]any{"type": typ}
	if f.id != "" {
		j["id"] = f.id
	}
	if len(f.urls) == 1 {
		j["url"] = f.urls[0]
	} else {
		j["urls"] = f.urls
	}
	switch job.Type(typ) {
	case job.Discord:
		d := map[string]any{}
		if f.content != "" {
			d["content"] = f.content
		}
		if f.username != "" {
			d["username"] = f.username
		}
		j["discord"] = d
	case job.Slack:
		m := map[string]json.RawMessage{}
		if f.slack != "" {
			dec := json.NewDecoder(strings.NewReader(f.slack))
			if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
				return nil, errors.New("--slack must be a JSON object")
			}
		}
		if f.text != "" {
			text, _ := json.Marshal(f.text)
			m["text"] = text
		}
		if f.username != "" {
			name, _ := json.Marshal(f.username)
			m["username"] = name
		}
		j["slack"] = m
	default:
		payload := f.payload
		if payload == "" {
			payload = "{}"
		}
		if !json.Valid([]byte(payload)) {
			return nil, errors.New("--payload must be JSON")
		}
		j["payload"] = json.RawMessage(payload)
	}
	if len(f.headers) > 0 {
		j["headers"] = f.headers
	}
	if f.meta != "" {
		if !json.Valid([]byte(f.meta)) {
			return nil, errors.New("--meta must be JSON")
		}
		j["meta"] = json.RawMessage(f.meta)
	}
	if f.given["job-timeout"] {
		j["timeout"] = f.jobTimeout.String()
	}
	if f.given["max-retries"] {
		j["max_retries"] = f.maxRetries
	}
	if f.given["max-proxy-retries"] {
		j["max_proxy_retries"] = f.maxProxyRetries
	}
	return json.Marshal(j)
}

// jobID returns the id of the job in data: its own, else the --id flag,
// else a new one.
func jobID(data []byte, flagID string) (string, error) {
	var v struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("invalid job JSON: %v", err)
	}
	if v.ID != nil && *v.ID != "" {
		return *v.ID, nil
	}
	if flagID != "" {
		return flagID, nil
	}
	return nuid.Next(), nil
}

// connect connects to the configured NATS server, or to the embedded server
// of a running worker. When no server answers, the error says where it
// tried (without credentials) and how to start the worker.
func connect(cfg config.Config, name string) (*nats.Conn, error) {
	url := cfg.NATSURL
	if url == "" {
		url = "nats://" + dialable(cfg.EmbeddedListen)
	}
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second)}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	nc, err := nats.Connect(url, opts...)
	if errors.Is(err, nats.ErrNoServers) {
		return nil, fmt.Errorf("cannot reach NATS at %s: is the worker running? start it with `hookworker` or set HOOKWORKER_NATS_URL (%w)", redact.Servers(url), err)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redact.Servers(url), err)
	}
	return nc, nil
}

// dialable turns a listen address into one to dial: an empty or unspecified
// host (":4222", "0.0.0.0:4222") means this machine.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
