package sender

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
)

// How a request authenticates to its receiver beyond its signature: a TLS
// client certificate, an Authorization header, or both. The Sender knows
// neither where they come from nor what they hold; it presents them.

// ClientCert is a TLS client certificate a request presents to its
// destination. Requests with the same ID share a transport and its
// connections: an ID names one certificate, and a new certificate needs a
// new ID (an endpoint's id and the version of its key material, say).
type ClientCert struct {
	// ID names the certificate; never key material.
	ID string
	// Certificate is the chain and its private key.
	Certificate *tls.Certificate
}

// Authorizer returns the Authorization header value of an attempt. renew
// is true when the attempt before, in the same Send, got a 401 Unauthorized
// with the value it returned: a cached credential must then be dropped and
// a new one got. Its error fails the attempt before anything is sent, and
// the delivery retries as after a connection error; the error must not
// hold a secret.
type Authorizer func(ctx context.Context, renew bool) (string, error)

// maxCertClients bounds the clients kept for client certificates: past it,
// they are dropped (their idle connections closed) and made again as used.
const maxCertClients = 1024

// clientWith returns the client for sends through proxy (nil: direct)
// presenting cert: one transport per proxy and certificate ID, as clientFor
// keeps one per proxy.
func (s *Sender) clientWith(proxy *url.URL, cert *ClientCert) *http.Client {
	if cert == nil || cert.Certificate == nil {
		return s.clientFor(proxy)
	}
	key := cert.ID
	if proxy != nil {
		key = proxy.String() + " " + key
	}
	s.proxyMu.Lock()
	defer s.proxyMu.Unlock()
	if c, ok := s.withCert[key]; ok {
		return c
	}
	if len(s.withCert) >= maxCertClients {
		for _, c := range s.withCert {
			c.CloseIdleConnections()
		}
		clear(s.withCert)
	}
	dialer := s.guard.dialer()
	if proxy != nil {
		dialer = plainDialer()
	}
	t := newTransport(dialer, proxy, &s.cfg)
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.Certificates = []tls.Certificate{*cert.Certificate}
	c := &http.Client{Transport: t, CheckRedirect: s.direct.CheckRedirect}
	s.withCert[key] = c
	return c
}

// authorize sets the Authorization header of an attempt from the
// request's Authorizer, renewing its credential after a 401.
func (d *delivery) authorize(ctx context.Context, h http.Header) error {
	if d.req.Authorize == nil {
		return nil
	}
	renew := d.renew
	d.renew = false
	v, err := d.req.Authorize(ctx, renew)
	if err != nil {
		return err
	}
	h["Authorization"] = []string{v}
	return nil
}

// unauthorized handles an attempt whose Authorizer failed: nothing was
// sent, and the delivery retries as after a connection error.
func (d *delivery) unauthorized(ctx context.Context, err error) {
	if ctx.Err() != nil {
		d.finish(Interrupted, "cancelled while authorizing: "+ctx.Err().Error())
		return
	}
	d.cause = "authorization: " + err.Error()
	d.retry(0, true, d.cause)
}

// Client returns the HTTP client of direct sends: every dial under the
// address policy, https destinations checked against RootCAs when set, no
// redirect followed. What a delivery needs besides its request (an OAuth2
// token, say) can be fetched through it, under the same rules.
func (s *Sender) Client() *http.Client { return s.direct }
