package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// state is what the state bucket keeps for a job between deliveries.
type state struct {
	// Progress is what earlier deliveries spent.
	Progress sender.Progress `json:"progress"`
	// HandedBack counts deliveries ended on purpose with a negative
	// acknowledgement (deferred, host busy, interrupted, result not stored);
	// every other earlier delivery was lost.
	HandedBack int `json:"handed_back"`
	// Delivery is the delivery (JetStream's NumDelivered) that wrote this
	// state: deliveries after it wrote nothing, and were lost.
	Delivery uint64 `json:"delivery,omitempty"`
	// LastHandBack is the delivery that last handed the job back. A
	// delivery after it that wrote no hand-back was lost, and may have
	// stored the job's result before it was (see storedResult).
	LastHandBack uint64 `json:"last_hand_back,omitempty"`
	// StartedAt is when the first delivery started.
	StartedAt time.Time `json:"started_at"`
	// Result is a terminal result that was published (or meant to be) but
	// whose job was not acknowledged: the next delivery stores it again
	// instead of sending again.
	Result *job.Result `json:"result,omitempty"`
}

// loadState reads what earlier deliveries left of d's job.
func (w *Worker) loadState(ctx context.Context, d *delivery) {
	ctx, cancel := w.linked(ctx, opTimeout)
	defer cancel()
	e, err := w.state.Get(ctx, d.stateKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	if err != nil {
		// Without the state the job still runs, with fresh budgets; the
		// lost-delivery count errs towards running it.
		w.logFor(d).Warn("load job state", "job_id", d.job.ID, "error", err)
		d.state.HandedBack = int(d.meta.NumDelivered) - 1
		d.state.Delivery = d.meta.NumDelivered - 1
		return
	}
	var s state
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		w.logFor(d).Warn("decode job state", "job_id", d.job.ID, "error", err)
		d.state.HandedBack = int(d.meta.NumDelivered) - 1
		d.state.Delivery = d.meta.NumDelivered - 1
		d.stored = true
		return
	}
	if s.StartedAt.IsZero() {
		s.StartedAt = d.start
	}
	d.state = s
	d.stored = true
}

// handBack counts d's delivery as one ended on purpose, with a hand-back.
func (d *delivery) handBack() {
	d.state.HandedBack++
	if d.meta != nil {
		d.state.LastHandBack = d.meta.NumDelivered
	}
}

// progressTimeout bounds saving a job's progress before a retry; the
// attempt waits for it.
const progressTimeout = 2 * time.Second

// saveProgress records, before a retry attempt, what the job has spent
// counting that attempt, so that a worker that dies during its retries does
// not take the count with it: the redelivery goes on from there. A first
// attempt is never recorded, so a job delivered at once costs no write.
func (w *Worker) saveProgress(ctx context.Context, d *delivery, p sender.Progress) {
	q := w.requestsWithin(ctx, progressTimeout)
	defer q.done()
	d.state.Progress = p
	w.saveState(&q, d)
}

// saveState records d's state in the state bucket, within q's tries.
func (w *Worker) saveState(q *requests, d *delivery) {
	if d.meta != nil {
		d.state.Delivery = d.meta.NumDelivered
	}
	data, err := w.encodeState(d)
	if err == nil {
		err = q.send(func(ctx context.Context) error {
			_, err := w.state.Put(ctx, d.stateKey, data)
			return err
		})
	}
	if err != nil {
		w.logFor(d).Warn("save job state", "job_id", d.job.ID, "error", err)
		return
	}
	d.stored = true
}

// encodeState returns d's state as JSON within the server's max payload:
// a state too large loses the last response of its progress (the result
// will say it was cut), and then what its result must to fit.
func (w *Worker) encodeState(d *delivery) ([]byte, error) {
	max := int(w.maxPayload())
	data, err := json.Marshal(d.state)
	if err != nil || len(data) <= max {
		return data, err
	}
	if d.state.Progress.Response != nil {
		d.state.Progress.Response, d.state.Progress.Truncated = nil, true
		if data, err = json.Marshal(d.state); err != nil || len(data) <= max {
			return data, err
		}
	}
	if r := d.state.Result; r != nil {
		own, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		// The other fields take len(data)-len(own) bytes.
		fitted, _, err := job.Fit(*r, max-(len(data)-len(own)), nil)
		if err != nil {
			return nil, err
		}
		d.state.Result = &fitted
		return json.Marshal(d.state)
	}
	return data, nil
}

// stateKey maps a job id to a state bucket key; ids may hold ':', keys may
// not, and '=' never appears in an id.
func stateKey(id string) string { return strings.ReplaceAll(id, ":", "=") }
