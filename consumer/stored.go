package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/resultscan"
	"github.com/hookworker/hookworker/job"
)

// A delivery lost after it stored the job's result and before it
// acknowledged the job (its worker was killed between the two) leaves
// nothing in the state bucket. Its redelivery would send the job again,
// and the result of that second send (one more attempt) would be dropped
// by the result stream's de-duplication: the receiver would get a webhook
// whose result was stored already, and the stored result would count one
// attempt fewer than the receiver saw. So a delivery that follows a lost
// one first looks in the result stream for a result stored for its job
// since the job was stored; when there is one, the job is acknowledged
// with it and nothing is sent.
//
// The result stream has no subject per job: the look-up reads result
// headers (resultscan), through an index of the newest results that the
// worker's look-ups share. It is bounded:
//
//   - in time stored: from the job's own stored time (no result of the
//     job is older), and no further back than the result stream's
//     duplicate window (a result older than that would not keep a second
//     one from being stored anyway). AckWait is no bound: the redelivery
//     comes AckWait after the lost delivery's last sign of life only when
//     a worker is pulling, and much later when every worker was down;
//   - in messages: the newest indexMax results;
//   - in time spent: opTimeout, the wait for the index included.
//
// When a bound keeps it from telling, or it fails, the job is sent again,
// as it would be without the look-up, and a warning says so.

const (
	// indexMax bounds the result headers an index reads in its life: the
	// newest indexMax results at most. A job whose earlier result, if any,
	// would be older than those is sent again, as it would be without the
	// look-up, and a warning says so.
	indexMax = 10_000
	// indexIdle is how long an index is kept after its last look-up.
	indexIdle = time.Minute
	// defaultLookback is how far back the index reads when the result
	// stream has no duplicate window.
	defaultLookback = 10 * time.Minute
	// clockSkew allows for the clocks of the servers that store jobs and
	// results, which may differ in a cluster.
	clockSkew = 5 * time.Second
)

// errBound is the error of a look-up that cannot tell whether a result is
// stored: the results since the job are more than the index reads.
var errBound = errors.New("more results stored since the job than the look-up reads")

// storedResult returns the result a lost delivery of d's job stored, and
// reports whether there is one. It looks only when the delivery before d's
// was lost (it neither acknowledged nor handed the job back), so that a
// first delivery, and one that follows a hand-back, cost nothing; and only
// when the job's state could be read (without it, the job is sent, as the
// state's own failure says). A look-up that fails or cannot tell is logged
// and the job is sent again.
func (w *Worker) storedResult(ctx context.Context, d *delivery) (job.Result, bool) {
	previous := d.meta.NumDelivered - 1
	if lost := int(previous) - d.state.HandedBack; lost <= 0 || (d.stored && d.state.LastHandBack == previous) {
		return job.Result{}, false
	}
	ctx, cancel := w.linked(ctx, opTimeout)
	defer cancel()
	// A result of this job is stored after the job was.
	r, err := w.results.find(ctx, d.job.ID, d.meta.Timestamp.Add(-clockSkew))
	if err != nil {
		w.logFor(d).Warn("look for a result stored by a lost delivery; sending the job again", "job_id", d.job.ID, "error", err)
		return job.Result{}, false
	}
	if r == nil {
		return job.Result{}, false
	}
	w.logFor(d).Info("result stored by a lost delivery; job acknowledged, not sent again", "job_id", d.job.ID,
		"delivery", d.meta.NumDelivered)
	return *r, true
}

// resultIndex maps the job ids of the newest results to where they are
// stored. It is built by the first look-up (the results of the lookback,
// the result stream's duplicate window, at most the newest indexMax), and
// every later look-up first reads what was stored since the previous one:
// the jobs of one dead worker, redelivered together, share one scan, and
// each look-up still sees every result stored before it began. The index
// keeps the newest max results it read, dropping the oldest as new ones
// come; a look-up reads at most max+1 headers (more stored since the
// previous look-up than max, and the index is built again). An index
// unused for indexIdle is dropped.
type resultIndex struct {
	js      jetstream.JetStream
	subject string
	// max bounds the results the index keeps, and the headers one look-up
	// reads (indexMax).
	max int
	// sem is held by whatever uses the index (a look-up, or the timer
	// that drops it); look-ups wait for it, or for their context to end.
	sem chan struct{}
	// stream is the result stream's name, found from subject.
	stream string
	// ids holds the last result kept for each job id; order holds the
	// results kept, oldest first, from head on.
	ids   map[string]storedAt
	order []indexed
	head  int
	// from and next: every result stored at or after from, with a
	// sequence below next, is in ids.
	from time.Time
	next uint64
	// lookback is the result stream's duplicate window, as last read.
	lookback time.Duration
	// read counts the headers read since the index was built.
	read int
	// idle drops the index once unused for indexIdle.
	idle *time.Timer
}

// storedAt is where and when a result is stored.
type storedAt struct {
	seq uint64
	at  time.Time
}

// indexed is a result the index keeps.
type indexed struct {
	id string
	storedAt
}

func newResultIndex(js jetstream.JetStream, subject string) *resultIndex {
	return &resultIndex{js: js, subject: subject, max: indexMax, sem: make(chan struct{}, 1)}
}

// find returns the last result stored for job id at or after since, or nil
// when there is none. It fails with errBound when it cannot tell.
func (x *resultIndex) find(ctx context.Context, id string, since time.Time) (*job.Result, error) {
	if x == nil || x.js == nil {
		return nil, errors.New("no result stream")
	}
	select {
	case x.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-x.sem }()
	if x.stream == "" {
		name, err := x.js.StreamNameBySubject(ctx, x.subject)
		if err != nil {
			return nil, fmt.Errorf("find the stream of %s: %w", x.subject, err)
		}
		x.stream = name
	}
	s, err := x.js.Stream(ctx, x.stream) // where the stream ends now
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", x.stream, err)
	}
	info := s.CachedInfo()
	if err := x.update(ctx, info); err != nil {
		x.drop()
		return nil, err
	}
	x.keep()
	e, ok := x.ids[id]
	switch {
	case ok && !e.at.Before(since):
	// The index reads no further back than the duplicate window: an
	// older result would not keep a second one from being stored anyway.
	case later(since, time.Now().Add(-x.lookback)).Before(x.from):
		return nil, fmt.Errorf("%w (the newest %d)", errBound, x.max)
	default:
		return nil, nil
	}
	m, err := s.GetMsg(ctx, e.seq)
	if err != nil {
		return nil, fmt.Errorf("read the result of job %s: %w", id, err)
	}
	var r job.Result
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return nil, fmt.Errorf("decode the result of job %s: %w", id, err)
	}
	return &r, nil
}

// update brings the index up to the end of the stream info describes:
// it reads what was stored since the last look-up, or builds the index
// again when it has none, or when more than max were stored since.
func (x *resultIndex) update(ctx context.Context, info *jetstream.StreamInfo) error {
	last := info.State.LastSeq
	x.lookback = info.Config.Duplicates
	if x.lookback <= 0 {
		x.lookback = defaultLookback
	}
	if x.ids != nil && last+1 >= x.next && last+1-x.next <= uint64(x.max) {
		return x.scan(ctx, info, resultscan.Span{Seq: x.next})
	}
	x.drop()
	x.ids, x.read, x.next = make(map[string]storedAt), 0, last+1
	x.from = time.Now().Add(-x.lookback)
	lo := uint64(1)
	if last > uint64(x.max) {
		lo = last - uint64(x.max) + 1
	}
	more := false
	err := resultscan.Scan(ctx, x.js, info, x.subject, resultscan.Span{Since: x.from}, func(id string, meta *jetstream.MsgMetadata) bool {
		if meta.Sequence.Stream < lo {
			more = true // the lookback holds more than max
			return false
		}
		x.add(id, meta)
		return true
	})
	if err != nil || !more {
		return err
	}
	// Only the newest max: the index is complete from the first.
	x.from = time.Time{}
	return resultscan.Scan(ctx, x.js, info, x.subject, resultscan.Span{Seq: lo}, func(id string, meta *jetstream.MsgMetadata) bool {
		if x.from.IsZero() {
			x.from = meta.Timestamp.Add(time.Nanosecond)
		}
		x.add(id, meta)
		return true
	})
}

// scan adds the results from span to the end of the stream info describes.
func (x *resultIndex) scan(ctx context.Context, info *jetstream.StreamInfo, span resultscan.Span) error {
	x.next = info.State.LastSeq + 1
	return resultscan.Scan(ctx, x.js, info, x.subject, span, func(id string, meta *jetstream.MsgMetadata) bool {
		x.add(id, meta)
		return true
	})
}

// add keeps the result of job id that meta describes, and drops the
// oldest result kept when the index holds more than max.
func (x *resultIndex) add(id string, meta *jetstream.MsgMetadata) {
	x.read++
	e := indexed{id: id, storedAt: storedAt{seq: meta.Sequence.Stream, at: meta.Timestamp}}
	x.ids[id] = e.storedAt
	x.order = append(x.order, e)
	if len(x.order)-x.head <= x.max {
		return
	}
	old := x.order[x.head]
	x.order[x.head] = indexed{}
	x.head++
	if x.ids[old.id].seq == old.seq {
		delete(x.ids, old.id)
	}
	// Every result stored after the one dropped is still kept.
	x.from = later(x.from, old.at.Add(time.Nanosecond))
	if x.head >= x.max {
		x.order = append(x.order[:0], x.order[x.head:]...)
		x.head = 0
	}
}

// keep drops the index indexIdle after this look-up unless another comes.
func (x *resultIndex) keep() {
	if x.idle != nil {
		x.idle.Reset(indexIdle)
		return
	}
	x.idle = time.AfterFunc(indexIdle, func() {
		x.sem <- struct{}{}
		x.drop()
		<-x.sem
	})
}

// drop empties the index: the next look-up builds it again.
func (x *resultIndex) drop() { x.ids, x.order, x.head = nil, nil, 0 }

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
