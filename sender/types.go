package sender

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Outcome is how a delivery ended.
type Outcome string

// The outcomes a Result can carry. Only Delivered counts as success.
const (
	// Delivered means a 2xx response came back.
	Delivered Outcome = "delivered"
	// Failed means requests were sent (or tried) without success: a final 4xx, a
	// 3xx, exhausted retries or proxies.
	Failed Outcome = "failed"
	// Rejected means nothing was sent: the request itself is invalid or its
	// destination is not allowed.
	Rejected Outcome = "rejected"
)

// Request is one delivery to make. The zero values of Timeout, MaxRetries and
// MaxProxyRetries mean the Sender's configured values; a negative MaxRetries or
// MaxProxyRetries means none.
type Request struct {
	// ID is the job id, sent as webhook-id on every attempt.
	ID string
	// URLs holds one destination, or a pool used round-robin across requests
	// that share the same list.
	URLs []string
	// Body is sent verbatim as the JSON request body.
	Body []byte
	// Header holds extra request headers.
	Header http.Header
	// Timeout bounds one HTTP attempt.
	Timeout time.Duration
	// MaxRetries bounds retries on 429, 408, 425, 5xx (and, without proxies,
	// on timeouts and connection errors).
	MaxRetries int
	// MaxProxyRetries bounds proxy rotations on timeouts and connection errors.
	MaxProxyRetries int
	// Unsigned leaves out the Standard Webhooks headers (webhook-id,
	// webhook-timestamp, webhook-signature). Discord requests set it.
	Unsigned bool
	// Pacer, when set, is asked before every attempt and told of every response.
	Pacer Pacer
	// Prior carries what earlier deliveries of the same job already spent, so
	// that budgets and counts hold across redeliveries.
	Prior Progress
	// BeforeRetry, when set, is called before every attempt of the job but
	// its very first (that is, when Prior or this Send already counts an
	// attempt), with the Progress counting the attempt about to start. A
	// caller records it where a crash cannot lose it, so that the attempts
	// and retries spent survive the process. It runs on the goroutine of
	// Send, before the attempt's timeout starts, and delays the attempt
	// while it runs. A first attempt never calls it.
	BeforeRetry func(Progress)
}

// Progress counts what a job has spent so far.
type Progress struct {
	// Attempts is the number of HTTP attempts made.
	Attempts int
	// Retries is the number of retries used against MaxRetries.
	Retries int
	// Status and Response are the last response seen, carried so that a job
	// that ends after a deferral still reports them.
	Status   int
	Response json.RawMessage
}

// Result is the terminal account of one delivery, or a deferral (Defer > 0).
type Result struct {
	// OK is true exactly when Outcome is Delivered.
	OK bool
	// Outcome is how the delivery ended; see Defer for a delivery that has
	// not ended.
	Outcome Outcome
	// Status is the final HTTP status, 0 when no response came back.
	Status int
	// URL is the destination used last, redacted.
	URL string
	// Attempts counts HTTP attempts, including Prior.Attempts.
	Attempts int
	// Retries counts retries used, including Prior.Retries.
	Retries int
	// Error is a short cause on failure, empty on success. It never holds a
	// secret.
	Error string
	// Response is the final response body as JSON: the body itself if it is
	// valid JSON, else a JSON string, nil when there was none. At most 64 KiB
	// of the body is kept.
	Response json.RawMessage
	// Proxy is host:port of the proxy used last, empty without one.
	Proxy string
	// StartedAt is when Send began this delivery; FinishedAt when it ended.
	StartedAt  time.Time
	FinishedAt time.Time
	// Defer, when positive, means the delivery is not over: the next attempt is
	// due after this wait, which is longer than the Sender's DeferAfter. The
	// caller is expected to hand the job back and send it again later with
	// Prior set from this Result.
	Defer time.Duration
}

// Duration is how long the delivery took.
func (r Result) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// Progress returns what this result spent, to be carried into Request.Prior
// when the job is sent again after a deferral.
func (r Result) Progress() Progress {
	return Progress{Attempts: r.Attempts, Retries: r.Retries, Status: r.Status, Response: r.Response}
}

// ProxyProvider hands out proxies. proxies.Pool is the built-in one.
type ProxyProvider interface {
	// Get returns the next proxy to use, or an error when none is available.
	Get() (*url.URL, error)
	// Burn takes a proxy out of rotation after a timeout or connection error.
	Burn(*url.URL)
}

// Pacer spaces requests to destinations with rate limits it has learned.
type Pacer interface {
	// Wait blocks until a request to u may be sent, or ctx ends.
	Wait(ctx context.Context, u *url.URL) error
	// Observe is told of every response from u.
	Observe(u *url.URL, resp *http.Response)
}

// Observer is told of what deliveries do, for metrics. Its methods must be
// safe for concurrent use and fast.
type Observer interface {
	// Attempt is called after each HTTP attempt; status is 0 when no response
	// came back.
	Attempt(status int)
	// Retry is called when a retry is scheduled.
	Retry()
	// ProxyBurned is called when a proxy is burned.
	ProxyBurned()
}
