package address_test

import (
	"fmt"
	"net/netip"
	"net/url"

	"github.com/hookworker/hookworker/internal/address"
)

func ExamplePolicy_CheckURL() {
	p := address.Policy{Allowed: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	for _, raw := range []string{
		"https://example.com/hooks/secret-token",
		"https://0x7f.1/hooks/secret-token",
		"https://10.1.2.3:8443/hooks/secret-token",
		"https://example.com:99999/hooks/secret-token",
	} {
		u, _ := url.Parse(raw)
		err := p.CheckURL(u)
		if len(fmt.Sprint(err)) > 60 {
			err = fmt.Errorf("%.60s...", err)
		}
		fmt.Println(err)
	}
	// Output:
	// <nil>
	// 0x7f.1 (127.0.0.1) is not a public address; the worker refus...
	// <nil>
	// port is not a number from 1 to 65535
}
