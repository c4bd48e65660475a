package job_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/job"
)

// ExampleFit cuts a result whose meta makes it larger than a 4 KiB max
// payload.
func ExampleFit() {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	r := job.Result{ID: "order-1", Type: job.Webhook, OK: true, Outcome: job.Delivered, Status: 204,
		URL: "https://example.com/hook", Attempts: 1, StartedAt: at, FinishedAt: at,
		Meta: json.RawMessage(`"` + strings.Repeat("x", 5000) + `"`)}
	hdr := nats.Header{nats.MsgIdHdr: {r.ID}, job.HeaderJobID: {r.ID}, job.HeaderOutcome: {string(r.Outcome)}}
	fitted, data, err := job.Fit(r, 4096, hdr)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(fitted.Truncated, len(data)+job.HeaderSize(hdr) <= 4096)
	// Output: [meta] true
}
