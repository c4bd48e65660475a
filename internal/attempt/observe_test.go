package attempt_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Observe records an attempt with its job's event, endpoint and tenant, the
// headers sent (credentials redacted) and the outcome it led to.
func TestObserve(t *testing.T) {
	e := start(t)
	r := e.recorder(t, attempt.RecorderConfig{})
	evJob := &job.Job{ID: "evt_1:ep_1", Endpoint: "ep_1", Event: &job.Event{ID: "evt_1", Type: "order.created", Channel: "eu"}, Tenant: "acme"}
	plain := &job.Job{ID: "plain-1"}
	sent := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	hdr := http.Header{"Webhook-Id": {"evt_1"}, "Webhook-Signature": {"v1,c2ln"}, "Authorization": {"Bearer s3cr3t"}}
	for i, o := range []sender.AttemptOutcome{sender.AttemptRetry, sender.AttemptFailed, sender.AttemptDelivered} {
		r.Observe(evJob, sender.Attempt{ID: "evt_1", Number: i + 1, URL: "https://example.com/hook", Start: sent.Add(time.Duration(i) * time.Second),
			Header: hdr, Status: 503 - i, Response: []byte(`"busy"`), Duration: 40 * time.Millisecond, Outcome: o})
	}
	r.Observe(plain, sender.Attempt{ID: "plain-1", Number: 1, URL: "https://example.com/", Start: sent, Status: 204, Outcome: sender.AttemptDelivered})
	flush(t, r)
	got, _ := listAll(t, e.log, attempt.Query{})
	want := []struct {
		n       int
		outcome attempt.Outcome
	}{{3, attempt.Delivered}, {2, attempt.Failed}, {1, attempt.Retry}}
	if len(got) != len(want) {
		t.Fatalf("listed %d records, want the event job's %d (a plain job's are left out)", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		t.Run(string(w.outcome), func(t *testing.T) {
			if g.JobID != "evt_1:ep_1" || str(g.EventID) != "evt_1" || str(g.EventType) != "order.created" ||
				str(g.Channel) != "eu" || str(g.Endpoint) != "ep_1" || str(g.Tenant) != "acme" {
				t.Errorf("names %s %s %s %s %s %s, want the job's", g.JobID, str(g.EventID), str(g.EventType), str(g.Channel), str(g.Endpoint), str(g.Tenant))
			}
			if g.Attempt != w.n || g.Outcome != w.outcome || g.Status == nil || *g.Status != 503-(w.n-1) {
				t.Errorf("attempt %d %s status %v, want %d %s", g.Attempt, g.Outcome, g.Status, w.n, w.outcome)
			}
			if !g.Timestamp.Equal(sent.Add(time.Duration(w.n-1)*time.Second)) || g.DurationMS != 40 || string(g.Response) != `"busy"` {
				t.Errorf("timestamp %s duration %d response %s", g.Timestamp, g.DurationMS, g.Response)
			}
			h := g.RequestHeaders
			if h["webhook-id"] != "evt_1" || h["webhook-signature"] != attempt.Redacted || h["authorization"] != attempt.Redacted {
				t.Errorf("headers %v, want webhook-id kept and credentials redacted", h)
			}
		})
	}
}
