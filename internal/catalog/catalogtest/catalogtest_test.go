package catalogtest_test

import (
	"testing"

	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
)

func TestStartEnsuresTheEventTopology(t *testing.T) {
	ctx, b, eb := catalogtest.Start(t)
	if eb.Events == nil || eb.Types == nil || eb.Endpoints == nil {
		t.Fatalf("event topology not bound: %+v", eb)
	}
	if _, err := eb.Types.Put(ctx, "probe", []byte("{}")); err != nil {
		t.Fatalf("types bucket: %v", err)
	}
	if !b.Conn().IsConnected() {
		t.Fatal("bus not connected")
	}
	if ctx.Err() != nil {
		t.Fatalf("context ended during the test: %v", ctx.Err())
	}
}
