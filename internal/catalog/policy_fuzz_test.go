package catalog_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/job"
)

// FuzzEndpointPolicyJSON: whatever retry_schedule and timeout hold, they
// read without a panic, a bad one is an *InvalidError naming its field,
// and a good one holds no negative wait and no more than the most entries.
func FuzzEndpointPolicyJSON(f *testing.F) {
	for _, s := range []string{`["1s",30,"2m"]`, `[]`, `null`, `"1s"`, `["-1s"]`, `[1e400]`, `["soon"]`, `[0.5,"1h30m"]`} {
		f.Add(s, `"10s"`)
	}
	f.Add(`[1]`, `-1`)
	f.Add(`[1]`, `"soon"`)
	f.Add(`[1]`, `1e308`)
	f.Fuzz(func(t *testing.T, schedule, timeout string) {
		var s catalog.Schedule
		if err := json.Unmarshal([]byte(schedule), &s); err != nil {
			var ie *catalog.InvalidError
			if json.Valid([]byte(schedule)) && (!errors.As(err, &ie) || ie.Field != "retry_schedule") {
				t.Fatalf("retry_schedule %s: %v, want an invalid retry_schedule", schedule, err)
			}
		} else {
			if len(s) > job.MaxScheduleLen {
				t.Fatalf("retry_schedule %s: %d entries read", schedule, len(s))
			}
			for _, d := range s {
				if d < 0 {
					t.Fatalf("retry_schedule %s: a negative wait read", schedule)
				}
			}
		}
		var tm catalog.Timeout
		if err := json.Unmarshal([]byte(timeout), &tm); err != nil {
			var ie *catalog.InvalidError
			if json.Valid([]byte(timeout)) && (!errors.As(err, &ie) || ie.Field != "timeout") {
				t.Fatalf("timeout %s: %v, want an invalid timeout", timeout, err)
			}
		}
	})
}
