package hostname_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/hostname"
)

func TestIPv4(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host string
		want string // "" when not an inet_aton form
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F000001", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x7f.1", "127.0.0.1"},
		{"0x7f.0.0.0x1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"169.254.43518", "169.254.169.254"},
		{"10.0.0.1.", "10.0.0.1"},
		{"8.8.8.8", "8.8.8.8"},
		{"0x", "0.0.0.0"},
		{"", ""},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"4294967296", ""},
		{"08.0.0.1", ""},
		{"0x1g", ""},
		{"1..1", ""},
		{"example.com", ""},
		{"-1", ""},
		{"+1", ""},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			got, ok := hostname.IPv4(tc.host)
			if tc.want == "" {
				if ok {
					t.Fatalf("IPv4(%q) = %s, want not an address", tc.host, got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("IPv4(%q) = %s, %v, want %s", tc.host, got, ok, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host string
		want error
	}{
		{"example.com", nil},
		{"example.com.", nil},
		{"a-b.example", nil},
		{"_dmarc.example.com", nil},
		{"xn--bcher-kva.example", nil},
		{"bücher.example", nil},
		{"localhost", nil},
		{"127.1", nil},
		{"::1", nil},
		{"2001:db8::1", nil},
		{"fe80::1%eth0", nil},
		{"123.example", nil},
		{"", hostname.ErrEmpty},
		{".", hostname.ErrName},
		{"exa mple.com", hostname.ErrName},
		{"-example.com", hostname.ErrName},
		{"example-.com", hostname.ErrName},
		{"a..b", hostname.ErrName},
		{"ex!ample.com", hostname.ErrName},
		{"ex%41mple.com", hostname.ErrName},
		{strings.Repeat("a", 64) + ".com", hostname.ErrName},
		{strings.Repeat("a.", 127) + "com", hostname.ErrName},
		{"1.2.3.4.5", hostname.ErrNumeric},
		{"999.1.1.1", hostname.ErrNumeric},
		{"example.0x10", hostname.ErrNumeric},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			if err := hostname.Check(tc.host); !errors.Is(err, tc.want) {
				t.Fatalf("Check(%q) = %v, want %v", tc.host, err, tc.want)
			}
		})
	}
}

func TestCheckPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		port string
		ok   bool
	}{
		{"", true},
		{"1", true},
		{"443", true},
		{"65535", true},
		{"0", false},
		{"65536", false},
		{"99999", false},
		{"-1", false},
		{"8o", false},
	} {
		t.Run(tc.port, func(t *testing.T) {
			t.Parallel()
			if err := hostname.CheckPort(tc.port); (err == nil) != tc.ok {
				t.Fatalf("CheckPort(%q) = %v, want ok %v", tc.port, err, tc.ok)
			}
		})
	}
}

// FuzzIPv4 checks that IPv4 never panics, agrees with netip on dotted quads,
// and that what it accepts Check accepts too.
func FuzzIPv4(f *testing.F) {
	for _, s := range []string{"127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0", "0x7f.1", "1.2.3.4", "1.2.3.4.5", "example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := hostname.IPv4(s)
		if p, err := netip.ParseAddr(s); err == nil && p.Is4() && (!ok || a != p) {
			t.Fatalf("IPv4(%q) = %s, %v; netip reads %s", s, a, ok, p)
		}
		if ok && hostname.Check(s) != nil {
			t.Fatalf("IPv4(%q) accepts it but Check(%q) = %v", s, s, hostname.Check(s))
		}
	})
}
