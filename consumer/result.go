package consumer

import (
	"encoding/json"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// newResult is the result of job j from the terminal result r of its
// delivery (delivered, failed or rejected). OK is set exactly when the
// outcome is delivered.
func newResult(j *job.Job, r sender.Result) job.Result {
	resp := r.Response
	if len(resp) > 0 && !json.Valid(resp) {
		// Keep the result publishable whatever the sender handed over.
		resp, _ = json.Marshal(string(resp))
	}
	return job.Result{
		ID:         j.ID,
		Type:       j.Type,
		OK:         r.Outcome == sender.Delivered,
		Outcome:    job.Outcome(r.Outcome), // the terminal outcomes are the same words
		Status:     r.Status,
		URL:        r.URL,
		Attempts:   r.Attempts,
		Error:      r.Error,
		Response:   resp,
		Proxy:      r.Proxy,
		StartedAt:  r.StartedAt.UTC(),
		FinishedAt: r.FinishedAt.UTC(),
		DurationMS: r.Duration().Milliseconds(),
		Meta:       j.Meta,
		Truncated:  truncated(r.Truncated),
		Event:      j.Event,
		Endpoint:   j.Endpoint,
		Tenant:     j.Tenant,
	}
}

// truncated is the Truncated of a result whose response was cut when cut.
func truncated(cut bool) []string {
	if cut {
		return []string{"response"}
	}
	return nil
}
