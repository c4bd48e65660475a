package main

import (
	"bytes"
	"context"
	"io"
	"testing"
)

// The http api phase sends its events through both transports to a real
// worker, which delivers them all.
func TestRunTinyHTTPAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a worker")
	}
	o := tinyOptions()
	o.Phases = []string{"http api"}
	o.APIEvents = 20
	var out bytes.Buffer
	if err := run(context.Background(), o, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	kv := checkReport(t, out.String(), "api_http_eps", "api_nats_eps", "api_http_vs_nats", "api_delivered")
	checkValues(t, kv, map[string]float64{"api_events": 20, "api_in_flight": apiInFlight, "api_delivered": 8 * 20},
		[]string{"api_http_eps", "api_nats_eps", "api_http_vs_nats"})
}
