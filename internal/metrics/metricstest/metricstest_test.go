package metricstest_test

import (
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookworker/hookworker/internal/metrics/metricstest"
)

func TestScrapeAndValue(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "things_total", Help: "Things."}, []string{"kind", "size"})
	reg.MustRegister(c)
	c.WithLabelValues("a", "big").Add(3)
	c.WithLabelValues("b", "big").Add(5)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	families := metricstest.Scrape(t, srv.URL)
	tests := []struct {
		name   string
		labels []string
		want   float64
		found  bool
	}{
		{"first series without labels asked", nil, 3, true},
		{"one label", []string{"kind", "b"}, 5, true},
		{"two labels", []string{"size", "big", "kind", "b"}, 5, true},
		{"no such series", []string{"kind", "c"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := metricstest.Value(families, "things_total", tt.labels...)
			if got != tt.want || ok != tt.found {
				t.Errorf("Value = %v, %v; want %v, %v", got, ok, tt.want, tt.found)
			}
		})
	}
	if _, ok := metricstest.Value(families, "missing_total"); ok {
		t.Error("Value found a family that is not there")
	}
}
