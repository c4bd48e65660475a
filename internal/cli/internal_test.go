package cli

import (
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/catalog"
)

func TestDialable(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"127.0.0.1:4222", "127.0.0.1:4222"},
		{":4222", "127.0.0.1:4222"},
		{"0.0.0.0:4222", "127.0.0.1:4222"},
		{"[::]:4222", "127.0.0.1:4222"},
		{"nats.internal:4222", "nats.internal:4222"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := dialable(tt.in); got != tt.want {
				t.Errorf("dialable(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHeaderFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, name, value string
		ok              bool
	}{
		{"X-Env: prod", "X-Env", "prod", true},
		{"X-Env:prod", "X-Env", "prod", true},
		{"X-Env=prod", "X-Env", "prod", true},
		{"Authorization: Bearer a=b:c", "Authorization", "Bearer a=b:c", true},
		{"X-Query=a:b", "X-Query", "a:b", true},
		{"X-Empty:", "X-Empty", "", true},
		{"X-Env", "", "", false},
		{": prod", "", "", false},
		{" =prod", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			h := headerFlag{}
			err := h.Set(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("Set(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				if len(h) != 0 {
					t.Errorf("Set(%q) kept %v after an error", tt.in, h)
				}
				return
			}
			if got, found := h[tt.name]; !found || got != tt.value || len(h) != 1 {
				t.Errorf("Set(%q) = %v, want %s = %q", tt.in, h, tt.name, tt.value)
			}
		})
	}
}

func TestDefaultListenID(t *testing.T) {
	t.Parallel()
	long := "host-" + strings.Repeat("a", 80)
	tests := []struct{ host, want string }{
		{"devbox", "listen-devbox"},
		{"dev.example.com", "listen-dev-example-com"},
		{"Ünïcode box", "listen--n-code-box"},
		{"", "listen"},
		{long, ("listen-" + long)[:63]},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			got := defaultListenID(tt.host)
			if got != tt.want {
				t.Errorf("defaultListenID(%q) = %q, want %q", tt.host, got, tt.want)
			}
			if !catalog.ValidEndpointID(got) {
				t.Errorf("defaultListenID(%q) = %q is not an endpoint id", tt.host, got)
			}
		})
	}
}
