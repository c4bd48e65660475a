package portal_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/portal"
)

// Every reply of the portal, the page, a module, a missing file and a
// refused method alike, carries the security headers; frame-ancestors is
// the configured list.
func TestHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		method, path   string
		frameAncestors string
		status         int
		contentType    string
		wantAncestors  string
	}{
		{"page", "GET", "/portal/", "", http.StatusOK, "text/html; charset=utf-8", "frame-ancestors 'self'"},
		{"module", "GET", "/portal/js/main.js", "", http.StatusOK, "text/javascript; charset=utf-8", "frame-ancestors 'self'"},
		{"style sheet", "GET", "/portal/portal.css", "'self' https://app.example.com", http.StatusOK, "text/css; charset=utf-8",
			"frame-ancestors 'self' https://app.example.com"},
		{"head", "HEAD", "/portal/index.html", "", http.StatusOK, "text/html; charset=utf-8", "frame-ancestors 'self'"},
		{"missing", "GET", "/portal/nothing.js", "", http.StatusNotFound, "", "frame-ancestors 'self'"},
		{"post", "POST", "/portal/", "", http.StatusMethodNotAllowed, "", "frame-ancestors 'self'"},
		{"no directive smuggled", "GET", "/portal/", "https://a.example.com; script-src *", http.StatusOK, "", "frame-ancestors https://a.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			portal.Handler(portal.Config{FrameAncestors: tt.frameAncestors}).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			res := rec.Result()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.contentType != "" && res.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tt.contentType)
			}
			checkSecurityHeaders(t, res.Header, tt.wantAncestors)
		})
	}
}

// checkSecurityHeaders fails unless h holds the portal's security
// headers with frameAncestors (the whole directive) in its CSP.
func checkSecurityHeaders(t *testing.T, h http.Header, frameAncestors string) {
	t.Helper()
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	if got := h.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
	directives := map[string]string{}
	for d := range strings.SplitSeq(h.Get("Content-Security-Policy"), ";") {
		d = strings.TrimSpace(d)
		name, _, _ := strings.Cut(d, " ")
		if _, dup := directives[name]; dup {
			t.Errorf("CSP directive %s twice", name)
		}
		directives[name] = d
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
		"base-uri 'none'", "require-trusted-types-for 'script'", frameAncestors} {
		name, _, _ := strings.Cut(want, " ")
		if directives[name] != want {
			t.Errorf("CSP %s is %q, want %q (policy %q)", name, directives[name], want, h.Get("Content-Security-Policy"))
		}
	}
}

// The page holds no inline script, style or event handler, which the CSP
// would block anyway, and no script builds markup from a string: every
// element is made with createElement and every string is a text node.
func TestNoInlineCodeOrMarkupFromStrings(t *testing.T) {
	t.Parallel()
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),    // a script with a body
		regexp.MustCompile(`<script(?:\s+type="module")?\s*>`), // a script without a src
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`\son[a-z]+\s*=`),
		regexp.MustCompile(`<style`),
	}
	markup := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|\.setAttribute\(\s*['"]style|new Function|eval\(`)
	err := filepath.WalkDir("web", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".html":
			for _, re := range inline {
				if loc := re.FindIndex(data); loc != nil {
					t.Errorf("%s: inline code: %q", path, data[loc[0]:loc[1]])
				}
			}
		case ".js":
			for i, line := range strings.Split(string(data), "\n") {
				if markup.MatchString(line) {
					t.Errorf("%s:%d: builds markup or code from a string: %s", path, i+1, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
