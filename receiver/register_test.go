package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/receiver"
)

// The client is what Register takes.
var _ receiver.EndpointAPI = (*client.Client)(nil)

// serveAPI starts the event and endpoint API as a worker serves it, on the
// server at url, until the returned function is called.
func serveAPI(url string) (stop func(), err error) {
	b, err := bus.Connect(bus.Config{URL: url})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	fail := func(err error) (func(), error) {
		cancel()
		b.Close()
		return nil, err
	}
	eb, err := b.EnsureEvents(ctx, bus.EventTopology{})
	if err != nil {
		return fail(err)
	}
	cat, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints, Conn: b.Conn()})
	if err != nil {
		return fail(err)
	}
	svc, err := api.Start(b.Conn(), api.Config{Catalog: cat, JetStream: b.JetStream(), Events: eb.Events})
	if err != nil {
		return fail(err)
	}
	return func() {
		_ = svc.Stop()
		cancel()
		b.Close()
	}, nil
}

// apiClient starts a server with the API and returns a client of it.
func apiClient(t *testing.T) *client.Client {
	t.Helper()
	srv := bustest.Server(t)
	stop, err := serveAPI(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	nc, _ := bustest.Connect(t, srv.ClientURL())
	return client.New(nc, client.WithTimeout(5*time.Second))
}

func TestRegister(t *testing.T) {
	c := apiClient(t)
	ctx := t.Context()
	if _, err := c.PutEventType(ctx, client.EventType{Name: "order.created"}); err != nil {
		t.Fatal(err)
	}
	given := newSecret(t)

	t.Run("by id, created with the secret given", func(t *testing.T) {
		secret, ep, err := receiver.Register(ctx, c, client.Endpoint{ID: "ep_dev", URL: "https://example.com/dev", EventTypes: []string{"order.created"}}, receiver.WithSecret(given))
		if err != nil {
			t.Fatal(err)
		}
		if secret != given || ep.ID != "ep_dev" || ep.URL != "https://example.com/dev" || len(ep.EventTypes) != 1 {
			t.Fatalf("Register = %v, %+v; want the secret given and the endpoint asked for", secret == given, ep)
		}
	})
	t.Run("by id, reused unchanged", func(t *testing.T) {
		other := newSecret(t)
		secret, ep, err := receiver.Register(ctx, c, client.Endpoint{ID: "ep_dev", URL: "https://example.com/moved"}, receiver.WithSecret(other))
		if err != nil {
			t.Fatal(err)
		}
		if secret != given || ep.URL != "https://example.com/dev" || len(ep.EventTypes) != 1 {
			t.Fatalf("Register = %v, %+v; want the endpoint as it was and its own secret", secret == given, ep)
		}
		if got, _ := c.Endpoint(ctx, "ep_dev"); got.URL != "https://example.com/dev" {
			t.Fatalf("the endpoint was changed: %+v", got)
		}
	})
	t.Run("by url, created then reused", func(t *testing.T) {
		want := client.Endpoint{URL: "https://example.com/by-url"}
		first, ep, err := receiver.Register(ctx, c, want)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ep.ID, "ep_") || !strings.HasPrefix(first, "whsec_") {
			t.Fatalf("Register = %+v; want a generated id and secret", ep)
		}
		if _, err := receiver.NewVerifier([]string{first}, 0); err != nil {
			t.Fatalf("the secret does not make a verifier: %v", err)
		}
		again, same, err := receiver.Register(ctx, c, want)
		if err != nil {
			t.Fatal(err)
		}
		if same.ID != ep.ID || again != first {
			t.Fatalf("second Register: endpoint %s (first %s), same secret %v", same.ID, ep.ID, again == first)
		}
		page, err := c.Endpoints(ctx, client.EndpointQuery{})
		if err != nil || len(page.Endpoints) != 2 {
			t.Fatalf("the API holds %d endpoints (%v), want 2", len(page.Endpoints), err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, _, err := receiver.Register(ctx, c, client.Endpoint{ID: "ep_bad", URL: "https://example.com/bad", EventTypes: []string{"order.unknown"}})
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || !errors.Is(err, client.ErrBadRequest) || apiErr.Field != "event_types" {
			t.Fatalf("Register = %v, want the API's 400 on event_types", err)
		}
		if _, err := c.Endpoint(ctx, "ep_bad"); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("a refused endpoint exists: %v", err)
		}
		if _, _, err := receiver.Register(ctx, c, client.Endpoint{ID: "ep_nourl"}); err == nil || !strings.Contains(err.Error(), "URL") {
			t.Fatalf("Register without a URL = %v", err)
		}
		_, _, err = receiver.Register(ctx, c, client.Endpoint{ID: "ep_secret", URL: "https://example.com/s"}, receiver.WithSecret("whsec_dG9vc2hvcnQ="))
		if !errors.Is(err, client.ErrBadRequest) || strings.Contains(err.Error(), "dG9vc2hvcnQ") {
			t.Fatalf("Register with a bad secret = %v, want a 400 that does not repeat it", err)
		}
	})
}

func TestRegisterNoAPI(t *testing.T) {
	srv := bustest.Server(t) // NATS without any worker
	nc, _ := bustest.Connect(t, srv.ClientURL())
	c := client.New(nc, client.WithTimeout(2*time.Second))
	for _, want := range []client.Endpoint{{ID: "ep_x", URL: "https://example.com/x"}, {URL: "https://example.com/x"}} {
		if _, _, err := receiver.Register(t.Context(), c, want); !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("Register(%+v) = %v, want no responders", want, err)
		}
	}
}

// Register the endpoint a receiver serves, then verify what is sent to it
// with the secret Register returns.
func ExampleRegister() {
	dir, err := os.MkdirTemp("", "register-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		log.Fatal("nats server not ready")
	}
	stop, err := serveAPI(srv.ClientURL()) // what every hookworker serves
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c := client.New(nc)
	ctx := context.Background()

	// At every start: the first creates the endpoint, the next reuse it.
	want := client.Endpoint{ID: "ep_orders", URL: "https://orders.example.com/webhooks"}
	secret, ep, err := receiver.Register(ctx, c, want)
	if err != nil {
		log.Fatal(err)
	}
	again, _, err := receiver.Register(ctx, c, want)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep.ID, ep.URL, again == secret)

	rc, err := receiver.New(receiver.Config{Secrets: []string{secret}})
	if err != nil {
		log.Fatal(err)
	}
	rc.On("order.created", func(ctx context.Context, ev receiver.Event) error {
		fmt.Printf("%s %s\n", ev.Type, ev.Data)
		return nil
	})
	hooks := httptest.NewServer(rc)
	defer hooks.Close()
	fmt.Println(post(hooks.URL, secret, "evt_1", `{"type":"order.created","timestamp":"2026-11-27T12:00:00Z","data":{"order":1}}`) == http.StatusNoContent)
	// Output:
	// ep_orders https://orders.example.com/webhooks true
	// order.created {"order":1}
	// true
}
