package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/redact"
)

// An endpoint's delivery policy: the optional fields that change how its
// events are delivered (rate_limit, ordered, retry_schedule, timeout,
// auth), and the credentials its auth keeps in the bucket.

// Schedule is an endpoint's retry schedule: the wait before each retry of
// a delivery to it, in the format and within the limits of a job's
// retry_schedule (at most job.MaxScheduleLen durations, none negative).
// Read from JSON, a bad one is an *InvalidError for "retry_schedule".
type Schedule []job.Duration

// UnmarshalJSON reads the schedule as a job's retry_schedule is read.
func (s *Schedule) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*s = nil
		return nil
	}
	// The job's own rules, so that the two cannot drift.
	probe, _ := json.Marshal(map[string]any{"url": "https://example.com/", "payload": struct{}{}, "retry_schedule": json.RawMessage(data)})
	j, err := job.Decode(probe, "probe")
	if err != nil {
		return invalid("retry_schedule", "%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "retry_schedule"), ": "))
	}
	*s = j.RetrySchedule
	return nil
}

// check reports what is wrong with a schedule built in Go.
func (s Schedule) check() error {
	if len(s) > job.MaxScheduleLen {
		return invalid("retry_schedule", "at most %d entries, got %d", job.MaxScheduleLen, len(s))
	}
	for i, d := range s {
		if d < 0 {
			return invalid("retry_schedule", "[%d]: must not be negative, got %s", i, d)
		}
	}
	return nil
}

// Timeout is an endpoint's per-attempt timeout. A worker clamps it to its
// own HOOKWORKER_TIMEOUT, which the catalog does not know. Read from JSON
// (a duration string such as "10s", or a number of seconds), a bad one is
// an *InvalidError for "timeout".
type Timeout job.Duration

// UnmarshalJSON reads a duration string or a number of seconds.
func (t *Timeout) UnmarshalJSON(data []byte) error {
	var d job.Duration
	if err := d.UnmarshalJSON(data); err != nil {
		return invalid("timeout", "%s", err)
	}
	*t = Timeout(d)
	return nil
}

// MarshalJSON writes the timeout as a string such as "10s".
func (t Timeout) MarshalJSON() ([]byte, error) { return job.Duration(t).MarshalJSON() }

// Duration returns the timeout as a time.Duration.
func (t Timeout) Duration() time.Duration { return time.Duration(t) }

// The auth types.
const (
	// AuthMTLS presents a client certificate to the receiver.
	AuthMTLS = "mtls"
	// AuthOAuth2 sends a bearer token got with OAuth2 client credentials.
	AuthOAuth2 = "oauth2"
)

// Limits on auth's fields.
const (
	maxPEM       = 64 << 10
	maxAuthField = 1 << 10
	maxScopes    = 32
)

// Auth is how a worker authenticates to an endpoint's receiver: a client
// certificate (Type AuthMTLS: Cert and Key, PEM) or an OAuth2 client
// credentials grant (Type AuthOAuth2: TokenURL, ClientID, ClientSecret,
// Scopes). Key and ClientSecret are written, never read back: a put keeps
// them in the endpoints bucket beside the signing secrets, and an Endpoint
// read from the catalog never holds them; MarshalJSON leaves them out
// whatever they hold. An update that gives an auth of the same type
// without them keeps the stored ones.
type Auth struct {
	// Type is AuthMTLS or AuthOAuth2.
	Type string `json:"type"`
	// Cert is the client certificate chain, PEM (mtls).
	Cert string `json:"cert,omitempty"`
	// Key is the certificate's private key, PEM (mtls); write-only.
	Key string `json:"key,omitempty"`
	// TokenURL is the OAuth2 token endpoint (oauth2).
	TokenURL string `json:"token_url,omitempty"`
	// ClientID is the OAuth2 client id (oauth2).
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the OAuth2 client secret (oauth2); write-only.
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes are the scopes asked for (oauth2); none asks for none.
	Scopes []string `json:"scopes,omitempty"`
}

// MarshalJSON writes the auth without Key and ClientSecret.
func (a Auth) MarshalJSON() ([]byte, error) {
	type public Auth
	p := public(a)
	p.Key, p.ClientSecret = "", ""
	return json.Marshal(p)
}

// secret returns the auth's write-only field: the key or the client secret.
func (a *Auth) secret() string {
	if a.Type == AuthMTLS {
		return a.Key
	}
	return a.ClientSecret
}

// withoutSecret returns a copy of the auth without its write-only fields.
func (a *Auth) withoutSecret() *Auth {
	c := *a
	c.Key, c.ClientSecret = "", ""
	return &c
}

// Credentials are what a delivery to an endpoint authenticates with: its
// auth with the write-only field filled in from the bucket, and Version,
// which changes whenever any of it does (a cache of what is built from
// them keys on it). They leave the catalog only through
// MirroredCredentials and Credentials, for delivery; their JSON, as an
// Auth's, has neither the key nor the client secret.
type Credentials struct {
	Auth
	// Version names this auth: the same for the same material.
	Version string
}

// checkPolicy validates the endpoint's delivery policy fields and
// normalises them. The auth's write-only field may be empty, to be filled
// in from the stored endpoint (see stored.setAuth).
func (c *Catalog) checkPolicy(e *Endpoint) error {
	if e.RateLimit < 0 {
		return invalid("rate_limit", "must not be negative, got %d", e.RateLimit)
	}
	if err := e.RetrySchedule.check(); err != nil {
		return err
	}
	if len(e.RetrySchedule) == 0 {
		e.RetrySchedule = nil // the worker's
	}
	if e.Timeout < 0 {
		return invalid("timeout", "must not be negative, got %s", job.Duration(e.Timeout))
	}
	if e.Auth == nil {
		return nil
	}
	cp := *e.Auth // normalised here, not in the caller's
	a := &cp
	e.Auth = a
	switch a.Type {
	case AuthMTLS:
		for _, f := range []struct{ name, v string }{{"token_url", a.TokenURL}, {"client_id", a.ClientID}, {"client_secret", a.ClientSecret}} {
			if f.v != "" {
				return invalid("auth."+f.name, "only for an oauth2 auth")
			}
		}
		if len(a.Scopes) > 0 {
			return invalid("auth.scopes", "only for an oauth2 auth")
		}
		if !strings.HasPrefix(strings.ToLower(e.URL), "https:") {
			return invalid("auth.type", "mtls needs an https url: a client certificate is presented in the TLS handshake")
		}
		if a.Cert == "" {
			return invalid("auth.cert", "is required for an mtls auth")
		}
		if len(a.Cert) > maxPEM {
			return invalid("auth.cert", "at most %d bytes", maxPEM)
		}
		if err := checkCert(a.Cert); err != nil {
			return err
		}
		if len(a.Key) > maxPEM {
			return invalid("auth.key", "at most %d bytes", maxPEM)
		}
		if a.Key != "" {
			return checkKeyPair(a.Cert, a.Key)
		}
	case AuthOAuth2:
		for _, f := range []struct{ name, v string }{{"cert", a.Cert}, {"key", a.Key}} {
			if f.v != "" {
				return invalid("auth."+f.name, "only for an mtls auth")
			}
		}
		if a.TokenURL == "" {
			return invalid("auth.token_url", "is required for an oauth2 auth")
		}
		u, err := url.Parse(a.TokenURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || len(a.TokenURL) > maxAuthField {
			return invalid("auth.token_url", "must be an absolute http or https URL, got %q", redact.URL(a.TokenURL))
		}
		// The token is fetched by the workers: the same address policy.
		if err := c.addresses().CheckURL(u); err != nil {
			return invalid("auth.token_url", "%s", err)
		}
		if a.ClientID == "" {
			return invalid("auth.client_id", "is required for an oauth2 auth")
		}
		if len(a.ClientID) > maxAuthField {
			return invalid("auth.client_id", "at most %d bytes", maxAuthField)
		}
		if len(a.ClientSecret) > maxAuthField {
			return invalid("auth.client_secret", "at most %d bytes", maxAuthField)
		}
		if len(a.Scopes) > maxScopes {
			return invalid("auth.scopes", "at most %d, got %d", maxScopes, len(a.Scopes))
		}
		for _, s := range a.Scopes {
			if s == "" || len(s) > maxAuthField || strings.ContainsAny(s, " \t\r\n\"\\") {
				return invalid("auth.scopes", "%q is not a scope: printable, without spaces", s)
			}
		}
		if len(a.Scopes) == 0 {
			a.Scopes = nil
		}
	case "":
		return invalid("auth.type", "is required: %q or %q", AuthMTLS, AuthOAuth2)
	default:
		return invalid("auth.type", "must be %q or %q, got %q", AuthMTLS, AuthOAuth2, a.Type)
	}
	return nil
}

// checkCert reports whether cert is a PEM certificate chain.
func checkCert(cert string) error {
	rest := []byte(cert)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return invalid("auth.cert", "must hold only CERTIFICATE PEM blocks (the key goes in auth.key)")
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return invalid("auth.cert", "certificate %d does not parse", n+1)
		}
		n++
	}
	if n == 0 {
		return invalid("auth.cert", "must be a PEM certificate")
	}
	return nil
}

// checkKeyPair reports whether key is the private key of cert. The error
// never repeats the key.
func checkKeyPair(cert, key string) error {
	if b, _ := pem.Decode([]byte(key)); b == nil || !strings.Contains(b.Type, "PRIVATE KEY") {
		return invalid("auth.key", "must be a PEM private key")
	}
	if _, err := tls.X509KeyPair([]byte(cert), []byte(key)); err != nil {
		return invalid("auth.key", "does not parse, or is not the private key of auth.cert")
	}
	return nil
}

// setAuth keeps auth in the stored endpoint: the write-only field apart
// from the Endpoint, taken from old when auth gives none and old has an
// auth of the same type. It fails, as an *InvalidError, when it is missing.
func (s *stored) setAuth(auth *Auth, old *stored) error {
	s.Auth, s.AuthSecret, s.AuthVersion = nil, "", ""
	if auth == nil {
		return nil
	}
	sec := auth.secret()
	if sec == "" && old != nil && old.Auth != nil && old.Auth.Type == auth.Type {
		sec = old.AuthSecret
		if auth.Type == AuthMTLS && sec != "" {
			if err := checkKeyPair(auth.Cert, sec); err != nil {
				return invalid("auth.key", "the stored key is not the private key of the new auth.cert: give auth.key")
			}
		}
	}
	if sec == "" {
		if auth.Type == AuthMTLS {
			return invalid("auth.key", "is required for an mtls auth")
		}
		return invalid("auth.client_secret", "is required for an oauth2 auth")
	}
	s.Auth, s.AuthSecret = auth.withoutSecret(), sec
	cr, _ := s.credentials()
	s.AuthVersion = cr.Version
	return nil
}

// credentials returns the stored endpoint's credentials; false without auth.
func (s stored) credentials() (Credentials, bool) {
	if s.Auth == nil {
		return Credentials{}, false
	}
	cr := Credentials{Auth: *s.Auth, Version: s.AuthVersion}
	if s.Auth.Type == AuthMTLS {
		cr.Key = s.AuthSecret
	} else {
		cr.ClientSecret = s.AuthSecret
	}
	if cr.Version == "" {
		cr.Version = cr.version()
	}
	return cr, true
}

// version hashes every field of the credentials.
func (cr Credentials) version() string {
	h := sha256.New()
	for _, f := range append([]string{cr.Type, cr.Cert, cr.Key, cr.TokenURL, cr.ClientID, cr.ClientSecret}, cr.Scopes...) {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// MirroredCredentials returns the credentials a delivery to endpoint id
// authenticates with, read from the catalog's mirror of the bucket; false
// when the mirror does not hold the endpoint or it has no auth.
func (c *Catalog) MirroredCredentials(id string) (Credentials, bool) {
	s, ok := getDecoded(c.endpoints, id, decodeJSON[stored])
	if !ok {
		return Credentials{}, false
	}
	return s.credentials()
}

// Credentials returns, read from the bucket, the credentials a delivery to
// endpoint id authenticates with; false when it has no auth. A deleted
// endpoint is ErrNotFound.
func (c *Catalog) Credentials(ctx context.Context, id string) (Credentials, bool, error) {
	s, _, err := c.get(ctx, id)
	if err != nil {
		return Credentials{}, false, err
	}
	cr, ok := s.credentials()
	return cr, ok, nil
}
