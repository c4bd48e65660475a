package consumer

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// TestStateFitsMaxPayload keeps in the state what cannot be published: a
// result that fits the max payload as a message but not with the state's
// other fields around it is cut further, and a progress too large loses
// its response; each says so. A small state is kept whole.
func TestStateFitsMaxPayload(t *testing.T) {
	t.Parallel()
	const max = 4096
	// pad is a meta of n bytes.
	pad := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("m", n-2) + `"`) }
	// near is a result of 4000 bytes: with its headers (68 bytes) it fits
	// a message; with the state's other fields around it, not.
	near := job.Result{ID: "j1", Outcome: job.Failed, Meta: pad(10)}
	base, _ := near.MarshalJSON()
	near.Meta = pad(4000 - len(base) + 10)
	tests := []struct {
		name string
		// disp is settled with publishing failing.
		disp      disposition
		progress  sender.Progress
		truncated []string // of the result kept
		cut       bool     // the progress's response was dropped
	}{
		{name: "small result kept whole", disp: ack(job.Result{ID: "j1", Outcome: job.Failed, Meta: pad(100)})},
		{
			name:      "result fitting a message but not the state",
			disp:      ack(near),
			truncated: []string{"meta"},
		},
		{
			name:     "progress with a large response",
			disp:     handBack(time.Second, "deferred"),
			progress: sender.Progress{Attempts: 1, Status: 500, Response: json.RawMessage(`"` + strings.Repeat("<", 1000) + `"`)},
			cut:      true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, pub, st := settleWorker(t, nil)
			w.maxPayload = func() int64 { return max }
			pub.err = errors.New("no responders")
			d := &delivery{msg: &ackMsg{}, job: job.Job{ID: "j1"}, stateKey: "j1", start: time.Now()}
			d.state.Progress = tt.progress
			w.settle(d, tt.disp, func() {})
			data := st.m["j1"]
			if len(data) == 0 || len(data) > max {
				t.Fatalf("state of %d bytes kept, want 1 to %d", len(data), max)
			}
			var s state
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatal(err)
			}
			if tt.disp.kind == store {
				if s.Result == nil || !slices.Equal(s.Result.Truncated, tt.truncated) {
					t.Errorf("result kept %+v, want truncated %q", s.Result, tt.truncated)
				}
			}
			kept := len(s.Progress.Response) > 0 && string(s.Progress.Response) != "null"
			if s.Progress.Truncated != tt.cut || kept != (!tt.cut && tt.progress.Response != nil) {
				t.Errorf("progress kept %+v, want response cut: %t", s.Progress, tt.cut)
			}
			if s.Progress.Status != tt.progress.Status || s.Progress.Attempts != tt.progress.Attempts {
				t.Errorf("progress kept %+v, want status and attempts of %+v", s.Progress, tt.progress)
			}
		})
	}
}
