package sender

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// The settings that open non-public destinations, named in refusals.
const allowHint = "set HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true or add it to HOOKWORKER_ALLOWED_NETWORKS to allow it"

// nonPublic lists special-purpose networks that netip.Addr's methods do not
// cover (IANA special-purpose address registries).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local, incl. cloud metadata
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation (TEST-NET-1)
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation (TEST-NET-2)
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation (TEST-NET-3)
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, incl. broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated), ::, ::1
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: reaches IPv4 through a translator
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo, ORCHID, ...)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("fc00::/7"),        // unique local (RFC 4193)
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// isPublic reports whether a is a public unicast address.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
		a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// refusal is the error for a destination on a network that is not allowed.
// It is returned by the dialer's Control function, and found again with
// errors.As in the error net/http returns.
type refusal struct {
	host string
}

func (e *refusal) Error() string {
	return fmt.Sprintf("destination %s is not a public address; %s", e.host, allowHint)
}

// guard decides which destination addresses may be dialled.
type guard struct {
	allowAll bool
	allowed  []netip.Prefix
}

func newGuard(allowAll bool, allowed []netip.Prefix) *guard {
	return &guard{allowAll: allowAll, allowed: allowed}
}

// allows reports whether a may be dialled.
func (g *guard) allows(a netip.Addr) bool {
	if g.allowAll {
		return true
	}
	a = a.Unmap()
	if isPublic(a) {
		return true
	}
	for _, p := range g.allowed {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkHost refuses a host that is visibly not allowed before any request: a
// literal non-public IP address, or (when strict, for sends through a proxy
// that resolves names itself) localhost. It returns nil when the host may be
// tried.
func (g *guard) checkHost(host string, strict bool) error {
	if g.allowAll {
		return nil
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if !g.allows(a.WithZone("")) {
			return &refusal{host: a.String()}
		}
		return nil
	}
	if strict {
		h := strings.ToLower(strings.TrimSuffix(host, "."))
		if h == "localhost" || strings.HasSuffix(h, ".localhost") {
			if !g.allows(netip.IPv6Loopback()) || !g.allows(netip.AddrFrom4([4]byte{127, 0, 0, 1})) {
				return &refusal{host: h}
			}
		}
	}
	return nil
}

// control runs before every direct connection, on the address actually
// dialled, so a name that resolves (or re-resolves) to a non-public address
// cannot slip past.
func (g *guard) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusal{host: address}
	}
	if !g.allows(ap.Addr().WithZone("")) {
		return &refusal{host: ap.Addr().String()}
	}
	return nil
}

// dialer returns the dialer for direct sends, checking every address it
// dials unless every network is allowed.
func (g *guard) dialer() *net.Dialer {
	d := plainDialer()
	if !g.allowAll {
		d.ControlContext = g.control
	}
	return d
}

// plainDialer returns a dialer with sane timeouts and no address check.
func plainDialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
}
