package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/internal/resultscan"
	"github.com/hookworker/hookworker/job"
)

// Publish checks the plain job j as the worker will, and publishes it with
// Nats-Msg-Id set to its id (j.ID, or a generated one), waiting for the
// stream's acknowledgement. It returns the job's id; a job already
// published within the duplicate window is not stored again. When ctx
// carries an OpenTelemetry span, the message carries its traceparent, so
// that a worker that traces continues the trace.
func (c *Client) Publish(ctx context.Context, j job.Job) (string, error) {
	if j.ID == "" {
		j.ID = nuid.Next()
	}
	data, err := json.Marshal(j)
	if err != nil {
		return "", fmt.Errorf("publish job %s: %w", j.ID, err)
	}
	if _, err := job.Decode(data, j.ID); err != nil {
		return "", &Error{Code: 400, Description: "invalid job: " + err.Error()}
	}
	js, err := jetstream.New(c.nc)
	if err != nil {
		return "", err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	msg := &nats.Msg{Subject: c.jobSubject, Data: data}
	natstrace.Inject(ctx, msg)
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(j.ID)); err != nil {
		return "", fmt.Errorf("publish job %s: %w", j.ID, err)
	}
	return j.ID, nil
}

// Wait returns the result of job id: the one stored already (within the
// lookback, see WithWaitLookback), else the next one published, waiting
// until ctx ends.
func (c *Client) Wait(ctx context.Context, id string) (job.Result, error) {
	found := make(chan *nats.Msg, 1)
	offer := func(m *nats.Msg) {
		select {
		case found <- m:
		default:
		}
	}
	sub, err := c.nc.Subscribe(c.resultSubject, func(m *nats.Msg) {
		if m.Header.Get(job.HeaderJobID) == id {
			offer(m)
		}
	})
	if err != nil {
		return job.Result{}, fmt.Errorf("wait for job %s: %w", id, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.nc.FlushWithContext(ctx); err != nil {
		return job.Result{}, fmt.Errorf("wait for job %s: %w", id, err)
	}
	if m, err := c.LastResult(ctx, id); err == nil && m != nil {
		offer(m)
	}
	select {
	case m := <-found:
		var r job.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return job.Result{}, fmt.Errorf("result of job %s: %w", id, err)
		}
		return r, nil
	case <-ctx.Done():
		return job.Result{}, fmt.Errorf("wait for job %s: %w", id, ctx.Err())
	}
}

// LastResult returns the last result message stored for job id within the
// lookback (see WithWaitLookback), as the worker published it, or nil when
// there is none. Unlike Wait it does not wait for one. It reads only
// headers until it has found it.
func (c *Client) LastResult(ctx context.Context, id string) (*nats.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, c.resultStream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", c.resultStream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", c.resultStream, err)
	}
	var seq uint64
	err = resultscan.Scan(ctx, js, info, c.resultSubject, resultscan.Span{Since: time.Now().Add(-c.lookback)},
		func(got string, meta *jetstream.MsgMetadata) bool {
			if got == id {
				seq = meta.Sequence.Stream
			}
			return true
		})
	if err != nil {
		return nil, err
	}
	if seq == 0 {
		return nil, nil
	}
	raw, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return nil, err
	}
	return &nats.Msg{Subject: raw.Subject, Header: raw.Header, Data: raw.Data}, nil
}
