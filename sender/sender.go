// Package sender makes one webhook delivery over HTTP: it signs the request
// (Standard Webhooks), sends it to a destination or a pool of destinations,
// retries on 429, 408, 425, 5xx, timeouts and connection errors, rotates
// proxies, refuses non-public destinations, and returns exactly one Result.
// Send never panics and never returns without a Result; a Result whose
// Defer is positive asks the caller to send the job again later instead of
// holding it while waiting.
//
// The waits between retries come from github.com/sethvargo/go-retry, used
// as a library of backoffs, not for its retry loop: each delivery builds
// one go-retry Backoff (exponential from Config.BackoffMin, capped at
// BackoffMax, with 25% jitter, limited to the retry budget; or the
// request's Schedule) and draws one wait from it per retry. A delivery
// that resumes a job handed back (Request.Prior) builds it again and
// draws past the retries the job already used.
//
// Nothing secret (a Discord webhook token, URL user info or query values, a
// proxy password, the signing secret) ever appears in a Result or a log line:
// URLs go through package redact.
package sender

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/address"
	"github.com/hookworker/hookworker/internal/natstrace"
	"github.com/hookworker/hookworker/internal/secret"
)

// The defaults New applies to zero Config fields.
const (
	// DefaultTimeout bounds one HTTP attempt when Config.Timeout is zero.
	DefaultTimeout = 15 * time.Second
	// DefaultBackoffMin is the first backoff when Config.BackoffMin is zero.
	DefaultBackoffMin = 500 * time.Millisecond
	// DefaultBackoffMax is the longest backoff when Config.BackoffMax is zero.
	DefaultBackoffMax = 30 * time.Second
)

// Connection pooling. A keep-alive connection left unused for
// IdleConnTimeout is closed, so that a burst leaves no connections (each
// with its two goroutines and buffers) open for long after it.
const (
	// IdleConnTimeout is how long an unused keep-alive connection stays
	// open.
	IdleConnTimeout = 30 * time.Second
	// DefaultMaxIdleConnsPerHost bounds the idle connections kept per
	// host when Config.MaxIdleConnsPerHost is zero.
	DefaultMaxIdleConnsPerHost = 128
	// DefaultMaxIdleConns bounds the idle connections kept in all when
	// Config.MaxIdleConns is zero.
	DefaultMaxIdleConns = 1024
)

// readBufferSize is the read buffer of every connection: a webhook response
// is mostly a status line and a few headers, and larger bodies are read
// through it in turn. Requests keep the default 4 KiB write buffer, so that
// headers and a typical payload leave in one write.
const readBufferSize = 2 << 10

// Config configures a Sender. The zero value is usable: direct sends, no
// retries, the default timeout and backoff, no signature, public destinations
// only.
type Config struct {
	// Timeout bounds one HTTP attempt (connect, request, response headers and
	// body). Defaults to 15s.
	Timeout time.Duration
	// MaxRetries bounds retries on 429, 408, 425, 5xx and, without proxies, on
	// timeouts and connection errors. Zero means none.
	MaxRetries int
	// MaxProxyRetries bounds proxy rotations on timeouts and connection errors
	// when Proxies is set. Zero means none.
	MaxProxyRetries int
	// BackoffMin is the first backoff; each retry doubles it. Defaults to 500ms.
	BackoffMin time.Duration
	// BackoffMax caps the backoff. Defaults to 30s.
	BackoffMax time.Duration
	// DeferAfter: a retry wait longer than this is not waited for; Send
	// returns a Result with Defer set instead. Zero means never defer.
	DeferAfter time.Duration
	// MaxRetryWait is the longest wait a 429 or a 503 may ask for; a longer
	// one fails the delivery. Zero means no limit.
	MaxRetryWait time.Duration
	// RootCAs, when set, are the certificate authorities https
	// destinations are checked against, in place of the system's.
	RootCAs *x509.CertPool
	// SigningSecret, when set, is the Standard Webhooks secret ("whsec_"
	// followed by base64, as package internal/secret parses it)
	// used to sign every request.
	SigningSecret string
	// AllowPrivateNetworks allows destinations on loopback, private,
	// link-local and other non-public addresses.
	AllowPrivateNetworks bool
	// AllowedNetworks are non-public networks allowed anyway.
	AllowedNetworks []netip.Prefix
	// Proxies, when set, hands out the proxy for every attempt. Nil sends
	// directly.
	Proxies ProxyProvider
	// UserAgent is sent as User-Agent. Defaults to "hookworker"; the
	// worker sends "hookworker/<version>".
	UserAgent string
	// Observer, when set, is told of attempts, retries and burned proxies.
	Observer Observer
	// Logger receives a debug line per attempt. Nil discards.
	Logger *slog.Logger
	// MaxIdleConnsPerHost bounds the keep-alive connections kept open
	// unused per destination host (per proxy when sending through
	// proxies); what one host can use at once is a good value. Defaults to
	// 128.
	MaxIdleConnsPerHost int
	// MaxIdleConns bounds the keep-alive connections kept open unused in
	// all (per proxy). Defaults to 1024.
	MaxIdleConns int
	// TracerProvider, when set and not the OpenTelemetry no-op provider,
	// traces every HTTP attempt: a client span, the child of the span of
	// the context Send is given, whose traceparent the request carries.
	// Nil traces nothing and costs nothing.
	TracerProvider oteltrace.TracerProvider
}

// Sender delivers requests. It is safe for concurrent use and is meant to be
// built once per process: it holds the connection pools.
type Sender struct {
	cfg      Config
	ua       []string
	log      *slog.Logger
	obs      Observer
	guard    *guard
	direct   *http.Client
	signer   Signer
	cursors  cursors
	tracer   oteltrace.Tracer // nil: no tracing
	now      func() time.Time
	proxyMu  sync.Mutex
	viaProxy map[string]*http.Client // keyed by proxy URL
	withCert map[string]*http.Client // keyed by proxy URL and certificate ID
}

// New checks cfg, applies its defaults and builds a Sender. Its errors never
// contain the signing secret.
func New(cfg Config) (*Sender, error) {
	if err := check(&cfg); err != nil {
		return nil, err
	}
	s := &Sender{
		cfg:      cfg,
		log:      cfg.Logger,
		obs:      cfg.Observer,
		guard:    newGuard(address.Policy{AllowPrivate: cfg.AllowPrivateNetworks, Allowed: cfg.AllowedNetworks}, cfg.Timeout),
		now:      time.Now,
		viaProxy: make(map[string]*http.Client),
		withCert: make(map[string]*http.Client),
		tracer:   natstrace.Tracer(cfg.TracerProvider, "github.com/hookworker/hookworker/sender"),
	}
	s.cursors.init()
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "hookworker"
	}
	s.ua = []string{ua}
	if cfg.SigningSecret != "" {
		sign, err := NewSigner(cfg.SigningSecret)
		if err != nil {
			return nil, fmt.Errorf("sender config: signing secret %w", err)
		}
		s.signer = sign
	}
	s.direct = newClient(s.guard.dialer(), &cfg)
	return s, nil
}

// check validates cfg and fills in its defaults.
func check(cfg *Config) error {
	if cfg.Timeout < 0 || cfg.BackoffMin < 0 || cfg.BackoffMax < 0 || cfg.DeferAfter < 0 || cfg.MaxRetryWait < 0 {
		return errors.New("sender config: durations must not be negative")
	}
	if cfg.MaxRetries < 0 || cfg.MaxProxyRetries < 0 {
		return errors.New("sender config: retry counts must not be negative")
	}
	if cfg.MaxIdleConns < 0 || cfg.MaxIdleConnsPerHost < 0 {
		return errors.New("sender config: idle connection limits must not be negative")
	}
	if cfg.MaxIdleConns == 0 {
		cfg.MaxIdleConns = DefaultMaxIdleConns
	}
	if cfg.MaxIdleConnsPerHost == 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = max(DefaultBackoffMax, cfg.BackoffMin)
	}
	if cfg.BackoffMin > cfg.BackoffMax {
		return fmt.Errorf("sender config: backoff min %s is above backoff max %s", cfg.BackoffMin, cfg.BackoffMax)
	}
	for _, p := range cfg.AllowedNetworks {
		if !p.IsValid() {
			return errors.New("sender config: invalid allowed network")
		}
	}
	if strings.ContainsAny(cfg.UserAgent, "\r\n") {
		return errors.New("sender config: user agent must be one line")
	}
	return nil
}

// newClient returns an HTTP client that never follows redirects, dialling
// with dial.
func newClient(dialer *net.Dialer, cfg *Config) *http.Client {
	return &http.Client{
		Transport: newTransport(dialer, nil, cfg),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// newTransport returns a transport tuned for many concurrent sends to the
// same hosts, through proxy when it is not nil, pooling connections as cfg
// says.
func newTransport(dialer *net.Dialer, proxy *url.URL, cfg *Config) *http.Transport {
	t := &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxIdleConns,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       IdleConnTimeout,
		ReadBufferSize:        readBufferSize,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if proxy != nil {
		t.Proxy = http.ProxyURL(proxy)
		t.OnProxyConnectResponse = onConnectResponse
	}
	if cfg.RootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs}
	}
	return t
}

// clientFor returns the client for sends through proxy (nil: direct). There is
// one transport per proxy, so that connections are pooled per proxy. The
// proxy itself is trusted: its dial is not checked against non-public
// networks.
func (s *Sender) clientFor(proxy *url.URL) *http.Client {
	if proxy == nil {
		return s.direct
	}
	key := proxy.String()
	s.proxyMu.Lock()
	defer s.proxyMu.Unlock()
	c, ok := s.viaProxy[key]
	if !ok {
		c = &http.Client{
			Transport:     newTransport(plainDialer(), proxy, &s.cfg),
			CheckRedirect: s.direct.CheckRedirect,
		}
		s.viaProxy[key] = c
	}
	return c
}

// Close closes idle connections of every transport. The Sender stays usable.
func (s *Sender) Close() {
	s.direct.CloseIdleConnections()
	s.proxyMu.Lock()
	defer s.proxyMu.Unlock()
	for _, c := range s.viaProxy {
		c.CloseIdleConnections()
	}
	for _, c := range s.withCert {
		c.CloseIdleConnections()
	}
}

// NewSigner returns the Standard Webhooks Signer of s ("whsec_" followed by
// base64, as secret.Parse accepts it): "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>". It is safe for concurrent use. Its error names the
// format, never the secret.
func NewSigner(s string) (Signer, error) {
	key, err := secret.Parse(s)
	if err != nil {
		return nil, err
	}
	macs := sync.Pool{New: func() any { return &signer{mac: hmac.New(sha256.New, key)} }}
	return func(id, timestamp string, body []byte) (string, error) {
		sg := macs.Get().(*signer)
		defer macs.Put(sg)
		return sg.sign(id, timestamp, body), nil
	}, nil
}

// signer computes Standard Webhooks signatures; pooled because an HMAC is
// not safe for concurrent use.
type signer struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

// sign returns the webhook-signature value for one attempt.
func (sg *signer) sign(id, timestamp string, body []byte) string {
	sg.mac.Reset()
	sg.buf = append(sg.buf[:0], id...)
	sg.buf = append(sg.buf, '.')
	sg.buf = append(sg.buf, timestamp...)
	sg.buf = append(sg.buf, '.')
	sg.mac.Write(sg.buf)
	sg.mac.Write(body)
	sg.sum = sg.mac.Sum(sg.sum[:0])
	sg.buf = append(sg.buf[:0], "v1,"...)
	sg.buf = base64.StdEncoding.AppendEncode(sg.buf, sg.sum)
	return string(sg.buf)
}

// nopObserver is the Observer used when none is configured.
type nopObserver struct{}

func (nopObserver) Attempt(int)  {}
func (nopObserver) Retry()       {}
func (nopObserver) ProxyBurned() {}
