// Package hostname reads the host of a destination URL the way resolvers and
// proxies do: it recognises the numeric IPv4 forms inet_aton (and so
// getaddrinfo, curl and most proxies) accepts, and tells a host that can be a
// DNS name from one that cannot be.
package hostname

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lengths of DNS names (RFC 1035): a label, and the whole name without the
// final dot.
const (
	maxLabel = 63
	maxName  = 253
)

// IPv4 returns the IPv4 address that host denotes in one of the numeric forms
// inet_aton accepts: one to four parts separated by dots, each decimal, octal
// (a leading 0) or hexadecimal (a leading 0x), the last part filling the
// bytes the others leave ("127.1", "2130706433", "0x7f000001", "0177.0.0.1",
// "0", "0x7f.1"). It reports false when host is not such a form.
func IPv4(host string) (netip.Addr, bool) {
	host = strings.TrimSuffix(host, ".")
	parts := strings.Split(host, ".")
	if host == "" || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := number(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	last := len(vals) - 1
	var n uint64
	for i, v := range vals[:last] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	if vals[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	n |= vals[last]
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// number parses one part of an inet_aton address: decimal, octal with a
// leading 0, or hexadecimal with a leading 0x or 0X (digits optional, as
// inet_aton allows "0x").
func number(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i], base) {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, base, 32)
	if err != nil {
		return 0, false
	}
	return v, true
}

func isDigit(c byte, base int) bool {
	switch base {
	case 8:
		return '0' <= c && c <= '7'
	case 10:
		return '0' <= c && c <= '9'
	default:
		return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
	}
}

// Errors of Check. They never quote the host, which may be part of a secret
// URL.
var (
	ErrEmpty   = errors.New("host is empty")
	ErrNumeric = errors.New("host is numeric but not an IPv4 address")
	ErrName    = errors.New("host is not a valid name")
	ErrPort    = errors.New("port is not a number from 1 to 65535")
)

// Check reports whether host, as url.URL.Hostname returns it, can be dialled:
// an IP address, an IPv4 address in an inet_aton form, or a DNS name of
// labels of 1 to 63 letters, digits, '-' or '_' (letters outside ASCII count,
// for internationalised names), not starting or ending with '-', 253
// characters at most. A name whose last label is a number is taken for an
// IPv4 address, as the URL Standard does, and must be one.
func Check(host string) error {
	if host == "" {
		return ErrEmpty
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if _, ok := IPv4(host); ok {
		return nil
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || utf8.RuneCountInString(name) > maxName {
		return ErrName
	}
	labels := strings.Split(name, ".")
	if _, ok := number(labels[len(labels)-1]); ok {
		return ErrNumeric
	}
	for _, l := range labels {
		if !label(l) {
			return ErrName
		}
	}
	return nil
}

// label reports whether l is a valid label of a DNS name.
func label(l string) bool {
	n := utf8.RuneCountInString(l)
	if n == 0 || n > maxLabel || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, r := range l {
		switch {
		case r == '-' || r == '_':
		case r < utf8.RuneSelf && ('a' <= r|0x20 && r|0x20 <= 'z' || '0' <= r && r <= '9'):
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
		default:
			return false
		}
	}
	return true
}

// CheckPort reports whether port, as url.URL.Port returns it, is empty (the
// scheme's default) or a number from 1 to 65535.
func CheckPort(port string) error {
	if port == "" {
		return nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return ErrPort
	}
	return nil
}
