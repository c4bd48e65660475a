package auth

import (
	"fmt"
	"strings"
)

// Settings are the HTTP API's settings, resolved from the configuration
// once at start-up by the worker's command (and, in the local quick
// start, generated); the HTTP server takes them as they are, and the NATS
// API takes Tokens for tenants.token.
type Settings struct {
	// Addr is the host:port the HTTP API and the portal listen on; empty
	// turns them off.
	Addr string
	// Keys are the operator keys; nil or empty: no operator key, so only
	// tenant tokens are accepted.
	Keys *Keys
	// Tokens mints and verifies tenant tokens; nil when no token secret is
	// set, so that no tenant token is accepted and none can be minted.
	// It is set whenever a secret is, with Addr empty too: the NATS API's
	// tenants.token mints with it.
	Tokens *Tokens
	// CORSOrigins are the origins, such as https://app.example.com, that
	// browsers may call the API from; empty turns CORS off. "*" allows
	// every origin.
	CORSOrigins []string
	// FrameAncestors is the portal's Content-Security-Policy
	// frame-ancestors source list, such as 'self'.
	FrameAncestors string
	// QuickStart says that these settings were made for the local quick
	// start (the embedded NATS server and no API variable set): Addr is a
	// default and the credentials were generated. A server that cannot
	// listen on Addr then warns and goes on without the API rather than
	// stopping the worker.
	QuickStart bool
	// KeyFile is the file that holds the generated operator key in the
	// local quick start, to point users to; empty otherwise.
	KeyFile string
}

// Authenticate returns who sent authorization, the value of an HTTP
// Authorization header: "Bearer " and either an operator key (the
// operator) or a tenant token that Tokens verifies (that tenant). Any
// other value, including "", is an error wrapping ErrUnauthenticated whose
// message never holds the header's value.
func (s Settings) Authenticate(authorization string) (Principal, error) {
	if authorization == "" {
		return Principal{}, unauthenticated(reasonNone)
	}
	scheme, cred, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, unauthenticated(reasonScheme)
	}
	cred = strings.TrimLeft(cred, " ")
	if cred == "" || len(cred) > maxTokenLen {
		return Principal{}, unauthenticated(reasonInvalid)
	}
	if s.Keys.Match(cred) {
		return Operator(), nil
	}
	return s.Tokens.Verify(cred)
}

// The reasons an authentication fails, in fixed words.
const (
	reasonNone     = "no credentials; send Authorization: Bearer and an operator key or a tenant token"
	reasonScheme   = "the Authorization header must be Bearer and an operator key or a tenant token"
	reasonInvalid  = "unknown operator key or invalid tenant token"
	reasonExpired  = "the tenant token has expired"
	reasonAudience = "the tenant token is for another audience"
)

// unauthenticated returns an error wrapping ErrUnauthenticated that gives
// reason, one of the constants above.
func unauthenticated(reason string) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, reason)
}
