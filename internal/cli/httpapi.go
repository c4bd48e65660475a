package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hookworker/hookworker/internal/api"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/httpapi"
	"github.com/hookworker/hookworker/internal/portal"
)

// serveAPI mounts the HTTP API of svc on routes, under /api/v1, and the
// portal, under /portal/, and, when settings.Addr is not the metrics
// address (whose server serves routes too; see withAPI), serves routes
// there. It returns what stops the server. Without an address it serves
// nothing. In the local quick start an address it cannot listen on is a
// warning, not a failure: the worker runs without the HTTP API.
func serveAPI(settings auth.Settings, metricsAddr string, routes *http.ServeMux, svc *api.Service, log *slog.Logger) (stop func(), err error) {
	stop = func() {}
	if settings.Addr == "" {
		return stop, nil
	}
	h, err := httpapi.New(httpapi.Config{API: svc, Auth: settings, Logger: log})
	if err != nil {
		return stop, err
	}
	routes.Handle(httpapi.Prefix+"/", h)
	routes.Handle(portal.Prefix, portal.Handler(portal.Config{FrameAncestors: settings.FrameAncestors}))
	if settings.Addr == metricsAddr {
		log.Info("serving the http api beside the metrics", "api_addr", settings.Addr)
		return stop, nil
	}
	l, err := net.Listen("tcp", settings.Addr)
	if err != nil {
		if settings.QuickStart {
			log.Warn("the local quick start's http api cannot listen; running without it (set HOOKWORKER_API_ADDR)", "api_addr", settings.Addr, "error", err)
			return stop, nil
		}
		return stop, fmt.Errorf("listen for the http api on %s: %w", settings.Addr, err)
	}
	srv := httpapi.NewServer(routes)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http api server", "error", err)
		}
	}()
	log.Info("serving the http api", "api_addr", l.Addr().String(), "operator_keys", settings.Keys.Len(), "tenant_tokens", settings.Tokens != nil)
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// withAPI returns the handler of an address that the metrics and the
// HTTP API share: /metrics, /healthz and /readyz are the metrics', every
// other path is routes'.
func withAPI(metrics http.Handler, routes *http.ServeMux) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", routes)
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		mux.Handle(path, metrics)
	}
	return mux
}
