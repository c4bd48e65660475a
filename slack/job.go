package slack

import (
	"context"
	"log/slog"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Prepare is the worker's Deliverer of Slack jobs (a job of type
// job.Slack). It decodes and checks the job's slack object and its webhook
// URLs as Send does, before the job takes a host slot: an error (an
// *InvalidError naming the field, the URL redacted) rejects the job with
// nothing sent. Otherwise it returns the send of the job, which delivers
// the message built once here, Unsigned and paced by the Client's Pacer,
// and reads Slack's answer with Classify, as Send does.
func (c *Client) Prepare(j *job.Job) (func(context.Context, sender.Request) sender.Result, error) {
	m, err := Decode(j.Slack)
	if err == nil {
		err = c.Check(m, j.URLs)
	}
	var body []byte
	if err == nil {
		body, err = m.Body()
	}
	if err != nil {
		c.log.LogAttrs(context.Background(), slog.LevelDebug, "slack message rejected",
			slog.String("job_id", j.ID), slog.String("error", err.Error()))
		return nil, err
	}
	return func(ctx context.Context, req sender.Request) sender.Result {
		req.Body = body
		req.Unsigned = true
		req.Pacer = c.pacer
		req.RetryAfter = retryAfter
		return withVerdict(c.d.Send(ctx, req))
	}, nil
}
