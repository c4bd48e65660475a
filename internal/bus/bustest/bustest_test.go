package bustest_test

import (
	"testing"

	"github.com/hookworker/hookworker/internal/bus/bustest"
)

func TestServerTakesJetStreamClients(t *testing.T) {
	t.Parallel()
	srv := bustest.Server(t)
	_, js := bustest.Connect(t, srv.ClientURL())
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Errorf("AccountInfo: %v; want JetStream enabled", err)
	}
}
