package attempt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
)

// MaxStatsWindow is the longest window Stats counts over: a month of hours.
const MaxStatsWindow = 31 * 24 * time.Hour

// Counts are attempts by outcome: Delivered and Failed end a delivery,
// Retry is an attempt that failed and was tried again.
type Counts struct {
	Delivered int `json:"delivered"`
	Retry     int `json:"retry"`
	Failed    int `json:"failed"`
}

// add counts one attempt of outcome o.
func (c *Counts) add(o Outcome) {
	switch o {
	case Delivered:
		c.Delivered++
	case Retry:
		c.Retry++
	case Failed:
		c.Failed++
	}
}

// HourCounts are the counts of one hour, which starts at Hour.
type HourCounts struct {
	Hour time.Time `json:"hour"`
	Counts
}

// Stats are the attempts of one endpoint in a window, by outcome: in all,
// and in each hour of the window, oldest first, hours without an attempt
// included.
type Stats struct {
	Endpoint string       `json:"endpoint"`
	Since    time.Time    `json:"since"`
	Until    time.Time    `json:"until"`
	Total    Counts       `json:"total"`
	Hours    []HourCounts `json:"hours"`
}

// Stats counts the attempts recorded for endpoint in [since, until), by
// the time they were stored, reading that window of the log forwards
// through a subject filter, the records' headers only when each has its
// outcome in HeaderOutcome; the window is at most MaxStatsWindow.
func (l *Log) Stats(ctx context.Context, endpoint string, since, until time.Time) (Stats, error) {
	since, until = since.UTC(), until.UTC()
	switch {
	case !catalog.ValidEndpointID(endpoint):
		return Stats{}, &InvalidError{Field: "id", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	case !since.Before(until):
		return Stats{}, &InvalidError{Field: "since", Reason: "must be in the past"}
	case until.Sub(since) > MaxStatsWindow:
		return Stats{}, &InvalidError{Field: "since", Reason: fmt.Sprintf("must be at most %s ago", MaxStatsWindow)}
	}
	st := Stats{Endpoint: endpoint, Since: since, Until: until, Hours: []HourCounts{}}
	first := since.Truncate(time.Hour)
	for h := first; h.Before(until); h = h.Add(time.Hour) {
		st.Hours = append(st.Hours, HourCounts{Hour: h})
	}
	info, err := l.attempts.Info(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("attempt log: %w", err)
	}
	last := info.State.LastSeq
	if last == 0 {
		return st, nil
	}
	// A record's header says its outcome: the scan leaves the bodies on
	// the server. One without (written before records had it, or of no
	// endpoint, on the subject of the endpoint "_") has the window read
	// again, bodies and all.
	cfg := jetstream.ConsumerConfig{
		FilterSubject: SubjectPrefix + endpoint + ".>", DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
		HeadersOnly: true,
	}
	count := func(o Outcome, at time.Time) {
		st.Total.add(o)
		if i := int(at.UTC().Sub(first) / time.Hour); i >= 0 && i < len(st.Hours) {
			st.Hours[i].add(o)
		}
	}
	// window reports whether m is in the window: stored by until, and not
	// after the scan started.
	window := func(m jetstream.Msg) (time.Time, bool) {
		meta, err := m.Metadata()
		if err != nil || meta.Sequence.Stream > last || !meta.Timestamp.Before(until) {
			return time.Time{}, false
		}
		return meta.Timestamp, true
	}
	headless := false
	err = bus.Scan(ctx, l.attempts, cfg, func(m jetstream.Msg) bool {
		at, ok := window(m)
		if !ok {
			return false
		}
		o := Outcome(m.Headers().Get(HeaderOutcome))
		if o == "" {
			headless = true
			return false
		}
		count(o, at)
		return true
	})
	if err == nil && headless {
		st.Total = Counts{}
		for i := range st.Hours {
			st.Hours[i].Counts = Counts{}
		}
		var rec struct {
			Endpoint *string `json:"endpoint"`
			Outcome  Outcome `json:"outcome"`
		}
		cfg.HeadersOnly = false
		err = bus.Scan(ctx, l.attempts, cfg, func(m jetstream.Msg) bool {
			at, ok := window(m)
			if !ok {
				return false
			}
			rec.Endpoint, rec.Outcome = nil, ""
			if json.Unmarshal(m.Data(), &rec) != nil || rec.Endpoint == nil || *rec.Endpoint != endpoint {
				return true
			}
			count(rec.Outcome, at)
			return true
		})
	}
	if err != nil {
		return Stats{}, fmt.Errorf("attempt log: %w", err)
	}
	return st, nil
}
