package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hookworker/hookworker/internal/metrics"
)

// A worker records what it does and serves the metrics with its health
// endpoints; /readyz answers 503 until ready reports true.
func Example() {
	m := metrics.New()
	m.JobReceived()
	m.InFlight(1)
	m.Attempt(204)
	m.Finished("delivered", 120*time.Millisecond)
	m.InFlight(-1)

	connected := false
	h := m.Handler(func() bool { return connected })
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code)
	}
	// Output:
	// /healthz 200
	// /readyz 503
	// /metrics 200
}
