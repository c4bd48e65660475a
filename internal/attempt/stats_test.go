package attempt_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/internal/attempt"
)

// TestStats counts an endpoint's attempts by outcome, in all and by hour,
// from the records' headers; a record without one (as a worker wrote them
// before records had it) has the bodies read instead. Another endpoint's
// records, and those of no endpoint, are not counted.
func TestStats(t *testing.T) {
	e := start(t)
	r := e.recorder(t, attempt.RecorderConfig{})
	rec := func(endpoint string, o attempt.Outcome) {
		r.Record(attempt.Attempt{JobID: "j", EventID: "evt", EventType: "order.created", Endpoint: endpoint,
			URL: "https://example.com/hook", Number: 1, Start: time.Now(), Status: 200, Outcome: o})
	}
	for _, o := range []attempt.Outcome{attempt.Delivered, attempt.Delivered, attempt.Retry, attempt.Failed} {
		rec("ep_s", o)
	}
	rec("ep_other", attempt.Failed)
	rec("", attempt.Failed) // of no endpoint: on the subject of "_"
	rec("_", attempt.Delivered)
	flush(t, r)
	stats := func(endpoint string) attempt.Stats {
		t.Helper()
		st, err := e.log.Stats(context.Background(), endpoint, time.Now().Add(-2*time.Hour), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := stats("ep_s")
	want := attempt.Counts{Delivered: 2, Retry: 1, Failed: 1}
	if st.Total != want || len(st.Hours) != 3 || st.Hours[2].Counts != want {
		t.Fatalf("stats %+v, want %+v in all and in the last of 3 hours", st, want)
	}
	if got := stats("_").Total; got != (attempt.Counts{Delivered: 1}) {
		t.Errorf("stats of the endpoint _ = %+v, want its one delivery, not the attempt of no endpoint", got)
	}

	// A record whose header and body disagree shows which is read: the
	// header, while every record has one.
	body, ok := attempt.Encode(attempt.Attempt{JobID: "j", Endpoint: "ep_s", URL: "https://example.com/hook", Number: 1,
		Start: time.Now(), Status: 200, Outcome: attempt.Delivered}, 1<<20)
	if !ok {
		t.Fatal("record not encoded")
	}
	publish := func(header nats.Header) {
		t.Helper()
		msg := &nats.Msg{Subject: attempt.Subject("ep_s", "order.created"), Header: header, Data: body}
		if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	publish(nats.Header{attempt.HeaderOutcome: []string{string(attempt.Failed)}})
	if got, want := stats("ep_s").Total, (attempt.Counts{Delivered: 2, Retry: 1, Failed: 2}); got != want {
		t.Errorf("stats %+v, want %+v: the header's outcome", got, want)
	}
	// One without a header: every body is read, that one's included.
	publish(nil)
	if got, want := stats("ep_s").Total, (attempt.Counts{Delivered: 4, Retry: 1, Failed: 1}); got != want {
		t.Errorf("stats with a record without a header %+v, want %+v: the bodies' outcomes", got, want)
	}
}
