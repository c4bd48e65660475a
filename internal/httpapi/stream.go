package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// streamRoute is the attempt stream's route, for its query's checks.
var streamRoute = route{method: "GET", path: "/attempts/stream", op: "attempts.watch", query: map[string]kind{"endpoint": text}}

// stream is GET /attempts/stream?endpoint=: the attempt records stored
// from now on that the caller may see, as Server-Sent Events ("event:
// attempt", the record's JSON as data), with a comment as heartbeat when
// nothing else is sent; it ends when the client goes.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	data, err := streamRoute.request(r)
	if err != nil {
		h.fail(w, r, streamRoute.op, err)
		return
	}
	var q struct {
		Endpoint string `json:"endpoint"`
	}
	_ = json.Unmarshal(data, &q)
	endpoint := q.Endpoint
	ctx := r.Context()
	records, err := h.cfg.API.Watch(ctx, endpoint)
	if err != nil {
		h.fail(w, r, streamRoute.op, err)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the stream has no end of its own
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": watching attempts\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case rec, ok := <-records:
			if !ok {
				return
			}
			data, merr := json.Marshal(rec)
			if merr != nil {
				continue
			}
			_, err = fmt.Fprintf(w, "event: attempt\ndata: %s\n\n", data)
		case <-beat.C:
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}
