package consumer

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

func intp(n int) *int { return &n }

// decode decodes a job for a test.
func decode(t *testing.T, data string) job.Job {
	t.Helper()
	j, err := job.Decode([]byte(data), "fallback")
	if err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return j
}

func TestRequest(t *testing.T) {
	t.Parallel()
	limits := Limits{Timeout: 10 * time.Second, MaxRetries: 3, MaxProxyRetries: 2}
	tests := []struct {
		name string
		job  job.Job
		want sender.Request
	}{
		{
			name: "worker defaults",
			job:  job.Job{ID: "a", URLs: []string{"https://a.example"}, Payload: json.RawMessage(`{}`)},
			want: sender.Request{ID: "a", URLs: []string{"https://a.example"}, Body: []byte(`{}`)},
		},
		{
			name: "below the maximums",
			job:  job.Job{ID: "b", URLs: []string{"https://a.example", "https://b.example"}, Timeout: job.Duration(time.Second), MaxRetries: intp(1), MaxProxyRetries: intp(1)},
			want: sender.Request{ID: "b", URLs: []string{"https://a.example", "https://b.example"}, Timeout: time.Second, MaxRetries: 1, MaxProxyRetries: 1},
		},
		{
			name: "clamped",
			job:  job.Job{ID: "c", URLs: []string{"https://a.example"}, Timeout: job.Duration(time.Hour), MaxRetries: intp(100), MaxProxyRetries: intp(100)},
			want: sender.Request{ID: "c", URLs: []string{"https://a.example"}, Timeout: 10 * time.Second, MaxRetries: 3, MaxProxyRetries: 2},
		},
		{
			name: "zero means none",
			job:  job.Job{ID: "d", URLs: []string{"https://a.example"}, MaxRetries: intp(0), MaxProxyRetries: intp(0)},
			want: sender.Request{ID: "d", URLs: []string{"https://a.example"}, MaxRetries: -1, MaxProxyRetries: -1},
		},
		{
			name: "headers canonical",
			job:  job.Job{ID: "e", URLs: []string{"https://a.example"}, Headers: map[string]string{"x-env": "prod", "Authorization": "Bearer t"}},
			want: sender.Request{ID: "e", URLs: []string{"https://a.example"}, Header: http.Header{"X-Env": {"prod"}, "Authorization": {"Bearer t"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := request(&tt.job, limits); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("request =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
	t.Run("worker allows no retries", func(t *testing.T) {
		t.Parallel()
		j := job.Job{ID: "f", URLs: []string{"https://a.example"}, MaxRetries: intp(5)}
		if got := request(&j, Limits{}).MaxRetries; got != -1 {
			t.Errorf("MaxRetries = %d, want -1 (none)", got)
		}
	})
}

// The payload reaches the request byte for byte, and the destinations
// Decode parsed go on to the sender with it, so that they are not parsed
// again; a job's url is its request's one destination.
func TestRequestOfDecodedJob(t *testing.T) {
	t.Parallel()
	p := "{\n  \"text\": \"héllo \\u00e9 \\\"quoted\\\" 🚀\",\n  \"n\": 1.0000000000000000001\n}"
	j := decode(t, `{"id":"a","urls":["https://a.example/x","https://b.example/y"],"payload":`+p+`}`)
	req := request(&j, Limits{})
	if len(req.Destinations) != 2 || req.Destinations[0] != j.Destinations[0] || req.Destinations[1].Host != "b.example" {
		t.Errorf("request destinations %v, want the job's %v", req.Destinations, j.Destinations)
	}
	if string(req.Body) != p {
		t.Errorf("request body %q, want %q", req.Body, p)
	}
	one := decode(t, `{"id":"b","url":"https://a.example/x","payload":{}}`)
	if req := request(&one, Limits{}); !reflect.DeepEqual(req.URLs, []string{"https://a.example/x"}) || len(req.Destinations) != 1 {
		t.Errorf("request of a job with url: urls %q, %d destinations", req.URLs, len(req.Destinations))
	}
}

// TestSchedule checks a job's retry schedule as the request carries it:
// one retry per entry, cut at the worker's limit.
func TestSchedule(t *testing.T) {
	t.Parallel()
	waits := []job.Duration{job.Duration(time.Second), job.Duration(2 * time.Second), job.Duration(time.Hour)}
	tests := []struct {
		name    string
		maxSpan time.Duration
		want    []time.Duration
	}{
		{"no limit", 0, []time.Duration{time.Second, 2 * time.Second, time.Hour}},
		{"cut at the limit", 3 * time.Second, []time.Duration{time.Second, 2 * time.Second}},
		{"first entry past the limit", time.Millisecond, []time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := schedule(waits, tt.maxSpan); got == nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("schedule = %#v, want %#v", got, tt.want)
			}
		})
	}
	t.Run("request carries it", func(t *testing.T) {
		t.Parallel()
		j := job.Job{ID: "s", URLs: []string{"https://a.example"}, RetrySchedule: waits[:1]}
		if req := request(&j, Limits{MaxRetries: 3}); !reflect.DeepEqual(req.Schedule, []time.Duration{time.Second}) {
			t.Errorf("request schedule %v, want [1s]", req.Schedule)
		}
		if request(&job.Job{ID: "p", URLs: []string{"https://a.example"}}, Limits{}).Schedule != nil {
			t.Error("a job without a schedule has one in its request")
		}
		empty := job.Job{ID: "e", URLs: []string{"https://a.example"}, RetrySchedule: []job.Duration{}}
		if s := request(&empty, Limits{}).Schedule; s == nil || len(s) != 0 {
			t.Errorf("an empty schedule becomes %#v, want an empty one: no retry", s)
		}
	})
}
