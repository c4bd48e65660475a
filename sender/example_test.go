package sender_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/hookworker/hookworker/sender"
)

func ExampleSender_Send() {
	// A receiver that checks the Standard Webhooks id and answers with JSON.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":%q,"bytes":%d}`, r.Header.Get("webhook-id"), len(body))
	}))
	defer srv.Close()

	s, err := sender.New(sender.Config{
		MaxRetries: 3,
		// httptest listens on 127.0.0.1, which is refused by default.
		AllowPrivateNetworks: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res := s.Send(context.Background(), sender.Request{
		ID:   "order-123-shipped",
		URLs: []string{srv.URL + "/hook"},
		Body: []byte(`{"order":123,"status":"shipped"}`),
	})
	fmt.Println(res.Outcome, res.Status, res.Attempts)
	fmt.Println(string(res.Response))
	// Output:
	// delivered 200 1
	// {"received":"order-123-shipped","bytes":32}
}
