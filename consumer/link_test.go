package consumer

import (
	"context"
	"testing"
	"time"
)

// TestOperationsEndWithTheLink checks that every kind of NATS operation
// context ends when the connection's Link does, and that one started on the
// next connection does not.
func TestOperationsEndWithTheLink(t *testing.T) {
	t.Parallel()
	link, lose := context.WithCancel(context.Background())
	current := link
	w := newWorker(Options{Link: func() context.Context { return current }})

	out, cancelOut := w.linked(context.Background(), opTimeout)
	defer cancelOut()
	job, cancelJob := w.linked(context.Background(), time.Hour)
	defer cancelJob()
	lose()
	for name, ctx := range map[string]context.Context{"on the way out": out, "linked": job} {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Errorf("%s did not end with the connection", name)
		}
	}

	current = context.Background() // the next connection
	next, cancelNext := w.linked(context.Background(), time.Hour)
	defer cancelNext()
	if next.Err() != nil {
		t.Errorf("linked on the next connection has ended: %v", next.Err())
	}
	// A linked context also ends with the job's own.
	jobCtx, endJob := context.WithCancel(context.Background())
	child, cancelChild := w.linked(jobCtx, time.Hour)
	defer cancelChild()
	endJob()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Error("linked did not end with the job's context")
	}
}
