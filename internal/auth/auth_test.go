package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hookworker/hookworker/internal/auth"
)

const (
	operatorKey  = "hwk_test-operator-key-0123456789abcdef"
	operatorKey2 = "hwk_second-operator-key-0123456789abcd"
	testSecret   = "test-token-secret-0123456789abcdef"
)

// testSettings returns settings with two operator keys and tokens signed
// with testSecret.
func testSettings(t testing.TB) auth.Settings {
	t.Helper()
	keys, err := auth.NewKeys([]string{operatorKey, operatorKey2})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return auth.Settings{Keys: keys, Tokens: tokens}
}

// sign returns a token with claims signed by method with key.
func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns valid claims for tenant acme, changed by edit.
func claims(edit func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub": "acme",
		"aud": auth.Audience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// b64 encodes v as JSON in unpadded URL-safe base64, a JWT segment.
func b64(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestAuthenticateRejects(t *testing.T) {
	t.Parallel()
	s := testSettings(t)
	hs256 := func(edit func(jwt.MapClaims)) string {
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(edit))
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid, _, err := s.Tokens.Mint("acme", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64(t, claims(func(c jwt.MapClaims) { c["sub"] = "other" })) + "." + parts[2]
	algNone := b64(t, map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(t, claims(nil)) + "."
	// A signature's last character carries two padding bits; setting them
	// gives another spelling of the same bytes.
	sig := parts[2]
	last := strings.IndexByte("AEIMQUYcgkosw048", sig[len(sig)-1])
	respelt := parts[0] + "." + parts[1] + "." + sig[:len(sig)-1] + string("BFJNRVZdhlptx159"[max(last, 0)])

	tests := []struct {
		name   string
		header string
		cred   string // the credential that must not show in the error
		reason string // a word the error must hold
	}{
		{"no header", "", "", "no credentials"},
		{"basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("acme:"+operatorKey)), operatorKey, "Bearer"},
		{"no scheme", valid, valid, "Bearer"},
		{"bearer without token", "Bearer ", "", "invalid"},
		{"garbage", "Bearer not-a-token-at-all", "not-a-token-at-all", "invalid"},
		{"three garbage segments", "Bearer aaaa.bbbb.cccc", "aaaa.bbbb.cccc", "invalid"},
		{"unknown operator key", "Bearer hwk_unknown-operator-key-0123456789abc", "hwk_unknown-operator-key-0123456789abc", "invalid"},
		{"operator key prefix", "Bearer " + operatorKey[:len(operatorKey)-1], operatorKey[:len(operatorKey)-1], "invalid"},
		{"alg none", "Bearer " + algNone, algNone, "invalid"},
		{"HS384", "Bearer " + sign(t, jwt.SigningMethodHS384, []byte(testSecret), claims(nil)), "", "invalid"},
		{"HS512", "Bearer " + sign(t, jwt.SigningMethodHS512, []byte(testSecret), claims(nil)), "", "invalid"},
		{"RS256", "Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil)), "", "invalid"},
		{"wrong key", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefghij"), claims(nil)), "", "invalid"},
		{"tampered payload", "Bearer " + tampered, tampered, "invalid"},
		{"signature respelt", "Bearer " + respelt, respelt, "invalid"},
		{"expired", "Bearer " + hs256(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			c["exp"] = time.Now().Add(-time.Minute).Unix()
		}), "", "expired"},
		{"no exp", "Bearer " + hs256(func(c jwt.MapClaims) { delete(c, "exp") }), "", "invalid"},
		{"no iat", "Bearer " + hs256(func(c jwt.MapClaims) { delete(c, "iat") }), "", "invalid"},
		{"iat in the future", "Bearer " + hs256(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(2 * time.Minute).Unix()
			c["exp"] = time.Now().Add(time.Hour).Unix()
		}), "", "invalid"},
		{"lives over 24h", "Bearer " + hs256(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(25 * time.Hour).Unix() }), "", "invalid"},
		{"wrong audience", "Bearer " + hs256(func(c jwt.MapClaims) { c["aud"] = "someone-else" }), "", "audience"},
		{"no audience", "Bearer " + hs256(func(c jwt.MapClaims) { delete(c, "aud") }), "", "invalid"},
		{"no sub", "Bearer " + hs256(func(c jwt.MapClaims) { delete(c, "sub") }), "", "invalid"},
		{"sub not a tenant id", "Bearer " + hs256(func(c jwt.MapClaims) { c["sub"] = "acme corp!" }), "", "invalid"},
		{"too long", "Bearer " + strings.Repeat("a", 5000), "", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := s.Authenticate(tt.header)
			if err == nil {
				t.Fatalf("Authenticate accepted it as %s", p)
			}
			if !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("error %v does not wrap ErrUnauthenticated", err)
			}
			if p != (auth.Principal{}) {
				t.Errorf("principal %s with the error, want nobody", p)
			}
			cred := tt.cred
			if cred == "" {
				_, cred, _ = strings.Cut(tt.header, " ")
			}
			if cred != "" && strings.Contains(err.Error(), cred) {
				t.Errorf("error %q holds the credential", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not say %q", err, tt.reason)
			}
		})
	}
}

func TestAuthenticateAccepts(t *testing.T) {
	t.Parallel()
	s := testSettings(t)
	token, _, err := s.Tokens.Mint("acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header string
		want   auth.Principal
	}{
		{"operator key", "Bearer " + operatorKey, auth.Operator()},
		{"second operator key", "Bearer " + operatorKey2, auth.Operator()},
		{"lower-case scheme", "bearer " + operatorKey, auth.Operator()},
		{"tenant token", "Bearer " + token, auth.Tenant("acme")},
		{"minted by a worker whose clock is ahead", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(func(c jwt.MapClaims) {
			c["iat"] = time.Now().Add(20 * time.Second).Unix()
		})), auth.Tenant("acme")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := s.Authenticate(tt.header)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if p != tt.want {
				t.Errorf("Authenticate = %s, want %s", p, tt.want)
			}
		})
	}
}

func TestAuthenticateWithoutCredentials(t *testing.T) {
	t.Parallel()
	full := testSettings(t)
	token, _, err := full.Tokens.Mint("acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []auth.Settings{{}, {Keys: full.Keys}, {Tokens: full.Tokens}} {
		if _, err := s.Authenticate("Bearer " + operatorKey); (err == nil) != (s.Keys != nil) {
			t.Errorf("keys %v: operator key: error %v", s.Keys != nil, err)
		}
		if _, err := s.Authenticate("Bearer " + token); (err == nil) != (s.Tokens != nil) {
			t.Errorf("tokens %v: tenant token: error %v", s.Tokens != nil, err)
		}
	}
}

func TestMint(t *testing.T) {
	t.Parallel()
	tokens, err := auth.NewTokens([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tenant  string
		ttl     time.Duration
		wantTTL time.Duration
		field   string // of the *InvalidError; "" for none
	}{
		{"default", "acme", 0, time.Hour, ""},
		{"one minute", "tn_abc-DEF_9", time.Minute, time.Minute, ""},
		{"24h", "acme", 24 * time.Hour, 24 * time.Hour, ""},
		{"over 24h", "acme", 24*time.Hour + time.Second, 0, "ttl"},
		{"negative", "acme", -time.Hour, 0, "ttl"},
		{"under a second", "acme", time.Millisecond, 0, "ttl"},
		{"empty tenant", "", time.Hour, 0, "id"},
		{"bad tenant", "a.b", time.Hour, 0, "id"},
		{"long tenant", strings.Repeat("a", 64), time.Hour, 0, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := time.Now().Truncate(time.Second)
			token, exp, err := tokens.Mint(tt.tenant, tt.ttl)
			if tt.field != "" {
				var ie *auth.InvalidError
				if !errors.As(err, &ie) || ie.Field != tt.field {
					t.Fatalf("Mint: error %v, want an *InvalidError for %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			if exp.Before(before.Add(tt.wantTTL)) || exp.After(time.Now().Add(tt.wantTTL)) {
				t.Errorf("expires at %s, want %s from now", exp, tt.wantTTL)
			}
			var c jwt.RegisteredClaims
			tok, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return []byte(testSecret), nil })
			if err != nil {
				t.Fatalf("parse the minted token: %v", err)
			}
			if tok.Method != jwt.SigningMethodHS256 || c.Subject != tt.tenant || len(c.Audience) != 1 || c.Audience[0] != auth.Audience ||
				c.IssuedAt == nil || !c.ExpiresAt.Time.Equal(exp) || c.ExpiresAt.Sub(c.IssuedAt.Time) != tt.wantTTL {
				t.Errorf("token %s, claims %+v; want HS256, sub %s, aud %s, iat, exp %s", tok.Method.Alg(), c, tt.tenant, auth.Audience, exp)
			}
			p, err := tokens.Verify(token)
			if err != nil || p != auth.Tenant(tt.tenant) {
				t.Errorf("Verify = %s, %v; want tenant %s", p, err, tt.tenant)
			}
		})
	}
}

func TestNilTokens(t *testing.T) {
	t.Parallel()
	var tokens *auth.Tokens
	if _, _, err := tokens.Mint("acme", 0); !errors.Is(err, auth.ErrNoSecret) {
		t.Errorf("Mint on nil = %v, want ErrNoSecret", err)
	}
	if _, err := tokens.Verify("a.b.c"); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("Verify on nil = %v, want ErrUnauthenticated", err)
	}
}

func TestNewTokensShortSecret(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", auth.MinSecretLen-1)
	_, err := auth.NewTokens([]byte(secret))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("NewTokens(31 bytes) = %v, want an error without the secret", err)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	short := "hwk_short-key"
	tests := []struct {
		name  string
		list  string
		want  int
		fails bool
	}{
		{"empty", "", 0, false},
		{"one", operatorKey, 1, false},
		{"two with spaces", " " + operatorKey + " ,, " + operatorKey2 + " ", 2, false},
		{"short", operatorKey + "," + short, 0, true},
		{"control character", strings.Repeat("k", 40) + "\x01", 0, true},
		{"inner space", strings.Repeat("k", 20) + " " + strings.Repeat("k", 20), 0, true},
		{"too long", strings.Repeat("k", 1025), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := auth.ParseKeys(tt.list)
			if tt.fails {
				if err == nil {
					t.Fatalf("ParseKeys accepted it")
				}
				if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), "kkkk") {
					t.Errorf("error %q holds the key", err)
				}
				return
			}
			if err != nil || len(keys) != tt.want {
				t.Fatalf("ParseKeys = %d keys, %v; want %d", len(keys), err, tt.want)
			}
			set, err := auth.NewKeys(keys)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if !set.Match(k) {
					t.Errorf("Match(key) = false")
				}
			}
			if set.Match(operatorKey+"x") || set.Match("") {
				t.Errorf("Match accepts an unknown key")
			}
		})
	}
	if (*auth.Keys)(nil).Match(operatorKey) {
		t.Errorf("nil Keys match a key")
	}
}

func TestReadKeysFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keys, err := auth.ReadKeysFile(write("keys", "# operators\n\n  "+operatorKey+"  \r\n#"+operatorKey+"\n"+operatorKey2))
	if err != nil || len(keys) != 2 || keys[0] != operatorKey || keys[1] != operatorKey2 {
		t.Errorf("ReadKeysFile = %q, %v; want the two keys", keys, err)
	}
	if _, err := auth.ReadKeysFile(write("none", "# nothing yet\n\n")); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("a file of comments: error %v, want one saying it holds no key", err)
	}
	if _, err := auth.ReadKeysFile(write("short", operatorKey+"\nhwk_short\n")); err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "hwk_short") {
		t.Errorf("a short key: error %v, want one naming line 2 and not the key", err)
	}
	if _, err := auth.ReadKeysFile(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("a missing file: no error")
	}
}

func TestNewKeyAndSecret(t *testing.T) {
	t.Parallel()
	a, b := auth.NewKey(), auth.NewKey()
	if a == b || auth.CheckKey(a) != nil || !strings.HasPrefix(a, "hwk_") {
		t.Errorf("NewKey = %q, %q; want two different valid keys", a, b)
	}
	if _, err := auth.NewTokens(auth.NewSecret()); err != nil {
		t.Errorf("NewTokens(NewSecret()): %v", err)
	}
}

func TestPrincipal(t *testing.T) {
	t.Parallel()
	op, acme, nobody := auth.Operator(), auth.Tenant("acme"), auth.Principal{}
	if auth.Tenant("not valid") != nobody {
		t.Errorf("Tenant of an invalid id is not nobody")
	}
	tests := []struct {
		p      auth.Principal
		object string
		want   bool
	}{
		{op, "", true},
		{op, "acme", true},
		{acme, "acme", true},
		{acme, "other", false},
		{acme, "", false},
		{nobody, "", false},
		{nobody, "acme", false},
	}
	for _, tt := range tests {
		if got := tt.p.Allows(tt.object); got != tt.want {
			t.Errorf("%s.Allows(%q) = %v, want %v", tt.p, tt.object, got, tt.want)
		}
	}
	if op.String() != "operator" || acme.String() != "tenant acme" || nobody.String() != "nobody" {
		t.Errorf("String = %q, %q, %q", op, acme, nobody)
	}
	if !op.IsOperator() || acme.IsOperator() || acme.TenantID() != "acme" || op.TenantID() != "" {
		t.Errorf("IsOperator or TenantID wrong")
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, ok := auth.From(ctx); ok {
		t.Errorf("From(background) found a principal")
	}
	if err := auth.RequireOperator(ctx); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("RequireOperator(background) = %v, want ErrUnauthenticated", err)
	}
	if _, ok := auth.From(auth.With(ctx, auth.Principal{})); ok {
		t.Errorf("From finds nobody")
	}
	if p, ok := auth.From(auth.With(ctx, auth.Tenant("acme"))); !ok || p != auth.Tenant("acme") {
		t.Errorf("From = %s, %v; want tenant acme", p, ok)
	}
	if err := auth.RequireOperator(auth.With(ctx, auth.Tenant("acme"))); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("RequireOperator(tenant) = %v, want ErrForbidden", err)
	}
	if err := auth.RequireOperator(auth.With(ctx, auth.Operator())); err != nil {
		t.Errorf("RequireOperator(operator) = %v", err)
	}
}
