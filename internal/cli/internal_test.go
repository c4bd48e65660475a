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
