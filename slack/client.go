package slack

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

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
	// Pacer paces requests per webhook. Nil: New makes one with the
	// default pace, shared by every send of the Client.
	Pacer *Pacer
	// Observer, when set, is told of every request held back by pacing.
	// Used only when Pacer is nil.
	Observer Observer
	// Logger receives a debug line per message refused before sending. Nil
	// discards.
	Logger *slog.Logger
}

// Client sends Slack messages through a Sender. It is safe for
// concurrent use and is meant to be built once per process, so that its
// Pacer sees every request.
type Client struct {
	d     Sender
	pacer *Pacer
	log   *slog.Logger
}

// New returns a Client delivering through d.
func New(d Sender, cfg Config) *Client {
	c := &Client{d: d, pacer: cfg.Pacer, log: cfg.Logger}
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

// Send sends m to the webhook or response URLs of req (one, or a pool). It
// checks m and the URLs, and only then delegates to the Sender with the
// body, Unsigned (Slack takes no Standard Webhooks headers) and the Pacer
// set on req; req's other fields (id, headers, timeout, budgets, Prior)
// pass through. A message or URL that Slack would refuse gives a Rejected
// Result without any request. The Result is the Sender's, with Slack's
// answer read by Classify: a 200 {"ok": false, "error": code} is Failed, and
// the error code of a failed delivery ends its Error
// ("status 404 Not Found: channel_not_found").
func (c *Client) Send(ctx context.Context, m Message, req sender.Request) sender.Result {
	if rejected := c.prepare(ctx, m, &req); rejected != nil {
		return *rejected
	}
	return withVerdict(c.d.Send(ctx, req))
}

// prepare checks m and the URLs of req and turns req into the request for
// the Sender. It returns the Result of a message or URL Slack would
// refuse, or nil.
func (c *Client) prepare(ctx context.Context, m Message, req *sender.Request) *sender.Result {
	started := time.Now()
	err := c.Check(m, req.URLs)
	var body []byte
	if err == nil {
		body, err = m.Body()
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelDebug, "slack message rejected",
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
	req.Body = body
	req.Unsigned = true
	req.Pacer = c.pacer
	req.RetryAfter = retryAfter
	return nil
}

// retryAfter reads the wait a 429 asks for as Classify does: Slack's
// Retry-After header, and nothing in the body.
func retryAfter(h http.Header, body []byte, now time.Time) (time.Duration, bool) {
	v := Classify(http.StatusTooManyRequests, h, body, now)
	return v.RetryAfter, v.RetryAfter > 0
}

// Check checks m and the webhook URLs as Send would, without sending
// anything. It returns an *InvalidError.
func (c *Client) Check(m Message, urls []string) error {
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

// withVerdict reads Slack's answer in res (see Send). A deferred Result
// (or an interrupted one) is left as it is: the delivery is not over.
func withVerdict(res sender.Result) sender.Result {
	if !res.Outcome.Terminal() || res.Status == 0 || res.Outcome == sender.Rejected {
		return res
	}
	v := Classify(res.Status, nil, responseBody(res.Response), res.FinishedAt)
	switch {
	case res.OK && v.Kind == Failed:
		res.OK, res.Outcome = false, sender.Failed
		res.Error = "status " + strconv.Itoa(res.Status) + " " + http.StatusText(res.Status) + ": " + v.Code
	case !res.OK && v.Code != "":
		res.Error += ": " + v.Code
	}
	return res
}

// responseBody returns the body a Result's Response was made from: the
// text of a JSON string (a plain-text body such as "no_text"), else the
// JSON itself.
func responseBody(resp json.RawMessage) []byte {
	if len(resp) > 0 && resp[0] == '"' {
		var s string
		if json.Unmarshal(resp, &s) == nil {
			return []byte(s)
		}
	}
	return resp
}
