package endpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/redact"
	"github.com/hookworker/hookworker/sender"
)

// How a delivery authenticates to an endpoint's receiver (its auth): a
// client certificate, parsed once per endpoint and version of its key
// material, or a bearer token got with OAuth2 client credentials, cached
// until it expires and got again once after a 401. What is built from the
// credentials is kept here; the credentials themselves stay in the catalog
// and never reach a result, an attempt record or a log line.

// maxAuths bounds the certificates and token sources kept: past it, the
// cache starts afresh.
const maxAuths = 4096

// auths caches what deliveries authenticate with, by endpoint id and
// credentials version.
type auths struct {
	client *http.Client // fetches tokens

	mu     sync.Mutex
	certs  map[string]*sender.ClientCert
	tokens map[string]*tokenSource
}

// authFor sets the request's client certificate or Authorizer from the
// credentials of endpoint id; it fails, without naming any key material,
// when they cannot be used.
func (a *auths) authFor(req *sender.Request, id string, cr catalog.Credentials) error {
	key := id + "/" + cr.Version
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.certs)+len(a.tokens) >= maxAuths {
		clear(a.certs)
		clear(a.tokens)
	}
	switch cr.Type {
	case catalog.AuthMTLS:
		c, ok := a.certs[key]
		if !ok {
			pair, err := tls.X509KeyPair([]byte(cr.Cert), []byte(cr.Key))
			if err != nil {
				return fmt.Errorf("endpoint %s client certificate does not load", id)
			}
			c = &sender.ClientCert{ID: key, Certificate: &pair}
			a.certs[key] = c
		}
		req.ClientCert = c
	case catalog.AuthOAuth2:
		src, ok := a.tokens[key]
		if !ok {
			src = &tokenSource{client: a.client, tokenURL: cr.TokenURL, cfg: clientcredentials.Config{
				ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, TokenURL: cr.TokenURL, Scopes: cr.Scopes,
			}}
			a.tokens[key] = src
		}
		var last string // the value this delivery sent last
		req.Authorize = func(ctx context.Context, renew bool) (string, error) {
			v, err := src.authorization(ctx, renew, last)
			last = v
			return v, err
		}
	default:
		return fmt.Errorf("endpoint %s auth type %q is not known to this worker", id, cr.Type)
	}
	return nil
}

// tokenSource gets and caches one endpoint's OAuth2 token.
type tokenSource struct {
	client   *http.Client
	tokenURL string
	cfg      clientcredentials.Config

	mu  sync.Mutex
	tok *oauth2.Token
}

// authorization returns the Authorization value of the cached token, got
// first when there is none or it has expired. renew drops the cached token
// when it is still the one whose value was used (a 401 came back with it),
// so that deliveries refused at once renew it once between them.
func (s *tokenSource) authorization(ctx context.Context, renew bool, used string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if renew && s.tok != nil && authorization(s.tok) == used {
		s.tok = nil
	}
	if !s.tok.Valid() {
		if s.client != nil {
			ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
		}
		tok, err := s.cfg.Token(ctx)
		if err != nil {
			return "", s.describe(err)
		}
		s.tok = tok
	}
	return authorization(s.tok), nil
}

// authorization is the header value of tok: "Bearer <token>", or the type
// the token endpoint gave.
func authorization(tok *oauth2.Token) string {
	return tok.Type() + " " + tok.AccessToken
}

// describe turns a token request's error into one that names the redacted
// token URL and what came back, and never repeats what the token endpoint
// said (which might echo the client secret).
func (s *tokenSource) describe(err error) error {
	where := "token request to " + redact.URL(s.tokenURL)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := where + ": refused"
		if re.Response != nil {
			msg = fmt.Sprintf("%s: status %d", where, re.Response.StatusCode)
		}
		if errorCode(re.ErrorCode) {
			msg += " (" + re.ErrorCode + ")"
		}
		return errors.New(msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New(where + ": " + redact.Error(ue.Err.Error(), s.tokenURL, nil))
	}
	return errors.New(where + " failed")
}

// errorCode reports whether s looks like one of RFC 6749's error codes
// (invalid_client, ...), and so may be repeated.
func errorCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}
