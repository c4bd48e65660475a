package sender

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hookworker/hookworker/redact"
)

// report tells Request.OnAttempt of the attempt that just ended.
func (d *delivery) report(hdr http.Header, start time.Time, status int, cause string) {
	on := d.req.OnAttempt
	if on == nil {
		return
	}
	a := Attempt{
		ID: d.req.ID, Number: d.attempts, URL: redact.URL(d.req.URLs[d.last]), Start: start, Header: hdr,
		Status: status, Error: cause, Duration: time.Since(start), Outcome: AttemptRetry,
	}
	if status != 0 {
		a.Response = d.response
	}
	if d.done {
		switch d.res.Outcome {
		case Delivered:
			a.Outcome = AttemptDelivered
		case Deferred, Interrupted:
			// The job is handed back: another attempt follows.
		default:
			a.Outcome = AttemptFailed
			a.Error = d.res.Error
		}
	}
	on(a)
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
	msg := redact.Error(err.Error(), raw, proxy)
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
	if d.span != nil {
		attrs = append(attrs, slog.String("trace_id", d.span.SpanContext().TraceID().String()))
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
