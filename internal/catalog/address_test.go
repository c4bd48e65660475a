package catalog_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/catalog/catalogtest"
)

// nonPublicHosts are URL hosts that denote a non-public address as written,
// in the forms a resolver accepts: the workers refuse every one of them.
var nonPublicHosts = []string{
	"127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "0x7f.1", "0", "127.000.000.001",
	"localhost", "hooks.localhost", "100.64.0.1", "198.18.0.1", "169.254.169.254", "10.0.0.1",
	"[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::127.0.0.1]", "[::ffff:127.0.0.1]", "[::1]", "[fd00::1]",
}

// addressCatalogs returns two catalogs over the same buckets: one with the
// workers' default address policy and one built as
// HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true builds it.
func addressCatalogs(t *testing.T, open catalog.Config) (strict, opened *catalog.Catalog) {
	t.Helper()
	ctx, _, eb := catalogtest.Start(t)
	strict, err := catalog.New(ctx, catalog.Config{Types: eb.Types, Endpoints: eb.Endpoints})
	if err != nil {
		t.Fatal(err)
	}
	open.Types, open.Endpoints = eb.Types, eb.Endpoints
	opened, err = catalog.New(ctx, open)
	if err != nil {
		t.Fatal(err)
	}
	return strict, opened
}

// TestPutEndpointAddressPolicy: put refuses, as an invalid url, every URL
// whose host the workers refuse as written, without repeating the URL's path
// or query; the same URL is accepted when private networks are allowed.
func TestPutEndpointAddressPolicy(t *testing.T) {
	strict, opened := addressCatalogs(t, catalog.Config{AllowPrivateNetworks: true})
	ctx := context.Background()
	for i, host := range nonPublicHosts {
		t.Run(host, func(t *testing.T) {
			u := "https://" + host + ":8443/hooks/123/s3cr3t-token?key=k3y"
			_, err := strict.PutEndpoint(ctx, catalog.Endpoint{URL: u}, "")
			if got := field(err); got != "url" {
				t.Fatalf("put %s: err = %v, want an invalid url", host, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "not a public address") || !strings.Contains(msg, "HOOKWORKER_ALLOW_PRIVATE_NETWORKS") {
				t.Errorf("err = %q, want it to say the address is not public and what allows it", msg)
			}
			for _, s := range []string{"s3cr3t-token", "k3y", "/hooks"} {
				if strings.Contains(msg, s) {
					t.Errorf("err = %q repeats the URL's %q", msg, s)
				}
			}

			ep, err := opened.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_" + string(rune('a'+i)), URL: u}, "")
			if err != nil || ep.URL != u {
				t.Fatalf("put %s with private networks allowed: %+v, %v", host, ep, err)
			}
		})
	}
}

// TestPutEndpointRefusesUndiallablePorts: a port the workers cannot dial is
// refused whatever the address policy.
func TestPutEndpointRefusesUndiallablePorts(t *testing.T) {
	strict, opened := addressCatalogs(t, catalog.Config{AllowPrivateNetworks: true})
	ctx := context.Background()
	for _, u := range []string{
		"https://example.com:0/hooks/s3cr3t-token",
		"https://example.com:99999/hooks/s3cr3t-token",
		"https://127.0.0.1:0/hooks/s3cr3t-token",
		"https://127.0.0.1:99999/hooks/s3cr3t-token",
		"https://1.2.3.4.5/hooks/s3cr3t-token",
		"https://-example.com/hooks/s3cr3t-token",
	} {
		t.Run(u, func(t *testing.T) {
			for _, c := range []*catalog.Catalog{strict, opened} {
				_, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: u}, "")
				if field(err) != "url" || strings.Contains(err.Error(), "s3cr3t-token") {
					t.Errorf("put: err = %v, want an invalid url that does not repeat it", err)
				}
			}
		})
	}
}

// TestPutEndpointAllowedNetworks: networks allowed by
// HOOKWORKER_ALLOWED_NETWORKS are accepted, no others; public addresses and
// names always are.
func TestPutEndpointAllowedNetworks(t *testing.T) {
	_, c := addressCatalogs(t, catalog.Config{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10")}})
	ctx := context.Background()
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://100.64.0.1/hook", true},
		{"https://[64:ff9b::6440:1]/hook", true},
		{"https://93.184.216.34/hook", true},
		{"https://[2606:4700::1111]/hook", true},
		{"https://example.com/hook", true},
		{"https://198.18.0.1/hook", false},
		{"https://127.1/hook", false},
		{"https://localhost/hook", false},
	} {
		t.Run(tt.url, func(t *testing.T) {
			_, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: tt.url}, "")
			if (err == nil) != tt.ok || (err != nil && field(err) != "url") {
				t.Errorf("put %s: err = %v, want accepted %v", tt.url, err, tt.ok)
			}
		})
	}
}
