package bustest_test

import (
	"testing"

	"github.com/hookworker/hookworker/bus/bustest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestServerTakesJetStreamClients(t *testing.T) {
	t.Parallel()
	srv := bustest.Server(t)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(t.Context()); err != nil {
		t.Errorf("AccountInfo: %v; want JetStream enabled", err)
	}
}
