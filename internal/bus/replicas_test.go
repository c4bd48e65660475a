package bus

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/syncbuf"
)

// TestReplicasOfEverythingCreated sets the worker up on a three-server
// cluster with three replicas: every stream and bucket it creates (jobs,
// results, state, events, the catalog's buckets, the delivery log, the
// rate limits) has
// three, and so has the job consumer; a bucket that existed with one is
// used as it is, and a warning names it.
func TestReplicasOfEverythingCreated(t *testing.T) {
	t.Parallel()
	c := bustest.NewCluster(t, 3)
	var logs syncbuf.Buffer
	b, err := Connect(Config{URL: c.URLs(), Replicas: 3, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx := t.Context()
	bound, err := b.Ensure(ctx, topology()) // waits for the cluster to place replicas
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: TenantsBucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnsureEvents(ctx, EventTopology{EventMaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnsureAttempts(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := b.EnsureRates(ctx); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{
		"HOOKS": 3, "HOOKS_RESULTS": 3, "KV_" + DefaultStateBucket: 3,
		EventStream: 3, "KV_" + EventTypesBucket: 3, "KV_" + EndpointsBucket: 3, AttemptStream: 3,
		"KV_" + RateBucket: 3, "KV_" + TenantsBucket: 1,
	}
	for name, n := range want {
		s, err := b.JetStream().Stream(ctx, name)
		if err != nil {
			t.Errorf("stream %s: %v", name, err)
			continue
		}
		if got := s.CachedInfo().Config.Replicas; got != n {
			t.Errorf("stream %s has %d replicas, want %d", name, got, n)
		}
	}
	ci, err := bound.Consumer.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Cluster == nil || len(ci.Cluster.Replicas) != 2 {
		t.Errorf("job consumer cluster info %+v, want a leader and two replicas", ci.Cluster)
	}
	warned := func(name string) bool {
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "replica count") && strings.Contains(line, "="+name+" ") {
				return true
			}
		}
		return false
	}
	if !warned(TenantsBucket) || !strings.Contains(logs.String(), "replicas=1 configured_replicas=3") {
		t.Errorf("no warning naming %s with its replicas; log:\n%s", TenantsBucket, logs.String())
	}
	for name := range want {
		if name != "KV_"+TenantsBucket && warned(strings.TrimPrefix(name, "KV_")) {
			t.Errorf("a warning names %s, which has the replicas configured", name)
		}
	}
}

// TestPermanent checks which errors Ensure gives up on: too few servers up
// to place the replicas is waited out; replicas asked of a server that is
// not in a cluster are not.
func TestPermanent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no suitable peers", &jetstream.APIError{Code: http.StatusBadRequest, ErrorCode: errCodeNoPeers}, false},
		{"insufficient resources", &jetstream.APIError{Code: http.StatusServiceUnavailable, ErrorCode: 10023}, false},
		{"replicas without a cluster", &jetstream.APIError{Code: http.StatusInternalServerError, ErrorCode: errCodeReplicasNotSupported}, true},
		{"bad configuration", &jetstream.APIError{Code: http.StatusBadRequest, ErrorCode: 10052}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := permanent(tt.err); got != tt.want {
				t.Errorf("permanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestRetry checks that Retry tries again after an error that may go away
// (here a request that timed out), and not after one that will not.
func TestRetry(t *testing.T) {
	t.Parallel()
	b := &Bus{log: slog.New(slog.DiscardHandler)}
	calls := 0
	got, err := Retry(t.Context(), b, func(context.Context) (int, error) {
		calls++
		if calls < 3 {
			return 0, nats.ErrTimeout
		}
		return 42, nil
	})
	if got != 42 || err != nil || calls != 3 {
		t.Errorf("Retry = %d, %v after %d calls; want 42, nil after 3", got, err, calls)
	}
	calls = 0
	_, err = Retry(t.Context(), b, func(context.Context) (int, error) {
		calls++
		return 0, &SubjectError{Stream: "HOOKS", Subject: "hooks.send"}
	})
	var se *SubjectError
	if !errors.As(err, &se) || calls != 1 {
		t.Errorf("Retry = %v after %d calls; want the SubjectError after 1", err, calls)
	}
}
