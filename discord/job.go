package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Prepare is the worker's Deliverer of Discord jobs (a job of type
// job.Discord). It decodes and checks the job's discord object and its
// webhook URLs as Send does, before the job takes a host slot: an error
// rejects the job with nothing sent; its text is the result's error.
// Otherwise it returns the send of the job, which delivers the message
// decoded once here through Send.
func (c *Client) Prepare(j *job.Job) (func(context.Context, sender.Request) sender.Result, error) {
	var m Message
	if err := json.Unmarshal(j.Discord, &m); err != nil {
		return nil, errors.New("discord: " + shortJSONError(err))
	}
	if err := c.Check(m, j.URLs); err != nil {
		return nil, err
	}
	return func(ctx context.Context, req sender.Request) sender.Result { return c.Send(ctx, m, req) }, nil
}

// shortJSONError is a JSON decoding error without the Go type names.
func shortJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s: wrong type (%s)", te.Field, te.Value)
		}
		return "wrong type (" + te.Value + ")"
	}
	return err.Error()
}
