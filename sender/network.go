package sender

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hookworker/hookworker/internal/address"
)

// refusal is the error for a destination on a network that is not allowed.
// It is returned by the dialer's Control function, and found again with
// errors.As in the error net/http returns.
type refusal struct {
	err *address.RefusedError
}

func (e *refusal) Error() string { return "destination " + e.err.Error() }

func (e *refusal) Unwrap() error { return e.err }

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

// guard decides which destinations may be dialled, by the address policy.
type guard struct {
	policy address.Policy
	// lookup resolves names sent through a proxy, bounded by lookupTimeout.
	lookup        lookupFunc
	lookupTimeout time.Duration
}

func newGuard(policy address.Policy, lookupTimeout time.Duration) *guard {
	return &guard{
		policy:        policy,
		lookup:        net.DefaultResolver.LookupNetIP,
		lookupTimeout: lookupTimeout,
	}
}

// checkURL refuses a destination before any request when the address
// policy refuses its host or port as written: an *invalidHost when they
// cannot be dialled, a *refusal when the host is an address that is not
// allowed (in any form a resolver accepts: inet_aton's "127.1",
// "2130706433", "0x7f000001", ...) or is localhost. When strict (sends
// through a proxy, which resolves names itself, so that the dial check never
// sees the address), it also refuses a name that resolves here to an
// address that is not allowed; a name that does not resolve here is left to
// the proxy. It returns nil when the destination may be tried.
func (g *guard) checkURL(u *url.URL, strict bool) error {
	err := g.policy.CheckURL(u)
	var refused *address.RefusedError
	switch {
	case errors.As(err, &refused):
		return &refusal{err: refused}
	case err != nil:
		return &invalidHost{err: err}
	}
	if !strict || g.policy.AllowPrivate {
		return nil
	}
	if _, ok := address.Literal(u.Hostname()); ok || address.Localhost(u.Hostname()) {
		return nil
	}
	return g.checkName(u.Hostname())
}

// checkName refuses a name that resolves to an address that is not allowed.
// What it cannot see stays the proxy's to refuse: a name that does not
// resolve here, or resolves differently for the proxy (split DNS, or a
// record changed between this lookup and the proxy's).
func (g *guard) checkName(host string) error {
	ctx, cancel := context.WithTimeout(context.Background(), g.lookupTimeout)
	defer cancel()
	h := strings.TrimSuffix(host, ".")
	addrs, err := g.lookup(ctx, "ip", h)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !g.policy.Allows(a) {
			return &refusal{err: &address.RefusedError{Host: h, Addr: a.WithZone("")}}
		}
	}
	return nil
}

// control runs before every direct connection, on the address actually
// dialled, so a name that resolves (or re-resolves) to a non-public address
// cannot slip past.
func (g *guard) control(_ context.Context, _, addr string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return &refusal{err: &address.RefusedError{Host: addr}}
	}
	var refused *address.RefusedError
	if errors.As(g.policy.CheckAddr(ap.Addr()), &refused) {
		return &refusal{err: refused}
	}
	return nil
}

// dialer returns the dialer for direct sends, checking every address it
// dials unless every network is allowed.
func (g *guard) dialer() *net.Dialer {
	d := plainDialer()
	if !g.policy.AllowPrivate {
		d.ControlContext = g.control
	}
	return d
}

// plainDialer returns a dialer with sane timeouts and no address check.
func plainDialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
}
