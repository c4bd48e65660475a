// Package address is the one policy on where a delivery may go: which IP
// addresses are public, which non-public networks a worker's settings open
// besides, and what the host of a destination URL denotes as written.
//
// The sender's dialer checks every address it connects to with a Policy,
// and checks a destination URL with the same Policy before any request; the
// catalog checks an endpoint's URL with it when the endpoint is put, so that
// put refuses what delivery would refuse.
//
// Errors name a host or an address, never a URL: a webhook URL's path or
// query may hold a token.
package address

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/hookworker/hookworker/internal/hostname"
)

// hint says which settings open non-public destinations. They are the
// worker's own: a producer cannot set them for its job.
const hint = "the worker refuses non-public destinations unless its own settings allow them: " +
	"set HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true or add the address to HOOKWORKER_ALLOWED_NETWORKS " +
	"in the environment of every worker process (not of the producer or of hookworker send)"

// nonPublic lists special-purpose networks that netip.Addr's methods do not
// cover (IANA special-purpose address registries). IPv6 networks that embed
// an IPv4 address in a known place (IPv4-mapped and -compatible, NAT64
// 64:ff9b::/96, 6to4) are not listed: they are judged by that address.
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
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments (Teredo, ORCHID, ...)
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
}

// globalUnicast is the IPv6 space allocated for global unicast; the rest is
// reserved or special-purpose (discard-only 100::/64, local-use NAT64
// 64:ff9b:1::/48, unique local fc00::/7, site-local fec0::/10, ...).
var globalUnicast = netip.MustParsePrefix("2000::/3")

// IPv6 networks whose addresses embed an IPv4 address.
var (
	compatible = netip.MustParsePrefix("::/96")        // IPv4-compatible (deprecated), incl. :: and ::1
	nat64      = netip.MustParsePrefix("64:ff9b::/96") // NAT64: reaches the IPv4 address through a translator
	sixToFour  = netip.MustParsePrefix("2002::/16")    // 6to4: the IPv4 address of the tunnel's end
)

// Embedded returns the IPv4 address an IPv6 address stands for or leads to:
// that of an IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d)
// address, of a NAT64 address (64:ff9b::a.b.c.d) or of a 6to4 address
// (2002:aabb:ccdd::). It reports false for any other address, and for an
// IPv4 address.
func Embedded(a netip.Addr) (netip.Addr, bool) {
	a = a.WithZone("")
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case a.Is4In6(), compatible.Contains(a), nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// Public reports whether a is a public unicast address: not loopback,
// private, link-local, CGNAT, benchmarking, documentation, multicast,
// unspecified or otherwise reserved. An IPv6 address that embeds an IPv4
// address (see Embedded) is public when that address is.
func Public(a netip.Addr) bool {
	a = a.WithZone("")
	if v4, ok := Embedded(a); ok {
		a = v4
	}
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() ||
		a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() ||
		a.Is6() && !globalUnicast.Contains(a) {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Policy says which addresses a delivery may reach: the public ones, and
// the non-public ones its settings open. The zero Policy allows public
// addresses only.
type Policy struct {
	// AllowPrivate allows every address
	// (HOOKWORKER_ALLOW_PRIVATE_NETWORKS).
	AllowPrivate bool
	// Allowed are non-public networks allowed anyway
	// (HOOKWORKER_ALLOWED_NETWORKS). An IPv6 address that embeds an IPv4
	// address is allowed when either is in one of them.
	Allowed []netip.Prefix
}

// Allows reports whether a may be reached.
func (p Policy) Allows(a netip.Addr) bool {
	if p.AllowPrivate || Public(a) {
		return true
	}
	a = a.WithZone("")
	v4, embeds := Embedded(a)
	for _, n := range p.Allowed {
		if n.Contains(a) || embeds && n.Contains(v4) {
			return true
		}
	}
	return false
}

// CheckAddr returns a *RefusedError when a may not be reached, else nil.
func (p Policy) CheckAddr(a netip.Addr) error {
	if p.Allows(a) {
		return nil
	}
	return &RefusedError{Addr: a.WithZone("")}
}

// Literal returns the IP address a URL host denotes as written (as
// url.URL.Hostname returns it: an IPv6 address without brackets), in any
// form a resolver takes for an address rather than a name: an IP address,
// or one of the numeric IPv4 forms inet_aton accepts ("127.1",
// "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "127.000.000.001",
// "0"). It reports false for a name.
func Literal(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone(""), true
	}
	return hostname.IPv4(host)
}

// Localhost reports whether host is localhost or a name under .localhost,
// which resolvers answer with loopback addresses (RFC 6761).
func Localhost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// CheckURL checks the host and port of a destination URL as written, before
// any lookup. It returns
//   - one of package hostname's errors when the host or port cannot be
//     dialled (not a valid name or address; a port outside 1 to 65535);
//   - a *RefusedError when the host is an address in any form Literal reads
//     that may not be reached, or is localhost (see Localhost) while the
//     loopback addresses 127.0.0.1 and ::1 may not both be reached;
//   - nil otherwise: a name is left to the dialer, which checks the
//     addresses it resolves to with CheckAddr.
//
// Its errors quote neither the URL nor its port.
func (p Policy) CheckURL(u *url.URL) error {
	host := u.Hostname()
	if err := hostname.Check(host); err != nil {
		return err
	}
	if err := hostname.CheckPort(u.Port()); err != nil {
		return err
	}
	if p.AllowPrivate {
		return nil
	}
	if a, ok := Literal(host); ok {
		if p.Allows(a) {
			return nil
		}
		return &RefusedError{Host: host, Addr: a}
	}
	if Localhost(host) && !(p.Allows(netip.AddrFrom4([4]byte{127, 0, 0, 1})) && p.Allows(netip.IPv6Loopback())) {
		return &RefusedError{Host: host}
	}
	return nil
}

// RefusedError is the error for a destination the Policy does not allow.
type RefusedError struct {
	// Host is the host refused as written, or a name that resolved to
	// Addr; empty when only the address is known.
	Host string
	// Addr is the address refused; the zero Addr for localhost, refused
	// by name.
	Addr netip.Addr
}

// Error names the host and the address it denotes, says they are not
// public and which settings would allow them.
func (e *RefusedError) Error() string {
	var what string
	switch {
	case e.Host == "":
		what = e.Addr.String()
	case !e.Addr.IsValid() || e.Host == e.Addr.String():
		what = e.Host
	default:
		what = e.Host + " (" + e.Addr.String() + ")"
	}
	return what + " is not a public address; " + hint
}
