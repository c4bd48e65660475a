package consumer_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/job"
)

// newEnvMaxPayload is newEnv with a server whose max payload is max bytes
// (0: the server's default, 1 MiB).
func newEnvMaxPayload(t *testing.T, ackWait time.Duration, max int32) *env {
	t.Helper()
	opts := bustest.Options("127.0.0.1", -1, t.TempDir())
	opts.MaxPayload = max
	srv := bustest.Start(t, opts)
	e := connectEnv(t, srv.ClientURL(), ackWait)
	e.srv = srv
	return e
}

// TestResultOverMaxPayloadIsCut sends jobs whose results, encoded, are
// larger than the server's max payload (meta of '<', six bytes each once
// escaped): each is delivered once, its result stored once with the parts
// cut named, instead of the job coming back (and being sent again) for
// ever. The receiver alone can make a result too large too: a large body
// on a 500.
func TestResultOverMaxPayloadIsCut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// max is the server's max payload; 0 is its default, 1 MiB.
		max  int32
		meta string
		// body is the receiver's answer: 200 when empty, else a 500 with
		// this body.
		body      string
		outcome   job.Outcome
		truncated []string
		keepsMeta bool
	}{
		{
			name: "meta over a small max payload", max: 64 << 10,
			meta: `"` + strings.Repeat("<", 20_000) + `"`, outcome: job.Delivered, truncated: []string{"meta"},
		},
		{
			name: "meta over the default max payload",
			meta: `"` + strings.Repeat("<", 200_000) + `"`, outcome: job.Delivered, truncated: []string{"meta"},
		},
		{
			name: "a large meta and a large error body", max: 128 << 10,
			meta: `"` + strings.Repeat("a", 90_000) + `"`, body: strings.Repeat("<", 100_000),
			outcome: job.Failed, truncated: []string{"response"}, keepsMeta: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvMaxPayload(t, time.Second, tt.max)
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				if tt.body == "" {
					w.WriteHeader(http.StatusOK)
					return
				}
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(tt.body))
			})
			e.startWorker(workerOpts{concurrency: 1, maxRetries: 1})
			e.publish([]byte(`{"id":"big","url":"`+rc.URL+`","payload":{},"meta":`+tt.meta+`}`), "")
			r := e.waitResults(1)[0]
			wantAttempts := 1
			if tt.outcome == job.Failed {
				wantAttempts = 2 // one retry
			}
			if r.Outcome != tt.outcome || r.Attempts != wantAttempts || r.URL != rc.URL {
				t.Errorf("result %s after %d attempts to %q, want %s after %d to %q", r.Outcome, r.Attempts, r.URL, tt.outcome, wantAttempts, rc.URL)
			}
			if !slices.Equal(r.Truncated, tt.truncated) {
				t.Errorf("truncated = %q, want %q", r.Truncated, tt.truncated)
			}
			if got := len(r.Meta) > 0; got != tt.keepsMeta {
				t.Errorf("meta kept = %t, want %t", got, tt.keepsMeta)
			}
			if n := rc.count("big"); n != wantAttempts {
				t.Errorf("receiver saw %d requests, want %d", n, wantAttempts)
			}
			e.expectStoredOnce("big")
		})
	}
}

// TestResultValidUTF8 publishes a job whose meta holds bytes that are not
// UTF-8: its result is valid UTF-8, the bytes replaced by U+FFFD.
func TestResultValidUTF8(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Second)
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{\"r\":\"\xfe\"}"))
	})
	e.startWorker(workerOpts{concurrency: 1})
	e.publish([]byte("{\"id\":\"utf8\",\"url\":\""+rc.URL+"\",\"payload\":{},\"meta\":{\"k\":\"a\xffb\"}}"), "")
	r := e.waitResults(1)[0]
	if r.Outcome != job.Delivered {
		t.Fatalf("result %+v, want delivered", r)
	}
	if got, want := string(r.Meta), "{\"k\":\"a\uFFFDb\"}"; got != want {
		t.Errorf("meta = %q, want %q", got, want)
	}
	if got, want := string(r.Response), "{\"r\":\"\uFFFD\"}"; got != want {
		t.Errorf("response = %q, want %q", got, want)
	}
	e.expectStoredOnce("utf8")
}
