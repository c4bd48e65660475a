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
	// Deferred means the delivery is not over: the next attempt is due
	// after Result.Defer, longer than Config.DeferAfter. The caller hands
	// the job back and sends it again later with Prior set from the Result.
	// It is never a terminal outcome.
	Deferred Outcome = "deferred"
	// Interrupted means the delivery's context ended before it was over
	// (before an attempt, during one, or while waiting to retry). The
	// caller hands the job back with the Result's Progress. It is never a
	// terminal outcome.
	Interrupted Outcome = "interrupted"
)

// Terminal reports whether o ends a job: delivered, failed or rejected.
func (o Outcome) Terminal() bool {
	return o == Delivered || o == Failed || o == Rejected
}

// Request is one delivery to make. The zero values of Timeout, MaxRetries and
// MaxProxyRetries mean the Sender's configured values; a negative MaxRetries or
// MaxProxyRetries means none.
type Request struct {
	// ID is the job id, sent as webhook-id on every attempt.
	ID string
	// URLs holds one destination, or a pool used round-robin across requests
	// that share the same list.
	URLs []string
	// Destinations, when it holds one entry per URLs entry, are URLs
	// already parsed (job.Decode parses them): Send uses them instead of
	// parsing URLs again. They are only read. A caller that changes URLs
	// clears it.
	Destinations []*url.URL
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
	// Sign, when set, signs every attempt in place of the Sender's own
	// signing secret (see Signer); it is not called when Unsigned is set.
	Sign Signer
	// Schedule, when not nil, is the wait before each retry, one retry per
	// entry, in place of the Sender's exponential backoff and the retry
	// budget MaxRetries; empty means no retry. No retry waits less than
	// Config.BackoffMin whatever it says.
	Schedule []time.Duration
	// RetryAfter, when set, replaces how a 429 or 503 response's wait is
	// read (the Retry-After header, see ParseRetryAfter).
	RetryAfter RetryAfter
	// ClientCert, when set, is the TLS client certificate every attempt
	// presents.
	ClientCert *ClientCert
	// Authorize, when set, gives every attempt its Authorization header;
	// after a 401 it is asked for a new one and the attempt is made again
	// at once, once per Send, without counting as a retry.
	Authorize Authorizer
	// OnAttempt, when set, is told of every HTTP attempt once its outcome
	// is known. It runs on the goroutine of Send and delays the delivery
	// while it runs.
	OnAttempt func(Attempt)
	// Pacer, when set, is asked before every attempt and told of every response.
	Pacer Pacer
	// Prior carries what earlier deliveries of the same job already spent, so
	// that budgets and counts hold across redeliveries.
	Prior Progress
	// Check, when set, is called before every attempt of this Send but its
	// first (the caller checks before it calls Send), once the attempt may
	// start: an error ends the delivery Failed with the error as its
	// message, and nothing more is sent. An event job's check is that its
	// endpoint still exists and is enabled.
	Check func(context.Context) error
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
	// Truncated reports that Response is only part of the body (see
	// Result.Truncated).
	Truncated bool
	// URL is the destination of the last attempt, redacted, so that a job
	// whose worker died still reports where it was sent.
	URL string
}

// Result is the account of one Send: terminal (delivered, failed,
// rejected), or not over (deferred, interrupted; see Outcome.Terminal).
type Result struct {
	// OK is true exactly when Outcome is Delivered.
	OK bool
	// Outcome is how the delivery ended, or why it stopped before its end.
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
	// Truncated reports that Response holds only part of the body: the
	// body was longer than the 64 KiB kept, or it was cut off before its
	// end (the connection ended, or the body could not be read to its
	// end). The status is what the receiver answered either way.
	Truncated bool
	// Proxy is host:port of the proxy used last, empty without one.
	Proxy string
	// StartedAt is when Send began this delivery; FinishedAt when it ended.
	StartedAt  time.Time
	FinishedAt time.Time
	// Defer is, when Outcome is Deferred, the wait before the next
	// attempt; zero otherwise.
	Defer time.Duration
}

// Duration is how long the delivery took.
func (r Result) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// Progress returns what this result spent, to be carried into Request.Prior
// when the job is sent again after a deferral.
func (r Result) Progress() Progress {
	return Progress{Attempts: r.Attempts, Retries: r.Retries, Status: r.Status, Response: r.Response, Truncated: r.Truncated, URL: r.URL}
}

// ProxyProvider hands out proxies. proxies.Pool is the built-in one.
type ProxyProvider interface {
	// Get returns the next proxy to use, or an error when none is available.
	// An error with a method RetryIn() time.Duration says that every proxy
	// is cooling down and when the first is back: the delivery waits for it
	// (or is deferred when that is longer than Config.DeferAfter) instead
	// of failing.
	Get() (*url.URL, error)
	// Burn takes a proxy out of rotation after it could not be reached or
	// did not answer. A timeout after the proxy connected to the
	// destination (it answered CONNECT, or the request was forwarded) is
	// the destination's, and burns nothing.
	Burn(*url.URL)
}

// Pacer spaces requests to destinations with rate limits it has learned.
type Pacer interface {
	// Wait blocks until a request to u may be sent, or ctx ends. An error
	// with a method RetryIn() time.Duration says that u is not worth
	// waiting for now: the delivery is deferred by that wait, whatever
	// Config.DeferAfter says. Any other error fails the delivery.
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

// Signer returns the webhook-signature header value of one attempt, signing
// id, timestamp (Unix seconds) and body. An error fails the delivery with
// nothing sent: a request meant to be signed never goes out unsigned.
// NewSigner builds the Standard Webhooks one.
type Signer func(id, timestamp string, body []byte) (string, error)

// RetryAfter reads the wait a 429 or 503 response asks for from its header and
// body (at most 64 KiB of it); it reports false when the response asks for
// nothing usable.
type RetryAfter func(h http.Header, body []byte, now time.Time) (time.Duration, bool)

// AttemptOutcome is what one HTTP attempt led to.
type AttemptOutcome string

// The outcomes of an attempt.
const (
	// AttemptDelivered: the attempt got a 2xx.
	AttemptDelivered AttemptOutcome = "delivered"
	// AttemptRetry: another attempt follows (now, after a wait, after a
	// deferral, or after an interruption hands the job back).
	AttemptRetry AttemptOutcome = "retry"
	// AttemptFailed: the delivery ends without success.
	AttemptFailed AttemptOutcome = "failed"
)

// Attempt is one HTTP attempt, as Request.OnAttempt is told of it. Nothing
// in it holds a secret but Header, which is the request's own headers.
type Attempt struct {
	// ID is the request's ID.
	ID string
	// Number counts the attempts of the job from 1, Prior included.
	Number int
	// URL is the destination, redacted.
	URL string
	// Start is when the request was sent.
	Start time.Time
	// Header is the request's headers, signature included.
	Header http.Header
	// Status is the response status, 0 when no response came back.
	Status int
	// Response is the response body as in Result.Response.
	Response json.RawMessage
	// Error is why no response came back, or why the attempt failed.
	Error string
	// Duration is how long the attempt took.
	Duration time.Duration
	// Outcome is what the attempt led to.
	Outcome AttemptOutcome
}
