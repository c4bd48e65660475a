package api

import "testing"

func TestVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.2.3", "1.2.3"},
		{"v1.2.3", "1.2.3"},
		{"1.2.3-rc.1+abc", "1.2.3-rc.1+abc"},
		{"dev", "0.0.0-dev"},
		{"", "0.0.0-dev"},
		{"1.2", "0.0.0-dev"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := version(tt.in); got != tt.want {
				t.Fatalf("version(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
