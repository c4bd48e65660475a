package address_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/address"
)

// FuzzCheckURL checks that CheckURL never panics, never quotes the URL's
// path or query, and lets no host it reads as an address or as localhost
// through the default policy unless the address is public.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"127.1", "0x7f.1", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "localhost", "a.localhost.",
		"example.com", "93.184.216.34:443", "example.com:99999", "[fe80::1%25eth0]:8080", "0", "1.2.3.4.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		u, err := url.Parse("http://" + host + "/p4th-s3cret?q=s3cret")
		if err != nil || u.Path != "/p4th-s3cret" {
			return
		}
		var refused *address.RefusedError
		if errors.As(address.Policy{AllowPrivate: true}.CheckURL(u), &refused) {
			t.Fatalf("refused with every network allowed: %v", refused)
		}
		err = address.Policy{}.CheckURL(u)
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("error %q quotes the URL", err)
		}
		if err != nil {
			return
		}
		if a, ok := address.Literal(u.Hostname()); ok && !address.Public(a) {
			t.Fatalf("host %q (%s) passed, not public", u.Hostname(), a)
		}
		if address.Localhost(u.Hostname()) {
			t.Fatalf("host %q passed, localhost", u.Hostname())
		}
	})
}
