package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/job"
)

// otlpSink is an OTLP/HTTP trace receiver: it keeps every span exported to
// it on /v1/traces (protobuf).
type otlpSink struct {
	*httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newOTLPSink(t *testing.T) *otlpSink {
	t.Helper()
	s := &otlpSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want protobuf on /v1/traces", http.StatusNotFound)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		data, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(data, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				s.spans = append(s.spans, ss.GetSpans()...)
			}
		}
		s.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.Close)
	return s
}

// await returns the spans received once every name in names is among
// them, failing the test after a while.
func (s *otlpSink) await(t *testing.T, names ...string) []*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		spans := append([]*tracepb.Span(nil), s.spans...)
		s.mu.Unlock()
		missing := ""
		for _, n := range names {
			if spanNamed(spans, n) == nil {
				missing = n
			}
		}
		if missing == "" {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q exported; got %d spans", missing, len(spans))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spanNamed(spans []*tracepb.Span, name string) *tracepb.Span {
	for _, s := range spans {
		if s.GetName() == name {
			return s
		}
	}
	return nil
}

// tracedRun is a worker with tracing on, exporting to an in-process OTLP
// receiver, and a receiver that keeps the traceparent of every request.
type tracedRun struct {
	worker  *proc
	sink    *otlpSink
	rc      *httptest.Server
	natsURL string
	mu      sync.Mutex
	parents []string
}

func startTraced(t *testing.T) *tracedRun {
	t.Helper()
	srv := bustest.Server(t)
	tr := &tracedRun{sink: newOTLPSink(t), natsURL: srv.ClientURL()}
	tr.rc = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		tr.mu.Lock()
		tr.parents = append(tr.parents, r.Header.Get("Traceparent"))
		tr.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(tr.rc.Close)
	env := baseEnv(srv.ClientURL())
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = tr.sink.URL
	env["OTEL_BSP_SCHEDULE_DELAY"] = "50" // milliseconds
	env["OTEL_SERVICE_NAME"] = "hookworker-test"
	tr.worker = start(t, env)
	tr.worker.waitLog(t, "worker running")
	return tr
}

// traceparents are those the receiver got.
func (tr *tracedRun) traceparents() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.parents...)
}

// producer returns a context carrying a producer's span, of a tracer of
// the test's own that exports nowhere, and the span.
func producer(t *testing.T) (context.Context, trace.Span) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("producer").Start(t.Context(), "produce")
}

// checkChild checks that span is in the trace of parent, its child.
func checkChild(t *testing.T, span, parent *tracepb.Span) {
	t.Helper()
	if !bytes.Equal(span.GetParentSpanId(), parent.GetSpanId()) || !bytes.Equal(span.GetTraceId(), parent.GetTraceId()) {
		t.Errorf("span %s: parent %x in trace %x, want %s %x in trace %x", span.GetName(),
			span.GetParentSpanId(), span.GetTraceId(), parent.GetName(), parent.GetSpanId(), parent.GetTraceId())
	}
}

// TestTraceOfAJob runs the worker with tracing on, exporting to an
// in-process OTLP receiver, and publishes a job under a producer's span:
// the job's span is the producer span's child, the HTTP attempt's span
// the job span's, the receiver gets the attempt's traceparent, the result
// carries the trace id and the job's log line too.
func TestTraceOfAJob(t *testing.T) {
	tr := startTraced(t)
	w, sink, rc := tr.worker, tr.sink, tr.rc

	ctx, produce := producer(t)
	nc, _ := bustest.Connect(t, tr.natsURL)
	c := client.New(nc)
	id, err := c.Publish(ctx, job.Job{ID: "traced-1", URL: rc.URL + "/hook", Payload: json.RawMessage(`{"n":1}`)})
	produce.End()
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res, err := c.Wait(wctx, id)
	if err != nil {
		t.Fatal(err)
	}
	traceID := produce.SpanContext().TraceID().String()
	if !res.OK || res.TraceID != traceID {
		t.Fatalf("result ok %v trace_id %q, want delivered in trace %s", res.OK, res.TraceID, traceID)
	}

	spans := sink.await(t, "hookworker.job", "POST")
	jobSpan, attempt := spanNamed(spans, "hookworker.job"), spanNamed(spans, "POST")
	if got := hex.EncodeToString(jobSpan.GetTraceId()); got != traceID {
		t.Errorf("job span in trace %s, want the producer's %s", got, traceID)
	}
	if got, want := hex.EncodeToString(jobSpan.GetParentSpanId()), produce.SpanContext().SpanID().String(); got != want {
		t.Errorf("job span's parent %s, want the producer's span %s", got, want)
	}
	if jobSpan.GetKind() != tracepb.Span_SPAN_KIND_CONSUMER || attempt.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds: job %s, attempt %s; want consumer, client", jobSpan.GetKind(), attempt.GetKind())
	}
	checkChild(t, attempt, jobSpan)
	got := tr.traceparents()
	want := "00-" + traceID + "-" + hex.EncodeToString(attempt.GetSpanId()) + "-01"
	if len(got) != 1 || got[0] != want {
		t.Errorf("receiver got traceparent %q, want [%s]: the attempt's", got, want)
	}
	w.waitLog(t, `"trace_id":"`+traceID+`"`)
	finished := 0
	for _, line := range strings.Split(w.stderr.String(), "\n") {
		if strings.Contains(line, `"job finished"`) {
			finished++
			if !strings.Contains(line, `"trace_id":"`+traceID+`"`) {
				t.Errorf("job's log line without its trace_id: %s", line)
			}
		}
	}
	if finished != 1 {
		t.Errorf("%d job finished lines, want 1", finished)
	}
}

// TestTraceOfAnEvent sends an event under a producer's span, through the
// API, to a worker with tracing on: the fan-out's span is the producer
// span's child, the job's span the fan-out's, the attempt's the job's, and
// the result and the receiver's traceparent are in the producer's trace.
func TestTraceOfAnEvent(t *testing.T) {
	tr := startTraced(t)
	nc, _ := bustest.Connect(t, tr.natsURL)
	c := client.New(nc)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := c.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	ep, err := c.PutEndpoint(ctx, client.Endpoint{ID: "ep_traced", URL: tr.rc.URL + "/events"}, "")
	if err != nil {
		t.Fatal(err)
	}
	pctx, produce := producer(t)
	sent, err := c.SendEvent(pctx, client.Event{ID: "evt_traced", Type: "order.created", Payload: json.RawMessage(`{"order":1}`)})
	produce.End()
	if err != nil || sent.Endpoints != 1 {
		t.Fatalf("send event: %+v, %v", sent, err)
	}
	res, err := c.Wait(ctx, sent.ID+":"+ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	traceID := produce.SpanContext().TraceID().String()
	if !res.OK || res.TraceID != traceID {
		t.Fatalf("result ok %v trace_id %q, want delivered in trace %s", res.OK, res.TraceID, traceID)
	}
	spans := tr.sink.await(t, "hookworker.fanout", "hookworker.job", "POST")
	fan, jobSpan, attempt := spanNamed(spans, "hookworker.fanout"), spanNamed(spans, "hookworker.job"), spanNamed(spans, "POST")
	if got, want := hex.EncodeToString(fan.GetParentSpanId()), produce.SpanContext().SpanID().String(); got != want || hex.EncodeToString(fan.GetTraceId()) != traceID {
		t.Errorf("fan-out span's parent %s, want the producer's span %s", got, want)
	}
	checkChild(t, jobSpan, fan)
	checkChild(t, attempt, jobSpan)
	want := "00-" + traceID + "-" + hex.EncodeToString(attempt.GetSpanId()) + "-01"
	if got := tr.traceparents(); len(got) != 1 || got[0] != want {
		t.Errorf("receiver got traceparent %q, want [%s]: the attempt's", got, want)
	}
}
