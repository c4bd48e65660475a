package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/job"
)

// Look up the result a worker has stored for a job, as it published it.
func ExampleClient_LastResult() {
	url, stop := hookworker()
	defer stop()
	b, err := bus.Connect(bus.Config{URL: url})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if _, err := b.Ensure(ctx, bus.Topology{Subject: client.DefaultJobSubject, Stream: "HOOKS", Durable: "hookworker",
		ResultSubject: client.DefaultResultSubject, ResultStream: client.DefaultResultStream, AckWait: 30 * time.Second}); err != nil {
		log.Fatal(err)
	}
	// The result a worker publishes when job order-42 ends.
	result := &nats.Msg{Subject: client.DefaultResultSubject, Data: []byte(`{"id":"order-42","ok":true,"outcome":"delivered"}`),
		Header: nats.Header{job.HeaderJobID: {"order-42"}, job.HeaderOutcome: {"delivered"}, nats.MsgIdHdr: {"order-42"}}}
	if _, err := b.JetStream().PublishMsg(ctx, result); err != nil {
		log.Fatal(err)
	}

	c := client.New(b.Conn())
	m, err := c.LastResult(ctx, "order-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Header.Get(job.HeaderOutcome), string(m.Data))
	m, err = c.LastResult(ctx, "order-43")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("order-43 has a result:", m != nil)
	// Output:
	// delivered {"id":"order-42","ok":true,"outcome":"delivered"}
	// order-43 has a result: false
}
