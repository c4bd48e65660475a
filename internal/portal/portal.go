// Package portal serves the portal: the web page, embedded in the binary,
// where a tenant's developers add and inspect their own webhook endpoints.
// It is a client of the HTTP API (package httpapi) like any other, with
// nothing the API does not offer: plain ES modules and one style sheet,
// served as written, that call /api/v1 with the tenant token or operator
// key the user signs in with, sent as a Bearer header.
//
// Every file is served with a strict Content-Security-Policy (scripts and
// styles from the portal's own origin only, no inline script or style,
// Trusted Types required for every HTML sink, so that nothing a tenant or
// a receiver controls can become markup), frame-ancestors as configured,
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer.
package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is the path the portal is served under, on the HTTP API's
// address; its API is at ../api/v1 of it.
const Prefix = "/portal/"

// DefaultFrameAncestors is the frame-ancestors source list when the
// Config gives none: only pages of the portal's own origin may frame it.
const DefaultFrameAncestors = "'self'"

//go:embed web
var web embed.FS

// Config is what a Handler is built from.
type Config struct {
	// FrameAncestors is the Content-Security-Policy frame-ancestors source
	// list, such as "'self' https://app.example.com": who may embed the
	// portal in a frame. Empty means DefaultFrameAncestors.
	FrameAncestors string
}

// contentTypes are the types of the embedded files, by extension: fixed
// here rather than read from the machine's MIME tables, since a module
// script must be served as JavaScript wherever the binary runs.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// file is one embedded file, ready to serve.
type file struct {
	data        []byte
	etag        string
	contentType string
}

// handler serves the embedded files.
type handler struct {
	files   map[string]file
	headers http.Header
}

// Handler returns the portal's handler, to be mounted at Prefix (a
// request for Prefix itself is the page; "/portal" is the mux's to
// redirect). It answers GET and HEAD of the embedded files only; every
// reply, a 404 or 405 too, carries the security headers.
func Handler(cfg Config) http.Handler {
	h := &handler{files: map[string]file{}, headers: securityHeaders(cfg.FrameAncestors)}
	err := fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := web.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ctype, ok := contentTypes[path.Ext(p)]
		if !ok {
			ctype = "application/octet-stream"
		}
		h.files[strings.TrimPrefix(p, "web/")] = file{data: data, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, contentType: ctype}
		return nil
	})
	if err != nil {
		panic("portal: the embedded files: " + err.Error()) // cannot happen: they are compiled in
	}
	return h
}

// securityHeaders returns the security headers of every reply of the portal,
// with frameAncestors (DefaultFrameAncestors when blank) as the CSP's
// frame-ancestors.
func securityHeaders(frameAncestors string) http.Header {
	// A source list cannot end the directive or the policy: nothing from
	// a ";" or "," on is used.
	if i := strings.IndexAny(frameAncestors, ";,"); i >= 0 {
		frameAncestors = frameAncestors[:i]
	}
	sources := strings.Fields(frameAncestors)
	if len(sources) == 0 {
		sources = []string{DefaultFrameAncestors}
	}
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src 'self'",
		"base-uri 'none'",
		"form-action 'none'",
		"require-trusted-types-for 'script'",
		"trusted-types 'none'",
		"frame-ancestors " + strings.Join(sources, " "),
	}, "; ")
	return http.Header{
		"Content-Security-Policy":      {csp},
		"X-Content-Type-Options":       {"nosniff"},
		"Referrer-Policy":              {"no-referrer"},
		"Cross-Origin-Opener-Policy":   {"same-origin"},
		"Cross-Origin-Resource-Policy": {"same-origin"},
		"Permissions-Policy":           {"camera=(), microphone=(), geolocation=(), payment=()"},
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range h.headers {
		w.Header()[k] = v
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	// Revalidated on every load, so that a new binary's files are used
	// at once; the ETag makes that a 304.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
