package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// Audience is the aud claim of every tenant token.
	Audience = "hookworker"
	// MinSecretLen is the shortest token secret accepted, in bytes.
	MinSecretLen = 32
	// DefaultTTL is how long a tenant token lives when Mint is given no ttl.
	DefaultTTL = time.Hour
	// MaxTTL is the longest a tenant token may live.
	MaxTTL = 24 * time.Hour
)

// maxClockSkew is how far in the future a token's iat may be: another
// worker, whose clock may be a little ahead, may have minted it.
const maxClockSkew = time.Minute

// maxTokenLen bounds a token that is parsed at all; a minted one is a few
// hundred bytes.
const maxTokenLen = 4096

// InvalidError says a Mint request is invalid (a 400): Field is the
// request's field at fault, "id" or "ttl", and Reason what is wrong with it.
type InvalidError struct {
	Field  string
	Reason string
}

// Error names the field and the reason.
func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// ErrNoSecret is Mint's error on a nil *Tokens: no token secret is set, so
// no tenant token can be minted.
var ErrNoSecret = errors.New("no tenant tokens: HOOKWORKER_TOKEN_SECRET is not set")

// Tokens mints and verifies tenant tokens: JWTs signed with HS256 by one
// secret, with the claims sub (the tenant id), aud (Audience), iat and
// exp. Verify accepts no other algorithm. A Tokens is safe for concurrent
// use.
type Tokens struct {
	secret []byte
	now    func() time.Time
}

// NewTokens returns the minter and verifier of tokens signed with secret,
// which must be at least MinSecretLen bytes. The secret is copied.
func NewTokens(secret []byte) (*Tokens, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("token secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	return &Tokens{secret: append([]byte(nil), secret...), now: time.Now}, nil
}

// Mint returns a token for tenant that expires ttl from now (DefaultTTL
// when ttl is 0), and the time it expires, to the second. A tenant that is
// not a valid id, or a ttl under 1s or over MaxTTL, is an *InvalidError.
// Mint does not check that the tenant exists; its caller does. On a nil
// *Tokens, Mint returns ErrNoSecret (and Verify refuses every token), so
// that a nil *Tokens held in an interface is safe to call.
func (t *Tokens) Mint(tenant string, ttl time.Duration) (token string, expiresAt time.Time, err error) {
	if t == nil {
		return "", time.Time{}, ErrNoSecret
	}
	if !ValidTenantID(tenant) {
		return "", time.Time{}, &InvalidError{Field: "id", Reason: "must be 1 to 63 of A-Za-z0-9_-"}
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second || ttl > MaxTTL {
		return "", time.Time{}, &InvalidError{Field: "ttl", Reason: fmt.Sprintf("must be from 1s to 24h, got %s", ttl)}
	}
	now := t.now().Truncate(time.Second)
	expiresAt = now.Add(ttl)
	claims := jwt.RegisteredClaims{
		Subject:   tenant,
		Audience:  jwt.ClaimStrings{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expiresAt),
	}
	token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return token, expiresAt, nil
}

// Verify returns the tenant principal of token. It accepts only a token
// signed with HS256 by this secret, naming Audience, with an exp that has
// not passed, an iat that has (give or take a minute of clock skew between
// workers), a lifetime of at most MaxTTL and a sub that is a valid tenant
// id; any other is an error wrapping ErrUnauthenticated
// that never holds the token. Verify does not check that the tenant still
// exists: the operations answer its objects as missing once it does not.
func (t *Tokens) Verify(token string) (Principal, error) {
	if t == nil || token == "" || len(token) > maxTokenLen {
		return Principal{}, unauthenticated(reasonInvalid)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
		jwt.WithStrictDecoding(), // one token has one spelling: no stray padding bits
	)
	var claims jwt.RegisteredClaims
	_, err := parser.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, jwt.ErrTokenSignatureInvalid
		}
		return t.secret, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		// The library checks the signature before the claims: an expired
		// token is one this secret signed.
		return Principal{}, unauthenticated(reasonExpired)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return Principal{}, unauthenticated(reasonAudience)
	case err != nil:
		return Principal{}, unauthenticated(reasonInvalid)
	}
	// iat is checked here rather than by the library, to allow for the
	// clocks of the worker that minted the token and of this one.
	if claims.IssuedAt == nil || claims.IssuedAt.After(t.now().Add(maxClockSkew)) ||
		claims.ExpiresAt.Sub(claims.IssuedAt.Time) > MaxTTL {
		return Principal{}, unauthenticated(reasonInvalid)
	}
	p := Tenant(claims.Subject)
	if p.tenant == "" {
		return Principal{}, unauthenticated(reasonInvalid)
	}
	return p, nil
}
