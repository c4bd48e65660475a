// Package proxytest provides a real HTTP forward proxy on the loopback
// interface for tests: it forwards plain HTTP requests sent in absolute-URI
// form and tunnels HTTPS (and anything else) through CONNECT, optionally
// requiring basic Proxy-Authorization, and counts the requests it receives.
// Like the proxies it stands for, which resolve names with getaddrinfo, it
// takes the numeric IPv4 forms inet_aton accepts ("127.1", "2130706433",
// "0x7f000001", ...) for the addresses they denote.
package proxytest

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/hostname"
)

// Server is a forward proxy listening on 127.0.0.1.
type Server struct {
	// URL is the proxy's address, http://127.0.0.1:port, with the user and
	// password in its user info when the server requires them, ready to be
	// used as a client's proxy.
	URL *url.URL

	user, pass string
	auth       bool
	requests   atomic.Int64
	srv        *http.Server
	transport  *http.Transport
	dialer     net.Dialer

	mu      sync.Mutex
	tunnels map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// NewServer starts a proxy that needs no credentials. Close it when done.
func NewServer() *Server {
	return start("", "", false)
}

// NewServerAuth starts a proxy that answers 407 Proxy Authentication Required
// unless a request carries Proxy-Authorization basic credentials for user and
// pass. Its URL carries those credentials. Close it when done.
func NewServerAuth(user, pass string) *Server {
	return start(user, pass, true)
}

func start(user, pass string, auth bool) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("proxytest: listen on a loopback port: " + err.Error())
	}
	s := &Server{
		URL:     &url.URL{Scheme: "http", Host: ln.Addr().String()},
		user:    user,
		pass:    pass,
		auth:    auth,
		tunnels: make(map[net.Conn]struct{}),
		dialer:  net.Dialer{Timeout: 10 * time.Second},
		transport: &http.Transport{
			// Never chain to a proxy from the environment.
			Proxy:               nil,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	if auth {
		s.URL.User = url.UserPassword(user, pass)
	}
	s.transport.DialContext = s.dial
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	return s
}

// dial connects to address, reading a numeric host as getaddrinfo does.
func (s *Server) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(address); err == nil {
		if a, ok := hostname.IPv4(host); ok {
			address = net.JoinHostPort(a.String(), port)
		}
	}
	return s.dialer.DialContext(ctx, network, address)
}

// Requests returns how many proxy requests the server has received: every
// forwarded request and every CONNECT, including those refused for bad
// credentials.
func (s *Server) Requests() int {
	return int(s.requests.Load())
}

// Close stops the server, closes every open tunnel and connection and waits
// for them to end. Clients that use it afterwards get connection errors.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.tunnels {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.srv.Close()
	s.transport.CloseIdleConnections()
	s.wg.Wait()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.auth && !s.authorized(r.Header.Get("Proxy-Authorization")) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="proxytest"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		s.tunnel(w, r)
		return
	}
	s.forward(w, r)
}

// authorized reports whether h is a basic Proxy-Authorization header for the
// server's user and password.
func (s *Server) authorized(h string) bool {
	scheme, enc, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return false
	}
	want := s.user + ":" + s.pass
	return subtle.ConstantTimeCompare(dec, []byte(want)) == 1
}

// hopHeaders are dropped when a request or response is passed on.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// forward passes an absolute-URI request on to its destination and copies the
// response back. Redirects are returned, not followed.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	if !r.URL.IsAbs() || r.URL.Host == "" {
		http.Error(w, "proxytest: request URI must be absolute", http.StatusBadRequest)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header = r.Header.Clone()
	removeHop(out.Header)
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := s.transport.RoundTrip(out)
	if err != nil {
		http.Error(w, "proxytest: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	removeHop(resp.Header)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// tunnel dials the CONNECT target and copies bytes both ways until either
// side closes.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	dst, err := s.dial(ctx, "tcp", r.Host)
	if err != nil {
		http.Error(w, "proxytest: "+err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = dst.Close()
		http.Error(w, "proxytest: cannot hijack the connection", http.StatusInternalServerError)
		return
	}
	src, buf, err := hj.Hijack()
	if err != nil {
		_ = dst.Close()
		return
	}
	if !s.track(src, dst) {
		_ = src.Close()
		_ = dst.Close()
		return
	}
	if _, err := io.WriteString(src, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		s.untrack(src, dst)
		s.wg.Done()
		return
	}
	go func() {
		defer s.wg.Done()
		defer s.untrack(src, dst)
		done := make(chan struct{}, 2)
		go func() {
			// Bytes the client sent after CONNECT may sit in buf already.
			_, _ = io.Copy(dst, buf)
			closeWrite(dst)
			done <- struct{}{}
		}()
		go func() {
			_, _ = io.Copy(src, dst)
			closeWrite(src)
			done <- struct{}{}
		}()
		<-done
		<-done
	}()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// track registers a tunnel's connections so that Close can end them and
// wait for the tunnel (the caller calls s.wg.Done when it ends); it reports
// false when the server is already closed.
func (s *Server) track(conns ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	for _, c := range conns {
		s.tunnels[c] = struct{}{}
	}
	return true
}

func (s *Server) untrack(conns ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
		delete(s.tunnels, c)
	}
}

// DeadURL returns the URL of a proxy that refuses connections: a loopback
// port that was listened on and closed again. Another process could take the
// port in between, which is unlikely enough for tests.
func DeadURL(t testing.TB) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxytest: listen on a loopback port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("proxytest: close listener: %v", err)
	}
	return &url.URL{Scheme: "http", Host: addr}
}
