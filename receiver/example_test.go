package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookworker/hookworker/receiver"
)

// exampleSecret is the secret the examples' sender and receiver share.
const exampleSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// post sends body to url as hookworker does: a POST signed with secret.
func post(url, secret, id, body string) int {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	sig, err := wh.Sign(id, now, []byte(body))
	if err != nil {
		log.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func Example() {
	rc, err := receiver.New(receiver.Config{Secrets: []string{exampleSecret}})
	if err != nil {
		log.Fatal(err)
	}
	rc.On("order.created", func(ctx context.Context, ev receiver.Event) error {
		var order struct {
			ID    string `json:"id"`
			Total int    `json:"total"`
		}
		if err := json.Unmarshal(ev.Data, &order); err != nil {
			return receiver.Permanent(err) // a retry would fail the same way
		}
		fmt.Printf("%s: order %s, total %d\n", ev.Type, order.ID, order.Total)
		return nil
	})
	srv := httptest.NewServer(rc) // in production: http.Handle("POST /webhooks", rc)
	defer srv.Close()

	body := `{"type":"order.created","timestamp":"2026-01-02T03:04:05Z","data":{"id":"A-1","total":42}}`
	fmt.Println(post(srv.URL, exampleSecret, "evt_1", body))
	fmt.Println(post(srv.URL, exampleSecret, "evt_1", body)) // a retry: acknowledged, not handled again
	fmt.Println(post(srv.URL, "whsec_c29tZW9uZSBlbHNlIHNpZ25zIHRoaXMh", "evt_2", body))
	fmt.Println(post(srv.URL, exampleSecret, "evt_3", `{"type":"order.deleted","data":{}}`))
	// Output:
	// order.created: order A-1, total 42
	// 204
	// 204
	// 403
	// 204
}

func ExamplePermanent() {
	rc, err := receiver.New(receiver.Config{Secrets: []string{exampleSecret}})
	if err != nil {
		log.Fatal(err)
	}
	rc.On("invoice.paid", func(ctx context.Context, ev receiver.Event) error {
		if ev.ID == "evt_unknown_invoice" {
			return receiver.Permanent(errors.New("no such invoice")) // do not retry
		}
		return errors.New("ledger unavailable") // retry later
	})
	srv := httptest.NewServer(rc)
	defer srv.Close()

	body := `{"type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{}}`
	fmt.Println(post(srv.URL, exampleSecret, "evt_unknown_invoice", body))
	fmt.Println(post(srv.URL, exampleSecret, "evt_ledger_down", body))
	// Output:
	// 422
	// 500
}

func ExampleReceiver_Default() {
	rc, err := receiver.New(receiver.Config{Secrets: []string{exampleSecret}})
	if err != nil {
		log.Fatal(err)
	}
	rc.On("order.created", func(context.Context, receiver.Event) error { return nil })
	rc.Default(func(ctx context.Context, ev receiver.Event) error {
		fmt.Println("no handler for", ev.Type)
		return nil
	})
	srv := httptest.NewServer(rc)
	defer srv.Close()

	fmt.Println(post(srv.URL, exampleSecret, "evt_9", `{"type":"order.refunded","data":{}}`))
	// Output:
	// no handler for order.refunded
	// 204
}

func ExampleVerifier() {
	// During a rotation, list the new secret and the old one.
	v, err := receiver.NewVerifier([]string{"whsec_dGhlIG5ldyBzZWNyZXQsIDI0IGJ5dGVz", exampleSecret}, 0)
	if err != nil {
		log.Fatal(err)
	}
	wh, _ := standardwebhooks.NewWebhook(exampleSecret)
	body := []byte(`{"type":"order.created","data":{}}`)
	now := time.Now()
	sig, _ := wh.Sign("evt_1", now, body)
	h := http.Header{}
	h.Set("webhook-id", "evt_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)

	fmt.Println(v.Verify(h, body))
	fmt.Println(v.Verify(h, []byte(`{"type":"order.created","data":{"forged":true}}`)))
	h.Set("webhook-timestamp", strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10))
	fmt.Println(errors.Is(v.Verify(h, body), receiver.ErrTimestamp))
	// Output:
	// <nil>
	// no matching signature
	// true
}

func ExampleNewKVStore() {
	// A JetStream server; in production, the one the receivers share.
	dir, err := os.MkdirTemp("", "receiver-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		log.Fatal("nats server not ready")
	}

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// The bucket's TTL is how long a handled webhook-id is remembered.
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "webhooks_seen", TTL: 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	store := receiver.NewKVStore(kv, time.Minute)

	// Every replica builds its Receiver on the same bucket.
	for replica := range 2 {
		rc, err := receiver.New(receiver.Config{Secrets: []string{exampleSecret}, Store: store})
		if err != nil {
			log.Fatal(err)
		}
		rc.On("order.created", func(ctx context.Context, ev receiver.Event) error {
			fmt.Printf("replica %d handles %s\n", replica, ev.ID)
			return nil
		})
		srv := httptest.NewServer(rc)
		defer srv.Close()
		fmt.Println(post(srv.URL, exampleSecret, "evt_1", `{"type":"order.created","data":{}}`))
	}
	// Output:
	// replica 0 handles evt_1
	// 204
	// 204
}
