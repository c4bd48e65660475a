package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/hookworker/hookworker/redact"
	"github.com/hookworker/hookworker/sender"
)

// Sender makes one HTTP delivery; *sender.Sender is the one used in
// production.
type Sender interface {
	// Send makes the delivery and returns its result; it never panics.
	Send(ctx context.Context, req sender.Request) sender.Result
}

var _ Sender = (*sender.Sender)(nil)

// Config configures a Client. The zero value is usable.
type Config struct {
	// Username is the default username of messages that set none. Empty
	// leaves the webhook's own name.
	Username string
	// AvatarURL is the default avatar of messages that set none. Empty
	// leaves the webhook's own avatar.
	AvatarURL string
	// Observer, when set, is told of every request held back by pacing.
	// Used only when Pacer is nil.
	Observer Observer
	// Pacer paces requests per webhook. Nil: New makes one, shared by every
	// send of the Client.
	Pacer *Pacer
	// Logger receives a debug line per message refused before sending. Nil
	// discards.
	Logger *slog.Logger
}

// Client sends Discord webhook messages through a Sender. It is safe for
// concurrent use and is meant to be built once per process, so that its
// Pacer sees every request.
type Client struct {
	d     Sender
	cfg   Config
	pacer *Pacer
	log   *slog.Logger
}

// New returns a Client delivering through d.
func New(d Sender, cfg Config) *Client {
	c := &Client{d: d, cfg: cfg, pacer: cfg.Pacer, log: cfg.Logger}
	if c.pacer == nil {
		c.pacer = NewPacer(PacerConfig{Observer: cfg.Observer})
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Pacer returns the Pacer the Client uses.
func (c *Client) Pacer() *Pacer { return c.pacer }

// Send sends m to the webhook URLs of req (one, or a pool). It applies the
// default identity, checks m and the URLs, and only then delegates to the
// Sender with the body, the query parameters (wait=true, and thread_id
// when set), Unsigned and the Pacer set on req. A message or URL that
// Discord would refuse gives a Rejected Result without any request. The
// Result's URL is the webhook URL as given, redacted.
func (c *Client) Send(ctx context.Context, m Message, req sender.Request) sender.Result {
	given := req.URLs
	if rejected := c.prepare(ctx, &m, &req); rejected != nil {
		return *rejected
	}
	res := c.d.Send(ctx, req)
	// Report the URL as given, not with the query parameters added here.
	for i := range req.URLs {
		if res.URL == redact.URL(req.URLs[i]) {
			res.URL = redact.URL(given[i])
			break
		}
	}
	if !res.OK && res.Defer == 0 {
		res.Error += discordError(res.Response)
	}
	return res
}

// prepare applies the default identity to m, checks it and the URLs of req,
// and turns req into the request for the Sender. It returns the Result
// of a message or URL Discord would refuse, or nil. It is apart from Send
// so that Send's frame, under the request while it waits on Discord, stays
// small.
func (c *Client) prepare(ctx context.Context, m *Message, req *sender.Request) *sender.Result {
	started := time.Now()
	*m = c.withIdentity(*m)
	if err := c.check(*m, req.URLs); err != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "discord message rejected",
			slog.String("job_id", req.ID), slog.String("error", err.Error()))
		r := &sender.Result{
			Outcome:    sender.Rejected,
			Error:      err.Error(),
			Attempts:   req.Prior.Attempts,
			Retries:    req.Prior.Retries,
			StartedAt:  started,
			FinishedAt: time.Now(),
		}
		if len(req.URLs) > 0 {
			r.URL = redactURL(req.URLs[0])
		}
		return r
	}
	body, err := m.Body()
	if err != nil {
		return &sender.Result{Outcome: sender.Rejected, Error: err.Error(), Attempts: req.Prior.Attempts,
			Retries: req.Prior.Retries, StartedAt: started, FinishedAt: time.Now()}
	}
	given := req.URLs
	req.URLs = make([]string, len(given))
	for i, raw := range given {
		req.URLs[i] = withQuery(raw, m.ThreadID)
	}
	req.Destinations = nil // parsed from the URLs with their query
	req.Body = body
	req.Unsigned = true
	req.Pacer = c.pacer
	return nil
}

// Check applies the Client's default identity to m and checks the result
// and the webhook URLs as Send would, without sending anything.
func (c *Client) Check(m Message, urls []string) error {
	return c.check(c.withIdentity(m), urls)
}

func (c *Client) check(m Message, urls []string) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if len(urls) == 0 {
		return &InvalidError{Reason: "no webhook url"}
	}
	for _, raw := range urls {
		if err := CheckWebhookURL(raw); err != nil {
			return err
		}
	}
	return nil
}

// withIdentity fills in the default username and avatar where m sets none.
func (c *Client) withIdentity(m Message) Message {
	if m.Username == "" {
		m.Username = c.cfg.Username
	}
	if m.AvatarURL == "" {
		m.AvatarURL = c.cfg.AvatarURL
	}
	return m
}

// CheckWebhookURL checks that raw is a Discord webhook URL: an http or https
// URL whose path is /api/webhooks/{id}/{token} or
// /api/v{n}/webhooks/{id}/{token}. Its error shows the URL redacted.
func CheckWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &InvalidError{Field: "url", Reason: redactURL(raw) + " is not an http or https URL"}
	}
	if _, _, ok := webhookPath(u.Path); !ok {
		return &InvalidError{Field: "url", Reason: redactURL(raw) + " is not a webhook URL (/api/webhooks/{id}/{token})"}
	}
	return nil
}

// redactURL hides the whole path of a URL that is not a well-formed
// webhook URL, since a mistyped webhook URL still holds its token.
func redactURL(raw string) string { return redact.Path(raw) }

// webhookPath splits a webhook URL path into its id and token.
func webhookPath(path string) (id, token string, ok bool) {
	rest, found := strings.CutPrefix(path, "/api/")
	if !found {
		return "", "", false
	}
	if v, after, cut := strings.Cut(rest, "/"); cut && len(v) > 1 && v[0] == 'v' && digits(v[1:]) {
		rest = after
	}
	rest, found = strings.CutPrefix(rest, "webhooks/")
	if !found {
		return "", "", false
	}
	rest = strings.TrimSuffix(rest, "/")
	id, token, found = strings.Cut(rest, "/")
	if !found || !snowflake(id) || token == "" || strings.Contains(token, "/") {
		return "", "", false
	}
	return id, token, true
}

// digits reports whether s is one or more decimal digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// withQuery adds wait=true and, when set, thread_id to a webhook URL
// (already checked to parse).
func withQuery(raw, threadID string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("wait", "true")
	if threadID != "" {
		q.Set("thread_id", threadID)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// discordError returns ": <message> (code <n>)" from Discord's JSON error
// body, or "" when the body is not one.
func discordError(resp json.RawMessage) string {
	if len(resp) == 0 || resp[0] != '{' {
		return ""
	}
	var e struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
	if json.Unmarshal(resp, &e) != nil || e.Message == "" {
		return ""
	}
	msg := e.Message
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "…"
	}
	if e.Code != 0 {
		return fmt.Sprintf(": %s (code %d)", msg, e.Code)
	}
	return ": " + msg
}
