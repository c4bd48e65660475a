package address_test

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/address"
	"github.com/hookworker/hookworker/internal/hostname"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr   string
		public bool
	}{
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"2606:4700::1111", true},
		{"2606:4700:4700::1111", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::5db8:d822", true}, // NAT64 of 93.184.216.34
		{"2002:5db8:d822::1", true},  // 6to4 of 93.184.216.34
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.51.100.1", false},
		{"203.0.113.1", false},
		{"192.88.99.1", false},
		{"224.0.0.1", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"::1", false},
		{"fd00::1", false},
		{"fc00::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"100::1", false},
		{"2001:db8::1", false},
		{"2001::1", false}, // Teredo
		{"3fff::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false},
		{"::8.8.8.8", true}, // IPv4-compatible: judged by its IPv4 address
		{"64:ff9b::7f00:1", false},
		{"64:ff9b::a00:1", false},
		{"64:ff9b:1::808:808", false}, // local-use NAT64
		{"2002:7f00:1::", false},
		{"2002:a00:1::", false},
		{"2002:a9fe:a9fe::", false},
		{"1:2:3:4::", false}, // reserved, outside 2000::/3
	} {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			if got := address.Public(netip.MustParseAddr(tt.addr)); got != tt.public {
				t.Errorf("Public(%s) = %v, want %v", tt.addr, got, tt.public)
			}
		})
	}
}

func TestEmbedded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr, want string // want "" when none
	}{
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"::127.0.0.1", "127.0.0.1"},
		{"::1", "0.0.0.1"},
		{"64:ff9b::7f00:1", "127.0.0.1"},
		{"2002:7f00:1::", "127.0.0.1"},
		{"2002:c000:201:1::5", "192.0.2.1"},
		{"127.0.0.1", ""},
		{"2606:4700::1111", ""},
		{"64:ff9b:1::7f00:1", ""},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			got, ok := address.Embedded(netip.MustParseAddr(tt.addr))
			if tt.want == "" {
				if ok {
					t.Fatalf("Embedded(%s) = %s, want none", tt.addr, got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tt.want) {
				t.Fatalf("Embedded(%s) = %s, %v, want %s", tt.addr, got, ok, tt.want)
			}
		})
	}
}

// refusedHosts are URL hosts (with their port) that denote a non-public
// address as written, each with the address it denotes ("" for a name
// refused as such).
var refusedHosts = []struct {
	host, addr string
}{
	{"127.0.0.1", "127.0.0.1"},
	{"127.1", "127.0.0.1"},
	{"127.0.1", "127.0.0.1"},
	{"0x7f000001", "127.0.0.1"},
	{"0X7F000001", "127.0.0.1"},
	{"2130706433", "127.0.0.1"},
	{"017700000001", "127.0.0.1"},
	{"0177.0.0.1", "127.0.0.1"},
	{"0x7f.1", "127.0.0.1"},
	{"0x7f.0.0.1", "127.0.0.1"},
	{"127.000.000.001", "127.0.0.1"},
	{"127.1.", "127.0.0.1"},
	{"0", "0.0.0.0"},
	{"0.0.0.0", "0.0.0.0"},
	{"10.0.0.1", "10.0.0.1"},
	{"169.254.169.254", "169.254.169.254"},
	{"169.254.43518", "169.254.169.254"},
	{"100.64.0.1", "100.64.0.1"},
	{"198.18.0.1", "198.18.0.1"},
	{"[::1]", "::1"},
	{"[::]", "::"},
	{"[fd00::1]", "fd00::1"},
	{"[fe80::1%25eth0]", "fe80::1"},
	{"[64:ff9b::7f00:1]", "64:ff9b::7f00:1"},
	{"[2002:7f00:1::]", "2002:7f00:1::"},
	{"[::127.0.0.1]", "::127.0.0.1"},
	{"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"},
	{"[::ffff:7f00:1]", "::ffff:127.0.0.1"},
	{"localhost", ""},
	{"LocalHost.", ""},
	{"hooks.localhost", ""},
}

func TestCheckURLRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range refusedHosts {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			u := mustURL(t, "https://"+tt.host+":8443/hooks/123/s3cr3t-token?key=k3y")
			err := address.Policy{}.CheckURL(u)
			var refused *address.RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("CheckURL(%s) = %v, want a *RefusedError", tt.host, err)
			}
			if tt.addr != "" && refused.Addr != netip.MustParseAddr(tt.addr) {
				t.Errorf("refused address %s, want %s", refused.Addr, tt.addr)
			}
			msg := err.Error()
			for _, want := range []string{"not a public address", "HOOKWORKER_ALLOW_PRIVATE_NETWORKS", "HOOKWORKER_ALLOWED_NETWORKS"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			for _, secret := range []string{"s3cr3t-token", "k3y", "8443", "/hooks"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q repeats the URL's %q", msg, secret)
				}
			}
			if tt.addr != "" && !strings.Contains(msg, refused.Addr.String()) {
				t.Errorf("error %q does not name the address %s", msg, refused.Addr)
			}

			if err := (address.Policy{AllowPrivate: true}).CheckURL(u); err != nil {
				t.Errorf("with private networks allowed: %v", err)
			}
		})
	}
}

func TestCheckURLInvalid(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url  string
		want error
	}{
		{"http://example.com:0/hook", hostname.ErrPort},
		{"http://example.com:99999/hook", hostname.ErrPort},
		{"http://127.0.0.1:0/hook", hostname.ErrPort},
		{"http://93.184.216.34:65536/hook", hostname.ErrPort},
		{"http://1.2.3.4.5/hook", hostname.ErrNumeric},
		{"http://999.1.1.1/hook", hostname.ErrNumeric},
		{"http://-example.com/hook", hostname.ErrName},
		{"http://exa_mple..com/hook", hostname.ErrName},
	} {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			for _, p := range []address.Policy{{}, {AllowPrivate: true}} {
				err := p.CheckURL(mustURL(t, tt.url))
				if !errors.Is(err, tt.want) {
					t.Errorf("AllowPrivate %v: CheckURL = %v, want %v", p.AllowPrivate, err, tt.want)
				}
			}
		})
	}
}

func TestCheckURLAllows(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"https://93.184.216.34/hook",
		"https://93.184.216.34:443/hook",
		"http://1.1.1.1:65535/hook",
		"https://[2606:4700::1111]/hook",
		"https://[::ffff:93.184.216.34]/hook",
		"https://example.com/hook",
		"https://example.com./hook",
		"https://localhost.example.com/hook", // a name, left to the dialer
		"https://1.2.3.example/hook",
	} {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			if err := (address.Policy{}).CheckURL(mustURL(t, raw)); err != nil {
				t.Errorf("CheckURL(%s) = %v, want nil", raw, err)
			}
		})
	}
}

// TestAllowedNetworks opens chosen non-public networks and no others.
func TestAllowedNetworks(t *testing.T) {
	t.Parallel()
	p := address.Policy{Allowed: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("fd00:1::/32"),
	}}
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{"10.1.2.3", true},
		{"10.1.2", true},
		{"0x0a010203", true},
		{"[::ffff:10.1.2.3]", true},
		{"[64:ff9b::a01:203]", true},
		{"[fd00:1::5]", true},
		{"127.1", true},
		{"93.184.216.34", true},
		{"10.2.0.1", false},
		{"[fd00:2::5]", false},
		{"100.64.0.1", false},
		{"169.254.169.254", false},
		{"[::1]", false},
		{"localhost", false}, // resolves to ::1 too, which is not allowed
	} {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			err := p.CheckURL(mustURL(t, "http://"+tt.host+"/hook"))
			if (err == nil) != tt.ok {
				t.Errorf("CheckURL(%s) = %v, want allowed %v", tt.host, err, tt.ok)
			}
		})
	}
	both := address.Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}}
	if err := both.CheckURL(mustURL(t, "http://localhost:8080/hook")); err != nil {
		t.Errorf("localhost with both loopback addresses allowed: %v", err)
	}
	if err := both.CheckAddr(netip.MustParseAddr("127.0.0.2")); err == nil {
		t.Error("CheckAddr(127.0.0.2) allowed by 127.0.0.1/32")
	}
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	var refused *address.RefusedError
	err := address.Policy{}.CheckAddr(netip.MustParseAddr("fe80::1%eth0"))
	if !errors.As(err, &refused) || refused.Addr != netip.MustParseAddr("fe80::1") || refused.Host != "" {
		t.Fatalf("CheckAddr(fe80::1%%eth0) = %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "fe80::1 is not a public address; ") {
		t.Errorf("error %q", err)
	}
	if err := (address.Policy{}).CheckAddr(netip.MustParseAddr("2606:4700::1111")); err != nil {
		t.Errorf("CheckAddr(2606:4700::1111) = %v", err)
	}
}

func TestLiteral(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		host, want string // want "" for a name
	}{
		{"127.000.000.001", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"::ffff:7f00:1", "::ffff:127.0.0.1"},
		{"fe80::1%eth0", "fe80::1"},
		{"example.com", ""},
		{"localhost", ""},
	} {
		got, ok := address.Literal(tt.host)
		if tt.want == "" {
			if ok {
				t.Errorf("Literal(%q) = %s, want a name", tt.host, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tt.want) {
			t.Errorf("Literal(%q) = %s, %v, want %s", tt.host, got, ok, tt.want)
		}
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
