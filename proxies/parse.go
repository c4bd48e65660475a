package proxies

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/hookworker/hookworker/redact"
)

// Schemes are the proxy URL schemes Parse accepts, all of which net/http's
// Transport can use: "socks5" resolves names on the client, "socks5h" on the
// proxy (net/http treats them the same).
var Schemes = []string{"http", "https", "socks5", "socks5h"}

// Parse reads one proxy. It accepts
//
//	host:port                        an HTTP proxy
//	host:port:user:pass              an HTTP proxy with basic credentials
//	scheme://[user:pass@]host:port   scheme http, https, socks5 or socks5h
//
// host is a name or an IP address (IPv6 in brackets: [::1]:3128). port is
// required, 1 to 65535. In the colon form the user name must not contain ':'
// and everything after the third ':' is the password, which may hold ':'
// (but not ',' in a list). In the URL form special characters in the user
// name or password must be percent-encoded. Nothing may follow the port.
//
// The URL returned carries the credentials as user info, ready for
// http.Transport's Proxy. Errors never contain the password: at most they
// name the scheme, the host and the port.
func Parse(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("proxy: empty")
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		return parseURL(s, scheme)
	}
	return parseColon(s)
}

// parseURL reads the scheme://[user:pass@]host:port form.
func parseURL(s, scheme string) (*url.URL, error) {
	scheme = strings.ToLower(scheme)
	if !knownScheme(scheme) {
		if isSchemeName(scheme) {
			return nil, fmt.Errorf("proxy: unsupported scheme %q (want %s)", scheme, strings.Join(Schemes, ", "))
		}
		return nil, fmt.Errorf("proxy: unsupported scheme (want %s)", strings.Join(Schemes, ", "))
	}
	u, err := url.Parse(s)
	if err != nil {
		// url errors quote the input, credentials included: say nothing of it.
		return nil, fmt.Errorf("proxy: invalid %s URL: check the host and port, and percent-encode special characters in the user name and password", scheme)
	}
	u.Scheme = scheme
	if u.User == nil && strings.Contains(s, "@") {
		return nil, fmt.Errorf("proxy: invalid %s URL: percent-encode special characters in the user name and password", scheme)
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("proxy: invalid %s URL: nothing may follow host:port", scheme)
	}
	host, port := u.Hostname(), u.Port()
	if err := check(host, port); err != nil {
		return nil, err
	}
	if u.User != nil && u.User.Username() == "" {
		return nil, fmt.Errorf("proxy %s: empty user name", redact.Proxy(u))
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}

// parseColon reads the host:port and host:port:user:pass forms.
func parseColon(s string) (*url.URL, error) {
	var host, rest string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return nil, errors.New("proxy: invalid host: missing ']'")
		}
		host, rest = s[1:end], s[end+1:]
		if !validHost(host) {
			return nil, errors.New("proxy: invalid host")
		}
		if rest == "" {
			return nil, fmt.Errorf("proxy %s: missing port", hostForm(host))
		}
		if rest[0] != ':' {
			return nil, errors.New("proxy: invalid host")
		}
		rest = rest[1:]
	} else {
		var ok bool
		host, rest, ok = strings.Cut(s, ":")
		if !ok {
			if validHost(host) {
				return nil, fmt.Errorf("proxy %s: missing port", host)
			}
			return nil, errors.New("proxy: invalid host")
		}
	}
	port, cred, hasCred := strings.Cut(rest, ":")
	if err := check(host, port); err != nil {
		return nil, err
	}
	u := &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}
	if hasCred {
		user, pass, ok := strings.Cut(cred, ":")
		if !ok {
			return nil, fmt.Errorf("proxy %s: want host:port or host:port:user:pass", u.Host)
		}
		if user == "" {
			return nil, fmt.Errorf("proxy %s: empty user name", u.Host)
		}
		u.User = url.UserPassword(user, pass)
	}
	return u, nil
}

// check validates a host and a port, naming in its error only what is valid.
func check(host, port string) error {
	if host == "" {
		return errors.New("proxy: empty host")
	}
	if !validHost(host) {
		return errors.New("proxy: invalid host")
	}
	if port == "" {
		return fmt.Errorf("proxy %s: missing port", hostForm(host))
	}
	if !validPort(port) {
		return fmt.Errorf("proxy %s: invalid port (want 1 to 65535)", hostForm(host))
	}
	return nil
}

// hostForm brackets an IPv6 address for display.
func hostForm(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// validHost accepts an IP address or a host name of letters, digits, '-',
// '_' and '.'.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// validPort accepts decimal digits naming a port from 1 to 65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

func knownScheme(s string) bool {
	for _, k := range Schemes {
		if s == k {
			return true
		}
	}
	return false
}

// isSchemeName reports whether s looks like a URL scheme, and so is safe to
// quote in an error.
func isSchemeName(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// ParseList reads comma-separated proxies, each as Parse accepts them; blank
// entries are skipped. Errors name the entry by its position, counting from 1.
func ParseList(s string) ([]*url.URL, error) {
	var list []*url.URL
	for i, entry := range strings.Split(s, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		u, err := Parse(entry)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
		list = append(list, u)
	}
	return list, nil
}

// Bounds on a proxies file: a list of proxies is small, and a path such as
// /dev/zero or a log file given by mistake must not be read into memory.
const (
	// MaxFileSize is the largest proxies file ReadFile reads, in bytes.
	MaxFileSize = 1 << 20
	// MaxFileLines is the most lines a proxies file may have, comments and
	// blank lines included.
	MaxFileLines = 100_000
)

// ReadFile reads proxies from a file, one a line, each as Parse accepts them.
// Blank lines and lines starting with '#' are skipped. A file larger than
// MaxFileSize or longer than MaxFileLines lines is refused without being read
// further. Errors name the file and the line.
func ReadFile(path string) ([]*url.URL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read proxies: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read proxies %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read proxies %s: larger than %d bytes, the most a proxies file may hold", path, MaxFileSize)
	}
	if lines := bytes.Count(data, []byte{'\n'}); lines > MaxFileLines || lines == MaxFileLines && len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("read proxies %s: more than %d lines, the most a proxies file may hold", path, MaxFileLines)
	}
	var list []*url.URL
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, err := Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		list = append(list, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read proxies %s: %w", path, err)
	}
	return list, nil
}
