package cli

import "testing"

// TestPrivateNote: listen notes what the workers need for every URL their
// default address policy refuses, and for no other.
func TestPrivateNote(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url  string
		note bool
	}{
		{"http://127.0.0.1:8080/hook", true},
		{"http://127.1:8080/hook", true},
		{"http://localhost:8080/hook", true},
		{"http://100.64.0.1/hook", true},
		{"http://[::1]:8080/hook", true},
		{"https://example.com/hook", false},
		{"https://93.184.216.34/hook", false},
	} {
		if got := privateNote(tt.url); (got != "") != tt.note {
			t.Errorf("privateNote(%s) = %q, want a note %v", tt.url, got, tt.note)
		}
	}
}
