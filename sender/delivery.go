package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookworker/hookworker/redact"
	"github.com/sethvargo/go-retry"
)

// Bounds on response bodies: what is kept for the Result, and what is read
// past it (and thrown away) so that the connection can be reused.
const (
	maxKeptBody    = 64 << 10
	maxDrainedBody = 1 << 20
)

// backoffJitter is the jitter applied to every backoff, in percent.
const backoffJitter = 25

// errRetry tells retry.Do that the attempt asks for another one after
// delivery.wait.
var errRetry = retry.RetryableError(errors.New("retry"))

// Shared header values; net/http only reads them.
var jsonContentType = []string{"application/json"}

// Send delivers req and returns its Result: delivered, failed, rejected, or
// failed with Defer set when the next retry is due later than
// Config.DeferAfter. It is safe for concurrent use, never panics (a panic in
// the delivery path, a ProxyProvider, a Pacer or an Observer becomes a failed
// Result) and returns early, with a failed Result, when ctx ends.
func (s *Sender) Send(ctx context.Context, req Request) (res Result) {
	d := &delivery{
		s:        s,
		req:      req,
		started:  s.now(),
		attempts: req.Prior.Attempts,
		retries:  req.Prior.Retries,
		status:   req.Prior.Status,
		response: req.Prior.Response,
	}
	defer func() {
		if v := recover(); v != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "panic during delivery",
				slog.String("job_id", req.ID),
				slog.String("panic_type", fmt.Sprintf("%T", v)),
				slog.String("stack", string(debug.Stack())))
			res = d.result(Failed, "internal error: panic during delivery")
		}
	}()
	return d.run(ctx)
}

// delivery is the state of one Send.
type delivery struct {
	s       *Sender
	req     Request
	started time.Time

	one  [1]*url.URL // backs urls for a single destination
	urls []*url.URL  // parsed req.URLs
	cur  int         // index of the URL the next attempt goes to
	last int         // index of the URL used last
	// proxy is the proxy used last.
	proxy *url.URL

	timeout      time.Duration
	maxRetries   int
	maxRotations int

	attempts  int
	retries   int
	rotations int
	status    int
	response  json.RawMessage

	backoff retry.Backoff
	wait    time.Duration // before the next attempt
	cause   string        // of the last attempt without response

	done bool
	res  Result
}

// run checks the request, then makes attempts until one ends the delivery.
func (d *delivery) run(ctx context.Context) Result {
	if msg := d.prepare(); msg != "" {
		return d.result(Rejected, msg)
	}
	sentBefore := d.attempts
	err := retry.Do(ctx, retry.BackoffFunc(d.nextWait), d.attempt)
	if d.done {
		return d.res
	}
	// retry.Do only returns without a final result when ctx ended before
	// the first attempt or during a wait.
	if err == nil {
		err = errors.New("delivery ended without a result")
	}
	if ctx.Err() != nil {
		if d.attempts == sentBefore {
			return d.result(Failed, "cancelled before the first attempt: "+ctx.Err().Error())
		}
		return d.result(Failed, "cancelled while waiting to retry: "+ctx.Err().Error())
	}
	return d.result(Failed, err.Error())
}

// prepare parses and checks the destinations and settles the budgets. It
// returns why the request is rejected, or "".
func (d *delivery) prepare() string {
	s, req := d.s, &d.req
	if len(req.URLs) == 0 {
		return "no destination url"
	}
	d.urls = d.one[:0]
	for _, raw := range req.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			return "invalid destination url"
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Sprintf("destination url scheme %q is not http or https", u.Scheme)
		}
		if u.Hostname() == "" {
			return "destination url has no host"
		}
		if err := s.guard.checkURL(u, s.cfg.Proxies != nil); err != nil {
			d.last = len(d.urls)
			d.urls = append(d.urls, u)
			return err.Error()
		}
		d.urls = append(d.urls, u)
	}
	d.cur = s.cursors.start(req.URLs)
	d.last = d.cur

	d.timeout = s.cfg.Timeout
	if req.Timeout > 0 {
		d.timeout = req.Timeout
	}
	d.maxRetries = budget(req.MaxRetries, s.cfg.MaxRetries)
	d.maxRotations = budget(req.MaxProxyRetries, s.cfg.MaxProxyRetries)
	return ""
}

// budget returns the request's own limit when set (negative: none), else
// the configured one.
func budget(own, configured int) int {
	switch {
	case own < 0:
		return 0
	case own > 0:
		return own
	default:
		return configured
	}
}

// nextWait is the retry.Backoff of the delivery: the wait the last attempt
// asked for.
func (d *delivery) nextWait() (time.Duration, bool) { return d.wait, false }

// attempt makes one HTTP attempt. It returns errRetry when another attempt is
// due after d.wait, and nil when the delivery is over (d.res is set).
//
// attempt is on the stack while the request waits on its destination, so it
// keeps a small frame: what comes before the request is in begin, what comes
// after the response in answered.
func (d *delivery) attempt(ctx context.Context) error {
	proxy, ok := d.begin(ctx)
	if !ok {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	hreq, err := d.newRequest(actx)
	if err != nil {
		return d.finish(Failed, "build request: "+err.Error())
	}
	resp, err := d.s.clientFor(proxy).Do(hreq)
	if err != nil {
		return d.noResponse(ctx, actx, err, proxy)
	}
	// answered closes the body; this covers a panic in an Observer or Pacer.
	defer resp.Body.Close()
	return d.answered(ctx, resp)
}

// begin readies an attempt to d.urls[d.cur]: it waits for the pacer, takes
// a proxy and reports the progress of a retry. It returns the proxy (nil:
// direct), or false when the delivery is over.
func (d *delivery) begin(ctx context.Context) (*url.URL, bool) {
	s := d.s
	d.last = d.cur
	if p := d.req.Pacer; p != nil {
		if err := p.Wait(ctx, d.urls[d.cur]); err != nil {
			if ctx.Err() != nil {
				d.finish(Failed, "cancelled while pacing: "+ctx.Err().Error())
				return nil, false
			}
			d.finish(Failed, "pacing: "+err.Error())
			return nil, false
		}
	}
	var proxy *url.URL
	if s.cfg.Proxies != nil {
		p, err := s.cfg.Proxies.Get()
		if err != nil {
			msg := err.Error()
			if d.cause != "" {
				msg += " (last error: " + d.cause + ")"
			}
			d.finish(Failed, msg)
			return nil, false
		}
		if p == nil {
			d.finish(Failed, "proxy provider returned no proxy")
			return nil, false
		}
		proxy, d.proxy = p, p
	}
	if d.attempts > 0 && d.req.BeforeRetry != nil {
		d.req.BeforeRetry(Progress{Attempts: d.attempts + 1, Retries: d.retries, Status: d.status, Response: d.response})
	}
	return proxy, true
}

// answered handles the response of an attempt to d.urls[d.last]: the
// delivery ends, or another attempt is due.
func (d *delivery) answered(ctx context.Context, resp *http.Response) error {
	s := d.s
	d.attempts++
	code := resp.StatusCode
	s.obs.Attempt(code)
	if p := d.req.Pacer; p != nil {
		p.Observe(d.urls[d.last], resp)
	}
	body := readBody(resp.Body)
	d.status = code
	d.response = jsonBody(body)
	d.cause = ""
	d.log(ctx, code, "")

	switch {
	case code >= 200 && code < 300:
		return d.finish(Delivered, "")
	case code == http.StatusTooManyRequests:
		wait, asked := retryAfter(resp.Header, body, s.now())
		if !asked {
			return d.retry(d.nextBackoff(), statusText(code))
		}
		if limit := s.cfg.MaxRetryWait; limit > 0 && wait > limit {
			return d.finish(Failed, fmt.Sprintf("%s: retry after %s is longer than the longest wait allowed (%s)", statusText(code), wait, limit))
		}
		return d.retry(wait, statusText(code))
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly:
		return d.retry(d.nextBackoff(), statusText(code))
	case code >= 500:
		d.failover()
		return d.retry(d.nextBackoff(), statusText(code))
	case code >= 300 && code < 400:
		return d.finish(Failed, statusText(code)+": redirects are not followed")
	default:
		return d.finish(Failed, statusText(code))
	}
}

// noResponse handles an attempt that got no response: a refused
// destination, the end of ctx, a timeout or a connection error.
func (d *delivery) noResponse(ctx, actx context.Context, err error, proxy *url.URL) error {
	s := d.s
	var refused *refusal
	if errors.As(err, &refused) {
		if d.attempts > 0 {
			// An earlier attempt (to another URL of the pool, or before
			// the name resolved elsewhere) was sent: not a rejection.
			return d.finish(Failed, refused.Error())
		}
		// Nothing was sent.
		return d.finish(Rejected, refused.Error())
	}
	d.attempts++
	s.obs.Attempt(0)
	if ctx.Err() != nil {
		d.log(ctx, 0, "cancelled")
		return d.finish(Failed, "cancelled during an attempt: "+ctx.Err().Error())
	}
	cause := d.describe(err, actx, proxy)
	d.cause = cause
	d.log(ctx, 0, cause)
	d.failover()
	if proxy == nil {
		return d.retry(d.nextBackoff(), cause)
	}
	s.cfg.Proxies.Burn(proxy)
	s.obs.ProxyBurned()
	if d.rotations >= d.maxRotations {
		return d.finish(Failed, fmt.Sprintf("%s (proxy rotations exhausted: %d)", cause, d.rotations))
	}
	d.rotations++
	d.wait = 0
	return errRetry
}

// retry schedules another attempt after wait, counted against the retry
// budget: it fails the delivery when the budget is spent and defers it when
// wait is longer than DeferAfter.
func (d *delivery) retry(wait time.Duration, cause string) error {
	if d.retries >= d.maxRetries {
		if d.maxRetries == 0 {
			return d.finish(Failed, cause)
		}
		return d.finish(Failed, fmt.Sprintf("%s (retries exhausted: %d)", cause, d.retries))
	}
	d.retries++
	d.s.obs.Retry()
	if limit := d.s.cfg.DeferAfter; limit > 0 && wait > limit {
		d.res = d.result(Failed, fmt.Sprintf("%s (retry deferred by %s)", cause, wait))
		d.res.Defer = wait
		d.done = true
		return nil
	}
	d.wait = wait
	return errRetry
}

// finish ends the delivery with outcome.
func (d *delivery) finish(outcome Outcome, msg string) error {
	d.res = d.result(outcome, msg)
	d.done = true
	return nil
}

// failover moves the next attempt to the next URL of the pool.
func (d *delivery) failover() {
	if len(d.urls) > 1 {
		d.cur = (d.cur + 1) % len(d.urls)
	}
}

// nextBackoff returns the exponential backoff for the next retry: BackoffMin
// doubled for every retry already used, with jitter, within [BackoffMin,
// BackoffMax].
func (d *delivery) nextBackoff() time.Duration {
	lo, hi := d.s.cfg.BackoffMin, d.s.cfg.BackoffMax
	if d.backoff == nil {
		exp := retry.BackoffFunc(func() (time.Duration, bool) {
			w := lo
			for i := 0; i < d.retries && w < hi; i++ {
				w *= 2
			}
			return w, false
		})
		d.backoff = retry.WithJitterPercent(backoffJitter, retry.WithCappedDuration(hi, exp))
	}
	w, _ := d.backoff.Next()
	return min(max(w, lo), hi)
}

// result builds the Result of the delivery as it stands.
func (d *delivery) result(outcome Outcome, msg string) Result {
	r := Result{
		OK:         outcome == Delivered,
		Outcome:    outcome,
		Status:     d.status,
		Attempts:   d.attempts,
		Retries:    d.retries,
		Error:      msg,
		Response:   d.response,
		StartedAt:  d.started,
		FinishedAt: d.s.now(),
	}
	switch {
	case d.last < len(d.urls) && d.last < len(d.req.URLs):
		r.URL = redact.URL(d.req.URLs[d.last])
	case len(d.req.URLs) > 0:
		r.URL = redact.URL(d.req.URLs[0])
	}
	if d.proxy != nil {
		r.Proxy = redact.Proxy(d.proxy)
	}
	return r
}

// newRequest builds the HTTP request of one attempt.
func (d *delivery) newRequest(ctx context.Context) (*http.Request, error) {
	s, req := d.s, &d.req
	// The destination was parsed and checked in prepare: the request gets
	// that URL rather than parsing it again (net/http only reads it).
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	hreq.URL = d.urls[d.cur]
	hreq.Host = strings.TrimSuffix(hreq.URL.Host, ":") // as NewRequest sets it
	h := make(http.Header, len(req.Header)+5)
	h["User-Agent"] = s.ua
	for k, v := range req.Header {
		k = http.CanonicalHeaderKey(k)
		if protectedHeader(k) {
			continue
		}
		h[k] = v
	}
	h["Content-Type"] = jsonContentType
	if !req.Unsigned {
		ts := strconv.FormatInt(s.now().Unix(), 10)
		vals := make([]string, 3) // one allocation for the three values
		vals[0], vals[1] = req.ID, ts
		h["Webhook-Id"] = vals[0:1:1]
		h["Webhook-Timestamp"] = vals[1:2:2]
		if s.signKey != nil {
			vals[2] = s.sign(req.ID, ts, req.Body)
			h["Webhook-Signature"] = vals[2:3:3]
		}
	}
	hreq.Header = h
	return hreq, nil
}

// protectedHeader reports whether the canonical header key k is set by the
// Sender only.
func protectedHeader(k string) bool {
	switch k {
	case "Content-Length", "Content-Type", "Host", "Transfer-Encoding":
		return true
	}
	return strings.HasPrefix(k, "Webhook-")
}

// describe turns the error of an attempt without response into a short
// cause that names the redacted URL and never the raw one. net/http's
// *url.Error embeds the raw URL, so only its cause is used.
func (d *delivery) describe(err error, actx context.Context, proxy *url.URL) string {
	raw := d.req.URLs[d.last]
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return "post " + redact.URL(raw) + ": timeout after " + d.timeout.String()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if strings.Contains(msg, raw) {
		msg = strings.ReplaceAll(msg, raw, redact.URL(raw))
	}
	if proxy != nil && proxy.User != nil {
		if pw, ok := proxy.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "REDACTED")
		}
	}
	if proxy != nil {
		return "post " + redact.URL(raw) + " via proxy " + redact.Proxy(proxy) + ": " + msg
	}
	return "post " + redact.URL(raw) + ": " + msg
}

// log writes the debug line of one attempt.
func (d *delivery) log(ctx context.Context, status int, cause string) {
	lg := d.s.log
	if !lg.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("job_id", d.req.ID),
		slog.String("url", redact.URL(d.req.URLs[d.last])),
		slog.Int("status", status),
		slog.Int("attempt", d.attempts),
	}
	if d.proxy != nil {
		attrs = append(attrs, slog.String("proxy", redact.Proxy(d.proxy)))
	}
	if cause != "" {
		attrs = append(attrs, slog.String("error", cause))
	}
	lg.LogAttrs(ctx, slog.LevelDebug, "delivery attempt", attrs...)
}

// statusText names an HTTP status: "status 503 Service Unavailable".
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return "status " + strconv.Itoa(code) + " " + t
	}
	return "status " + strconv.Itoa(code)
}

// bodyBuffers holds buffers for reading response bodies.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody returns up to maxKeptBody bytes of a response body (nil when
// empty), reads up to maxDrainedBody more so that the connection can be
// reused, and closes it.
func readBody(rc io.ReadCloser) []byte {
	defer rc.Close()
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer bodyBuffers.Put(buf)
	buf.Reset()
	_, _ = buf.ReadFrom(io.LimitReader(rc, maxKeptBody))
	_, _ = io.CopyN(io.Discard, rc, maxDrainedBody)
	if buf.Len() == 0 {
		return nil
	}
	return bytes.Clone(buf.Bytes())
}

// jsonBody returns body as JSON: itself when it is valid JSON, else a JSON
// string, nil when empty.
func jsonBody(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	if json.Valid(body) {
		return body
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(string(body)); err != nil {
		return nil
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}
