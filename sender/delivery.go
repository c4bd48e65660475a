package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/sethvargo/go-retry"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/hookworker/hookworker/internal/sleep"
	"github.com/hookworker/hookworker/redact"
)

// minProxyWait is the shortest wait for a proxy to come back.
const minProxyWait = 10 * time.Millisecond

// Send delivers req and returns its Result: delivered, failed, rejected,
// deferred when the next attempt is due later than Config.DeferAfter, or
// interrupted when ctx ends first. It is safe for concurrent use and never
// panics (a panic in the delivery path, a ProxyProvider, a Pacer, an
// Observer or a hook of req becomes a failed Result).
func (s *Sender) Send(ctx context.Context, req Request) (res Result) {
	d := &delivery{
		s:        s,
		req:      req,
		started:  s.now(),
		attempts: req.Prior.Attempts,
		retries:  req.Prior.Retries,
		status:   req.Prior.Status,
		response: req.Prior.Response,
		cut:      req.Prior.Truncated,
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
	maxRotations int
	// backoff is where every retry draws its wait from (see newBackoff).
	backoff retry.Backoff

	attempts  int
	retries   int
	rotations int
	status    int
	response  json.RawMessage
	cut       bool // response is only part of the body

	wait  time.Duration // before the next attempt
	cause string        // of the last attempt without response

	// renew asks the next attempt's Authorizer for a new credential;
	// renewed says a 401 has asked for one already in this Send.
	renew, renewed bool

	// span is the span of the attempt under way, nil when not tracing;
	// code is that attempt's status, 0 until a response comes.
	span oteltrace.Span
	code int

	done bool
	res  Result
}

// run checks the request, then makes attempts until one ends the delivery.
func (d *delivery) run(ctx context.Context) Result {
	if msg := d.prepare(); msg != "" {
		return d.result(Rejected, msg)
	}
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			if first {
				return d.result(Interrupted, "cancelled before the first attempt: "+err.Error())
			}
			return d.result(Interrupted, "cancelled while waiting to retry: "+err.Error())
		}
		d.attempt(ctx)
		if d.done {
			return d.res
		}
		if d.wait > 0 && !sleep.For(ctx, d.wait) {
			return d.result(Interrupted, "cancelled while waiting to retry: "+ctx.Err().Error())
		}
	}
}

// prepare parses and checks the destinations and settles the budgets. It
// returns why the request is rejected, or "".
func (d *delivery) prepare() string {
	s, req := d.s, &d.req
	if len(req.URLs) == 0 {
		return "no destination url"
	}
	d.urls = d.one[:0]
	parsed := len(req.Destinations) == len(req.URLs)
	for i, raw := range req.URLs {
		var u *url.URL
		if parsed && req.Destinations[i] != nil {
			u = req.Destinations[i]
		} else {
			var err error
			if u, err = url.Parse(raw); err != nil {
				return "invalid destination url"
			}
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
	d.maxRotations = budget(req.MaxProxyRetries, s.cfg.MaxProxyRetries)
	d.backoff = s.newBackoff(req)
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

// attempt makes one HTTP attempt. When the delivery is over it sets d.done
// (and d.res); else the next attempt is due after d.wait.
//
// attempt is on the stack while the request waits on its destination, so it
// keeps a small frame: what comes before the request is in begin, what comes
// after the response in answered.
func (d *delivery) attempt(ctx context.Context) {
	proxy, ok := d.begin(ctx)
	if !ok {
		return
	}
	actx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if d.s.tracer != nil {
		actx = d.startSpan(actx)
		defer d.endSpan()
	}
	hreq, err := d.newRequest(actx)
	if err != nil {
		d.finish(Failed, err.Error()+"; nothing sent")
		return
	}
	if err := d.authorize(actx, hreq.Header); err != nil {
		d.unauthorized(ctx, err)
		return
	}
	var t *trace
	if proxy != nil {
		t = traced(hreq)
	}
	start := time.Now()
	resp, err := d.s.clientWith(proxy, d.req.ClientCert).Do(hreq)
	if err != nil {
		d.noResponse(ctx, actx, err, proxy, t.connected(), hreq.Header, start)
		return
	}
	// answered closes the body; this covers a panic in an Observer or Pacer.
	defer resp.Body.Close()
	d.answered(resp, hreq.Header, start)
}

// begin readies an attempt to d.urls[d.cur]: it waits for the pacer, takes
// a proxy (waiting for one to come back when all are cooling down) and
// reports the progress of a retry. It returns the proxy (nil: direct), or
// false when the delivery is over.
func (d *delivery) begin(ctx context.Context) (*url.URL, bool) {
	s := d.s
	d.last = d.cur
	if p := d.req.Pacer; p != nil {
		if err := p.Wait(ctx, d.urls[d.cur]); err != nil {
			if ctx.Err() != nil {
				d.finish(Interrupted, "cancelled while pacing: "+ctx.Err().Error())
				return nil, false
			}
			var busy interface{ RetryIn() time.Duration }
			if errors.As(err, &busy) {
				// Not worth a wait in the slot: hand the job back.
				d.deferFor(max(busy.RetryIn(), minProxyWait), err.Error())
				return nil, false
			}
			d.finish(Failed, "pacing: "+err.Error())
			return nil, false
		}
	}
	var proxy *url.URL
	if s.cfg.Proxies != nil {
		p, ok := d.takeProxy(ctx)
		if !ok {
			return nil, false
		}
		proxy, d.proxy = p, p
	}
	if d.req.Check != nil && d.attempts > d.req.Prior.Attempts {
		if err := d.req.Check(ctx); err != nil {
			d.finish(Failed, err.Error())
			return nil, false
		}
	}
	if d.attempts > 0 && d.req.BeforeRetry != nil {
		p := Progress{Attempts: d.attempts + 1, Retries: d.retries, Status: d.status, Response: d.response, Truncated: d.cut}
		if d.last < len(d.req.URLs) {
			p.URL = redact.URL(d.req.URLs[d.last])
		}
		d.req.BeforeRetry(p)
	}
	return proxy, true
}

// takeProxy returns the proxy of the next attempt. When every proxy is
// cooling down it waits for the first to come back, or defers the delivery
// when that is longer than DeferAfter; any other error fails it.
func (d *delivery) takeProxy(ctx context.Context) (*url.URL, bool) {
	for {
		p, err := d.s.cfg.Proxies.Get()
		if err == nil && p != nil {
			return p, true
		}
		if err == nil {
			d.finish(Failed, "proxy provider returned no proxy")
			return nil, false
		}
		msg := err.Error()
		if d.cause != "" {
			msg += " (last error: " + d.cause + ")"
		}
		var cooling interface{ RetryIn() time.Duration }
		if !errors.As(err, &cooling) {
			d.finish(Failed, msg)
			return nil, false
		}
		wait := max(cooling.RetryIn(), minProxyWait)
		if limit := d.s.cfg.DeferAfter; limit > 0 && wait > limit {
			d.deferFor(wait, msg)
			return nil, false
		}
		if !sleep.For(ctx, wait) {
			d.finish(Interrupted, "cancelled while waiting for a proxy: "+ctx.Err().Error())
			return nil, false
		}
	}
}

// verdict is what the retry policy makes of one attempt.
type verdict int

// The verdicts of policy.
const (
	// deliver: the delivery succeeded.
	deliver verdict = iota
	// fail: the delivery ends without success.
	fail
	// backOff: retry after the backoff, counted against the retries.
	backOff
	// waitAsked: retry after the wait the response asked for, counted
	// against the retries.
	waitAsked
)

// policy decides what a response with status code means: a pure function
// of the response. askedOK reports that a 429 or a 503 asked for a wait
// (Retry-After); failover reports whether the next attempt goes to the next
// URL of a pool.
func policy(code int, askedOK bool) (v verdict, failover bool) {
	switch {
	case code >= 200 && code < 300:
		return deliver, false
	case code == http.StatusTooManyRequests && askedOK:
		return waitAsked, false
	case code == http.StatusServiceUnavailable && askedOK:
		return waitAsked, true
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code == http.StatusTooEarly:
		return backOff, false
	case code >= 500:
		return backOff, true
	default: // 3xx (not followed) and the other 4xx
		return fail, false
	}
}

// answered handles the response of an attempt to d.urls[d.last]: the
// delivery ends, or another attempt is due.
func (d *delivery) answered(resp *http.Response, hdr http.Header, start time.Time) {
	s := d.s
	d.attempts++
	code := resp.StatusCode
	d.code = code
	s.obs.Attempt(code)
	if p := d.req.Pacer; p != nil {
		p.Observe(d.urls[d.last], resp)
	}
	body, cut := readBody(resp.Body)
	d.status = code
	d.response, d.cut = jsonBody(body), cut
	d.cause = ""
	d.log(context.Background(), code, "")
	defer d.report(hdr, start, code, "")

	if code == http.StatusUnauthorized && d.req.Authorize != nil && !d.renewed {
		// The credential may have expired or been revoked: one more
		// attempt at once with a new one.
		d.renewed, d.renew, d.wait = true, true, 0
		return
	}
	var asked time.Duration
	askedOK := false
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		read := d.req.RetryAfter
		if read == nil {
			read = retryAfter
		}
		asked, askedOK = read(resp.Header, body, s.now())
	}
	v, failover := policy(code, askedOK)
	if failover {
		d.failover()
	}
	switch v {
	case deliver:
		d.finish(Delivered, "")
	case waitAsked:
		if limit := s.cfg.MaxRetryWait; limit > 0 && asked > limit {
			d.finish(Failed, fmt.Sprintf("%s: retry after %s is longer than the longest wait allowed (%s)", statusText(code), asked, limit))
			return
		}
		d.retry(asked, false, statusText(code))
	case backOff:
		d.retry(0, true, statusText(code))
	default:
		if code >= 300 && code < 400 {
			d.finish(Failed, statusText(code)+": redirects are not followed")
			return
		}
		d.finish(Failed, statusText(code))
	}
}

// noResponse handles an attempt that got no response: a refused
// destination, the end of ctx, a timeout or a connection error. A proxy is
// burned only when it is to blame: when it could not be reached or did not
// answer; a destination that does not answer through a proxy that reached
// it is retried like one that does not answer directly.
func (d *delivery) noResponse(ctx, actx context.Context, err error, proxy *url.URL, connected bool, hdr http.Header, start time.Time) {
	s := d.s
	var refused *refusal
	if errors.As(err, &refused) {
		if d.attempts > 0 {
			// An earlier attempt (to another URL of the pool, or before
			// the name resolved elsewhere) was sent: not a rejection.
			d.finish(Failed, refused.Error())
			return
		}
		// Nothing was sent.
		d.finish(Rejected, refused.Error())
		return
	}
	d.attempts++
	s.obs.Attempt(0)
	if ctx.Err() != nil {
		d.log(ctx, 0, "cancelled")
		d.finish(Interrupted, "cancelled during an attempt: "+ctx.Err().Error())
		d.report(hdr, start, 0, d.res.Error)
		return
	}
	cause := d.describe(err, actx, proxy)
	d.cause = cause
	d.log(ctx, 0, cause)
	defer d.report(hdr, start, 0, cause)
	d.failover()
	if proxy == nil || connected {
		d.retry(0, true, cause)
		return
	}
	s.cfg.Proxies.Burn(proxy)
	s.obs.ProxyBurned()
	if d.rotations >= d.maxRotations {
		d.finish(Failed, fmt.Sprintf("%s (proxy rotations exhausted: %d)", cause, d.rotations))
		return
	}
	d.rotations++
	d.wait = 0
}

// retry schedules another attempt, counted against the retries: it draws
// the next wait from the delivery's backoff, and waits that when backoff is
// set or wait is not positive, else wait; never less than BackoffMin. Every
// retry draws one wait, the one that waits as asked too, so that the
// backoff and its budget count every retry. It fails the delivery when the
// backoff has no retry left and defers it when the wait is longer than
// DeferAfter.
func (d *delivery) retry(wait time.Duration, backoff bool, cause string) {
	next, stop := d.backoff.Next()
	if stop {
		if d.retries == 0 {
			d.finish(Failed, cause)
			return
		}
		d.finish(Failed, fmt.Sprintf("%s (retries exhausted: %d)", cause, d.retries))
		return
	}
	if backoff || wait <= 0 {
		// A Retry-After of 0 or a date in the past asks for nothing.
		wait = next
	}
	wait = max(wait, d.s.cfg.BackoffMin)
	d.retries++
	d.s.obs.Retry()
	if limit := d.s.cfg.DeferAfter; limit > 0 && wait > limit {
		d.deferFor(wait, fmt.Sprintf("%s (retry deferred by %s)", cause, wait))
		return
	}
	d.wait = wait
}

// deferFor ends this Send with a deferral: the next attempt is due after
// wait.
func (d *delivery) deferFor(wait time.Duration, msg string) {
	d.finish(Deferred, msg)
	d.res.Defer = wait
}

// finish ends the delivery with outcome.
func (d *delivery) finish(outcome Outcome, msg string) {
	d.res = d.result(outcome, msg)
	d.done = true
}

// failover moves the next attempt to the next URL of the pool.
func (d *delivery) failover() {
	if len(d.urls) > 1 {
		d.cur = (d.cur + 1) % len(d.urls)
	}
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
		Truncated:  d.cut,
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
