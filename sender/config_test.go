package sender

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/secret"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    Config
		errHas string
	}{
		{name: "secret without prefix", cfg: Config{SigningSecret: "c2VjcmV0LXZhbHVl"}, errHas: "whsec_"},
		{name: "secret not base64", cfg: Config{SigningSecret: "whsec_" + strings.Repeat("*", 32)}, errHas: "followed by standard base64"},
		{name: "empty key", cfg: Config{SigningSecret: "whsec_"}, errHas: "got 0"},
		{name: "one-byte key", cfg: Config{SigningSecret: "whsec_YQ=="}, errHas: "32 to 100 base64 characters, got 4"},
		{name: "23-byte key", cfg: Config{SigningSecret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456"))}, errHas: "got 23"},
		{name: "76-byte key", cfg: Config{SigningSecret: "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 76))}, errHas: "got 104"},
		{name: "backoff bounds", cfg: Config{BackoffMin: time.Second, BackoffMax: time.Millisecond}, errHas: "backoff"},
		{name: "negative duration", cfg: Config{Timeout: -time.Second}, errHas: "negative"},
		{name: "negative retries", cfg: Config{MaxRetries: -1}, errHas: "negative"},
		{name: "negative idle connections", cfg: Config{MaxIdleConnsPerHost: -1}, errHas: "negative"},
		{name: "user agent", cfg: Config{UserAgent: "a\r\nX-Evil: 1"}, errHas: "user agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.errHas)
			}
			if s := tt.cfg.SigningSecret; len(s) > len("whsec_") && strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestNewAcceptsKeyLengths(t *testing.T) {
	t.Parallel()
	for _, n := range []int{secret.MinKey, 32, 64, 72, secret.MaxKey} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			if _, err := New(Config{SigningSecret: "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n))}); err != nil {
				t.Fatalf("New with a %d-byte key: %v", n, err)
			}
		})
	}
}

// TestIdleConnectionLimits checks that the idle connection limits reach
// every transport, direct and through a proxy, with their defaults.
func TestIdleConnectionLimits(t *testing.T) {
	t.Parallel()
	proxy, err := url.Parse("http://127.0.0.1:3128")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		cfg               Config
		wantAll, wantHost int
	}{
		{name: "defaults", wantAll: DefaultMaxIdleConns, wantHost: DefaultMaxIdleConnsPerHost},
		{name: "configured", cfg: Config{MaxIdleConns: 64, MaxIdleConnsPerHost: 8}, wantAll: 64, wantHost: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSender(t, tt.cfg)
			for _, p := range []*url.URL{nil, proxy} {
				tr := s.clientFor(p).Transport.(*http.Transport)
				if tr.MaxIdleConns != tt.wantAll || tr.MaxIdleConnsPerHost != tt.wantHost || tr.IdleConnTimeout != IdleConnTimeout {
					t.Errorf("proxy %v: idle conns %d, per host %d, timeout %s; want %d, %d, %s",
						p, tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout, tt.wantAll, tt.wantHost, IdleConnTimeout)
				}
			}
		})
	}
}
