package sender

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hookworker/hookworker/internal/hostname"
)

// The settings that open non-public destinations, named in refusals. They
// are the worker's own: a producer cannot set them for its job.
const allowHint = "the worker refuses non-public destinations unless its own settings allow them: " +
	"set HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true or add the address to HOOKWORKER_ALLOWED_NETWORKS " +
	"in the environment of every worker process (not of the producer or of hookworker send)"

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

// invalidHost is the error for a destination URL whose host or port cannot
// be dialled. It never quotes the URL.
type invalidHost struct {
	err error
}

func (e *invalidHost) Error() string { return "invalid destination url: " + e.err.Error() }

func (e *invalidHost) Unwrap() error { return e.err }

// lookupFunc resolves a host name to its addresses, as
// net.Resolver.LookupNetIP does.
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// guard decides which destination addresses may be dialled.
type guard struct {
	allowAll bool
	allowed  []netip.Prefix
	// lookup resolves names sent through a proxy, bounded by lookupTimeout.
	lookup        lookupFunc
	lookupTimeout time.Duration
}

func newGuard(allowAll bool, allowed []netip.Prefix, lookupTimeout time.Duration) *guard {
	return &guard{
		allowAll:      allowAll,
		allowed:       allowed,
		lookup:        net.DefaultResolver.LookupNetIP,
		lookupTimeout: lookupTimeout,
	}
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

// checkURL refuses a destination before any request when its host or port
// cannot be dialled (an *invalidHost), or when its host is visibly not
// allowed (a *refusal): an IP address in any form a resolver accepts
// (inet_aton's "127.1", "2130706433", "0x7f000001", ...) that is not
// allowed, and, when strict (sends through a proxy, which resolves names
// itself, so that the dial check never sees the address), localhost and any
// name that resolves here to an address that is not allowed. A name that
// does not resolve here is left to the proxy. It returns nil when the
// destination may be tried.
func (g *guard) checkURL(u *url.URL, strict bool) error {
	host := u.Hostname()
	if err := hostname.Check(host); err != nil {
		return &invalidHost{err: err}
	}
	if err := hostname.CheckPort(u.Port()); err != nil {
		return &invalidHost{err: err}
	}
	if g.allowAll {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		var ok bool
		if a, ok = hostname.IPv4(host); !ok {
			if strict {
				return g.checkName(host)
			}
			return nil
		}
	}
	if !g.allows(a.WithZone("")) {
		return &refusal{host: a.WithZone("").String()}
	}
	return nil
}

// checkName refuses localhost, and a name that resolves to an address that
// is not allowed. What it cannot see stays the proxy's to refuse: a name
// that does not resolve here, or resolves differently for the proxy (split
// DNS, or a record changed between this lookup and the proxy's).
func (g *guard) checkName(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if !g.allows(netip.IPv6Loopback()) || !g.allows(netip.AddrFrom4([4]byte{127, 0, 0, 1})) {
			return &refusal{host: h}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.lookupTimeout)
	defer cancel()
	addrs, err := g.lookup(ctx, "ip", h)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !g.allows(a.WithZone("")) {
			return &refusal{host: h + " (" + a.WithZone("").String() + ")"}
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
