package job_test

import (
	"testing"

	"github.com/hookworker/hookworker/job"
)

// TestDecodeKeepsEventOfInvalidJob: an event job that is invalid otherwise
// still decodes its event and endpoint, which its rejected result names.
func TestDecodeKeepsEventOfInvalidJob(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, job string
	}{
		{"port out of range", `{"id":"evt_1:ep_1","url":"http://127.0.0.1:99999/hooks/tok3n","payload":{},"endpoint":"ep_1","event":{"id":"evt_1","type":"a.b","channel":"c"}}`},
		{"port zero", `{"id":"evt_1:ep_1","url":"http://example.com:0/","payload":{},"endpoint":"ep_1","event":{"id":"evt_1","type":"a.b","channel":"c"}}`},
		{"no payload", `{"id":"evt_1:ep_1","url":"https://example.com/","endpoint":"ep_1","event":{"id":"evt_1","type":"a.b","channel":"c"}}`},
		{"bad header", `{"id":"evt_1:ep_1","url":"https://example.com/","payload":{},"headers":{"a b":"x"},"endpoint":"ep_1","event":{"id":"evt_1","type":"a.b","channel":"c"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, err := job.Decode([]byte(tt.job), "fallback")
			if err == nil {
				t.Fatal("decoded, want an error")
			}
			if j.Endpoint != "ep_1" || j.Event == nil || *j.Event != (job.Event{ID: "evt_1", Type: "a.b", Channel: "c"}) {
				t.Errorf("endpoint %q, event %+v, want ep_1 and evt_1", j.Endpoint, j.Event)
			}
		})
	}
}

// TestDecodeOrdered: an event job may be marked ordered; a plain job may
// not, and the mark is a boolean.
func TestDecodeOrdered(t *testing.T) {
	t.Parallel()
	const event = `"endpoint":"ep_1","event":{"id":"evt_1","type":"a.b"}`
	for _, tt := range []struct {
		name, job string
		ordered   bool
		bad       bool
	}{
		{"ordered event job", `{"id":"j","url":"https://example.com/","payload":{},` + event + `,"ordered":true}`, true, false},
		{"unordered event job", `{"id":"j","url":"https://example.com/","payload":{},` + event + `,"ordered":false}`, false, false},
		{"plain job", `{"id":"j","url":"https://example.com/","payload":{},"ordered":true}`, false, true},
		{"not a boolean", `{"id":"j","url":"https://example.com/","payload":{},` + event + `,"ordered":"yes"}`, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, err := job.Decode([]byte(tt.job), "fallback")
			if (err != nil) != tt.bad {
				t.Fatalf("error %v, want one: %t", err, tt.bad)
			}
			if j.Ordered != tt.ordered {
				t.Errorf("ordered %t, want %t", j.Ordered, tt.ordered)
			}
		})
	}
}
