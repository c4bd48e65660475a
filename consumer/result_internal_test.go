package consumer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// TestNewResult checks the result of a job from its delivery: times in UTC,
// the duration in milliseconds, a response that is not JSON made a string,
// an event job's event and endpoint echoed.
func TestNewResult(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 22, 11, 0, 0, 1, time.FixedZone("CET", 3600))
	j := job.Job{ID: "order-123-shipped", Type: job.Webhook, Meta: json.RawMessage(`{"any":"json value, echoed in the result"}`)}
	tests := []struct {
		name string
		job  job.Job
		res  sender.Result
		want string
	}{
		{
			name: "delivered, as the contract shows",
			job:  j,
			res: sender.Result{
				OK: true, Outcome: sender.Delivered, Status: 204, URL: "https://example.com/hook", Attempts: 1,
				StartedAt: start, FinishedAt: start.Add(120 * time.Millisecond),
			},
			want: `{"id":"order-123-shipped","type":"webhook","ok":true,"outcome":"delivered","status":204,` +
				`"url":"https://example.com/hook","attempts":1,"error":null,"response":null,"proxy":null,` +
				`"started_at":"2026-11-22T10:00:00.000000001Z","finished_at":"2026-11-22T10:00:00.120000001Z",` +
				`"duration_ms":120,"meta":{"any":"json value, echoed in the result"},"event":null,"endpoint":null,"tenant":null}`,
		},
		{
			name: "failed with a response and a proxy",
			job:  job.Job{ID: "x", Type: job.Discord},
			res: sender.Result{
				OK: true, Outcome: sender.Failed, Status: 400, URL: "https://discord.com/api/webhooks/1/REDACTED", Attempts: 4,
				Error: "status 400", Response: json.RawMessage(`{"message":"bad"}`), Proxy: "10.0.0.1:8080",
				StartedAt: start, FinishedAt: start.Add(2 * time.Second),
			},
			want: `{"id":"x","type":"discord","ok":false,"outcome":"failed","status":400,` +
				`"url":"https://discord.com/api/webhooks/1/REDACTED","attempts":4,"error":"status 400","response":{"message":"bad"},"proxy":"10.0.0.1:8080",` +
				`"started_at":"2026-11-22T10:00:00.000000001Z","finished_at":"2026-11-22T10:00:02.000000001Z","duration_ms":2000,"meta":null,"event":null,"endpoint":null,"tenant":null}`,
		},
		{
			name: "response not JSON",
			job:  job.Job{ID: "y", Type: job.Webhook},
			res: sender.Result{
				Outcome: sender.Failed, Status: 502, URL: "https://a.example", Attempts: 1, Error: "status 502",
				Response: json.RawMessage(`<html>`), StartedAt: start, FinishedAt: start,
			},
			want: `{"id":"y","type":"webhook","ok":false,"outcome":"failed","status":502,"url":"https://a.example","attempts":1,` +
				`"error":"status 502","response":"\u003chtml\u003e","proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,"event":null,"endpoint":null,"tenant":null}`,
		},
		{
			name: "response cut",
			job:  job.Job{ID: "z", Type: job.Webhook},
			res: sender.Result{
				Outcome: sender.Failed, Status: 500, URL: "https://a.example", Attempts: 1, Error: "status 500",
				Response: json.RawMessage(`"abc"`), Truncated: true, StartedAt: start, FinishedAt: start,
			},
			want: `{"id":"z","type":"webhook","ok":false,"outcome":"failed","status":500,"url":"https://a.example","attempts":1,` +
				`"error":"status 500","response":"abc","proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,"truncated":["response"],"event":null,"endpoint":null,"tenant":null}`,
		},
		{
			name: "an event job's, without a channel",
			job:  job.Job{ID: "evt_1:ep_1", Type: job.Webhook, Endpoint: "ep_1", Event: &job.Event{ID: "evt_1", Type: "order.created"}},
			res:  sender.Result{Outcome: sender.Delivered, OK: true, Status: 200, URL: "https://a.example", Attempts: 1, StartedAt: start, FinishedAt: start},
			want: `{"id":"evt_1:ep_1","type":"webhook","ok":true,"outcome":"delivered","status":200,"url":"https://a.example","attempts":1,` +
				`"error":null,"response":null,"proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,` +
				`"event":{"id":"evt_1","type":"order.created","channel":null},"endpoint":"ep_1","tenant":null}`,
		},
		{
			name: "a tenant's event job's",
			job:  job.Job{ID: "evt_2:ep_2", Type: job.Webhook, Endpoint: "ep_2", Event: &job.Event{ID: "evt_2", Type: "order.created"}, Tenant: "acme"},
			res:  sender.Result{Outcome: sender.Delivered, OK: true, Status: 200, URL: "https://a.example", Attempts: 1, StartedAt: start, FinishedAt: start},
			want: `{"id":"evt_2:ep_2","type":"webhook","ok":true,"outcome":"delivered","status":200,"url":"https://a.example","attempts":1,` +
				`"error":null,"response":null,"proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,` +
				`"event":{"id":"evt_2","type":"order.created","channel":null},"endpoint":"ep_2","tenant":"acme"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := newResult(&tt.job, tt.res)
			got, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal =\n%s\nwant\n%s", got, tt.want)
			}
			var back job.Result
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(back, res) {
				t.Errorf("round trip =\n%+v\nwant\n%+v", back, res)
			}
		})
	}
}

// The sender's terminal outcomes are the words of the job's.
func TestOutcomeWords(t *testing.T) {
	t.Parallel()
	for s, j := range map[sender.Outcome]job.Outcome{sender.Delivered: job.Delivered, sender.Failed: job.Failed, sender.Rejected: job.Rejected} {
		if got := newResult(&job.Job{}, sender.Result{Outcome: s}).Outcome; got != j {
			t.Errorf("%s becomes %s, want %s", s, got, j)
		}
	}
}
