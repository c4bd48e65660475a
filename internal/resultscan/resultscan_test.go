package resultscan_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/resultscan"
	"github.com/hookworker/hookworker/job"
)

// TestScanStopsAtTheStreamsEnd reads the results from a sequence and from
// a time: it stops at the last sequence the caller's stream info saw, and
// skips what is on other subjects of the stream.
func TestScanStopsAtTheStreamsEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, js, s := newResults(t, ctx)
	publish := func(subject, id string) { publishResult(t, ctx, js, subject, id) }
	scan := func(info *jetstream.StreamInfo, span resultscan.Span) []string {
		t.Helper()
		var ids []string
		err := resultscan.Scan(ctx, js, info, "hooks.result", span, func(id string, meta *jetstream.MsgMetadata) bool {
			ids = append(ids, id)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	before := time.Now()
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := scan(info, resultscan.Span{Since: before.Add(-time.Minute)}); len(ids) != 0 {
		t.Fatalf("scan of an empty stream = %v", ids)
	}
	publish("hooks.result", "a")
	publish("other", "x")
	publish("hooks.result", "b")
	if info, err = s.Info(ctx); err != nil {
		t.Fatal(err)
	}
	publish("hooks.result", "c") // after the info: not read
	if ids := scan(info, resultscan.Span{Seq: 2}); len(ids) != 1 || ids[0] != "b" {
		t.Errorf("scan from sequence 2 = %v, want [b]", ids)
	}
	if ids := scan(info, resultscan.Span{Since: before.Add(-time.Minute)}); len(ids) != 2 || ids[0] != "a" || ids[1] != "b" {
		t.Errorf("scan since before = %v, want [a b]", ids)
	}
	if ids := scan(info, resultscan.Span{Seq: 4}); len(ids) != 0 {
		t.Errorf("scan past the end = %v, want none", ids)
	}
	publish("other", "y")
	if info, err = s.Info(ctx); err != nil {
		t.Fatal(err)
	}
	// Only another subject's message after sequence 4: nothing to wait for.
	if ids := scan(info, resultscan.Span{Seq: 5}); len(ids) != 0 {
		t.Errorf("scan of another subject's messages = %v, want none", ids)
	}
}

// TestScanPullsAgainWhenItsPullIsLost loses the scan's first pull request
// on its way to the server, as one is lost that reaches a server to which
// the consumer just made elsewhere is not known yet: nothing answers it.
// The scan hears no heartbeat, pulls again from a new consumer and reads
// every result, well within the time a worker gives a look-up.
func TestScanPullsAgainWhenItsPullIsLost(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	srv, js, s := newResults(t, ctx)
	for _, id := range []string{"a", "b"} {
		publishResult(t, ctx, js, "hooks.result", id)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}

	lossy := bustest.Lose(func(subject string, _ []byte) bool {
		return strings.HasPrefix(subject, "$JS.API.CONSUMER.MSG.NEXT.RESULTS.")
	})
	nc, err := nats.Connect(srv.ClientURL(), nats.SetCustomDialer(lossy))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ljs, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Less than the library's own heartbeat would take to tell (10 s).
	sctx, scancel := context.WithTimeout(ctx, 4*time.Second)
	defer scancel()
	var ids []string
	start := time.Now()
	err = resultscan.Scan(sctx, ljs, info, "hooks.result", resultscan.Span{Seq: 1}, func(id string, _ *jetstream.MsgMetadata) bool {
		ids = append(ids, id)
		return true
	})
	if len(lossy.Lost()) != 1 {
		t.Fatal("no pull request was lost")
	}
	if err != nil || len(ids) != 2 {
		t.Fatalf("scan after a lost pull = %v, %v; want [a b]", ids, err)
	}
	t.Logf("read every result %s after the lost pull", time.Since(start).Round(time.Millisecond))
}

// newResults starts a server with a stream RESULTS of the subjects
// hooks.result and other.
func newResults(t *testing.T, ctx context.Context) (*server.Server, jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RESULTS", Subjects: []string{"hooks.result", "other"}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, s
}

// publishResult publishes a message with job id id on subject.
func publishResult(t *testing.T, ctx context.Context, js jetstream.JetStream, subject, id string) {
	t.Helper()
	msg := &nats.Msg{Subject: subject, Data: []byte(`{}`), Header: nats.Header{job.HeaderJobID: {id}}}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
}
