package cli

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/auth"
)

// The HTTP API's address serves the portal beside the API, with the
// configured frame-ancestors, and /portal goes to /portal/.
func TestServeAPIMountsThePortal(t *testing.T) {
	routes := http.NewServeMux()
	settings := auth.Settings{Addr: "127.0.0.1:9464", FrameAncestors: "'self' https://app.example.com"}
	// The metrics' address: serveAPI mounts the routes and leaves the
	// serving to the metrics server.
	stop, err := serveAPI(settings, settings.Addr, routes, (*api.Service)(nil), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	rec := httptest.NewRecorder()
	routes.ServeHTTP(rec, httptest.NewRequest("GET", "/portal/", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /portal/: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://app.example.com") {
		t.Errorf("CSP %q, want the configured frame-ancestors", csp)
	}
	rec = httptest.NewRecorder()
	routes.ServeHTTP(rec, httptest.NewRequest("GET", "/portal", nil))
	if (rec.Code != http.StatusMovedPermanently && rec.Code != http.StatusTemporaryRedirect) || rec.Header().Get("Location") != "/portal/" {
		t.Errorf("GET /portal: %d to %q, want a redirect to /portal/", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	routes.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/tenants", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/tenants without a key: %d, want the API's 401", rec.Code)
	}
}
