package cli

import "testing"

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
