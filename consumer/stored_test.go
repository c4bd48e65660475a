package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/job"
)

// resultStream starts a server with a result stream (a 10-minute
// duplicate window, as the worker's) and returns its JetStream and a
// function that stores a result for job id.
func resultStream(t *testing.T) (jetstream.JetStream, func(id string)) {
	t.Helper()
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKS_RESULTS", Subjects: []string{"hooks.result"},
		Duplicates: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	store := func(id string) {
		t.Helper()
		data := fmt.Sprintf(`{"id":%q,"type":"webhook","ok":true,"outcome":"delivered","attempts":1}`, id)
		msg := &nats.Msg{Subject: "hooks.result", Data: []byte(data), Header: nats.Header{
			nats.MsgIdHdr: {id}, job.HeaderJobID: {id}, job.HeaderOutcome: {"delivered"},
		}}
		if _, err := js.PublishMsg(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	return js, store
}

func TestResultIndexFinds(t *testing.T) {
	t.Parallel()
	js, store := resultStream(t)
	past := time.Now().Add(-time.Minute)
	x := newResultIndex(js, "hooks.result")
	ctx := t.Context()
	if r, err := x.find(ctx, "a", past); err != nil || r != nil {
		t.Fatalf("find in an empty stream = %v, %v; want none", r, err)
	}
	store("a")
	store("b")
	r, err := x.find(ctx, "a", past)
	if err != nil || r == nil || r.ID != "a" || r.Outcome != job.Delivered || r.Attempts != 1 {
		t.Fatalf("find a = %+v, %v; want its stored result", r, err)
	}
	if r, err := x.find(ctx, "c", past); err != nil || r != nil {
		t.Fatalf("find c = %+v, %v; want none", r, err)
	}
	// A result stored after the last look-up is found by the next.
	store("c")
	if r, err := x.find(ctx, "c", past); err != nil || r == nil || r.ID != "c" {
		t.Fatalf("find c once stored = %+v, %v; want it", r, err)
	}
	// A result stored before since is another job's with the same id.
	if r, err := x.find(ctx, "a", time.Now().Add(time.Minute)); err != nil || r != nil {
		t.Fatalf("find a since after it was stored = %+v, %v; want none", r, err)
	}
	if x.read != 3 {
		t.Errorf("index read %d headers for 3 results", x.read)
	}
}

// TestResultIndexBounded stores more results than the index keeps: it
// holds the newest, tells it cannot find an older one, drops the oldest as
// new ones come, and builds itself again rather than read more than its
// bound in one look-up.
func TestResultIndexBounded(t *testing.T) {
	t.Parallel()
	js, store := resultStream(t)
	for i := range 8 {
		store(fmt.Sprintf("old-%d", i))
	}
	x := newResultIndex(js, "hooks.result")
	x.max = 5
	past := time.Now().Add(-time.Minute)
	ctx := t.Context()
	if r, err := x.find(ctx, "old-7", past); err != nil || r == nil {
		t.Fatalf("find the newest = %+v, %v; want it", r, err)
	}
	if r, err := x.find(ctx, "old-0", past); !errors.Is(err, errBound) || r != nil {
		t.Fatalf("find one older than the bound = %+v, %v; want errBound", r, err)
	}
	if _, err := x.find(ctx, "never", past); !errors.Is(err, errBound) {
		t.Fatalf("find an unknown job = %v; want errBound, the index cannot tell", err)
	}
	// A job stored after the oldest result indexed: the index can tell.
	if r, err := x.find(ctx, "never", time.Now()); err != nil || r != nil {
		t.Fatalf("find an unknown job stored since = %+v, %v; want none", r, err)
	}
	if x.read != 5 {
		t.Errorf("index read %d headers, want its bound 5", x.read)
	}
	store("mid-0")
	store("mid-1")
	if r, err := x.find(ctx, "mid-1", past); err != nil || r == nil {
		t.Fatalf("find one stored since = %+v, %v; want it", r, err)
	}
	if r, err := x.find(ctx, "old-5", past); err != nil || r == nil {
		t.Fatalf("find the oldest kept = %+v, %v; want it", r, err)
	}
	if r, err := x.find(ctx, "old-4", past); !errors.Is(err, errBound) || r != nil {
		t.Fatalf("find one dropped for newer ones = %+v, %v; want errBound", r, err)
	}
	if x.read != 7 || len(x.ids) != 5 {
		t.Errorf("index read %d headers and keeps %d results, want 7 and its bound 5", x.read, len(x.ids))
	}
	for i := range 6 {
		store(fmt.Sprintf("new-%d", i))
	}
	if r, err := x.find(ctx, "new-5", past); err != nil || r == nil {
		t.Fatalf("find the newest after more were stored = %+v, %v; want it", r, err)
	}
	if x.read != 5 {
		t.Errorf("index read %d headers since it was built again, want its bound 5", x.read)
	}
}

// TestResultIndexShared has many look-ups arrive together, as the jobs of
// one dead worker do: the results are read once between them.
func TestResultIndexShared(t *testing.T) {
	t.Parallel()
	js, store := resultStream(t)
	const n = 20
	for i := range n {
		store(fmt.Sprintf("job-%d", i))
	}
	x := newResultIndex(js, "hooks.result")
	past := time.Now().Add(-time.Minute)
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Go(func() {
			r, err := x.find(t.Context(), fmt.Sprintf("job-%d", i), past)
			if found := r != nil; err != nil || found != (i < n) {
				t.Errorf("find job-%d = %+v, %v", i, r, err)
			}
		})
	}
	wg.Wait()
	if x.read != n {
		t.Errorf("%d look-ups read %d headers, want the %d results once", 2*n, x.read, n)
	}
}

// TestResultIndexFailsWithoutStream: a look-up that cannot read the
// result stream fails, and the job is sent again.
func TestResultIndexFailsWithoutStream(t *testing.T) {
	t.Parallel()
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	x := newResultIndex(js, "hooks.result")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := x.find(ctx, "a", time.Now()); err == nil {
		t.Fatal("find without a result stream succeeded")
	}
}

// TestStoredResultLookedForAfterLostDeliveryOnly checks when a delivery
// looks for a result stored by an earlier one: only when the delivery
// before it was lost, whatever the state says of earlier ones.
func TestStoredResultLookedForAfterLostDeliveryOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		delivery  uint64
		stored    bool // the job has state
		state     state
		lookedFor bool
	}{
		{name: "first delivery", delivery: 1},
		{name: "after a lost delivery, no state", delivery: 2, lookedFor: true},
		{name: "after a hand-back", delivery: 2, stored: true, state: state{HandedBack: 1, Delivery: 1, LastHandBack: 1}},
		{name: "after a lost delivery that recorded progress", delivery: 2, stored: true, state: state{Delivery: 1}, lookedFor: true},
		{name: "after a hand-back and a lost delivery", delivery: 3, stored: true, state: state{HandedBack: 1, Delivery: 1, LastHandBack: 1}, lookedFor: true},
		{name: "after a lost delivery and a hand-back", delivery: 3, stored: true, state: state{HandedBack: 1, Delivery: 2, LastHandBack: 2}},
		{name: "state unreadable", delivery: 3, state: state{HandedBack: 2, Delivery: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _, _ := settleWorker(t, nil)
			var logged bytes.Buffer
			w.log = slog.New(slog.NewTextHandler(&logged, nil))
			w.results = newResultIndex(nil, "hooks.result") // every look-up fails, and says so
			d := &delivery{meta: &jetstream.MsgMetadata{NumDelivered: tt.delivery, Timestamp: time.Now()},
				job: job.Job{ID: "j1"}, stored: tt.stored, state: tt.state}
			if _, ok := w.storedResult(t.Context(), d); ok {
				t.Fatal("found a result without a result stream")
			}
			if looked := strings.Contains(logged.String(), "look for a result"); looked != tt.lookedFor {
				t.Errorf("looked for a stored result: %v, want %v", looked, tt.lookedFor)
			}
		})
	}
}

// TestResultIndexKeepsTheNewest adds many more results than the index
// keeps: it keeps the newest, and says from when it holds them all.
func TestResultIndexKeepsTheNewest(t *testing.T) {
	t.Parallel()
	x := &resultIndex{max: 3, ids: map[string]storedAt{}}
	start := time.Now()
	for i := range 20 {
		x.add(fmt.Sprintf("job-%d", i%7), &jetstream.MsgMetadata{
			Sequence: jetstream.SequencePair{Stream: uint64(i + 1)}, Timestamp: start.Add(time.Duration(i) * time.Second)})
	}
	// The last three are job-3, job-4 and job-5, at sequences 18 to 20.
	if len(x.ids) != 3 || len(x.order)-x.head != 3 || x.ids["job-3"].seq != 18 || x.ids["job-5"].seq != 20 {
		t.Errorf("index keeps %v (%d in order), want job-3, job-4 and job-5 from the last three", x.ids, len(x.order)-x.head)
	}
	if want := start.Add(16*time.Second + time.Nanosecond); !x.from.Equal(want) {
		t.Errorf("index complete from %s, want just after the 17th result, %s", x.from, want)
	}
	if cap(x.order) > 4*x.max {
		t.Errorf("index order holds %d entries for %d results kept", cap(x.order), x.max)
	}
}
