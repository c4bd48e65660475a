// Package endpoint delivers event jobs: the jobs the fan-out makes, one
// per event and endpoint.
//
// Webhooks takes every webhook job. A plain one goes to the sender as it
// is. An event job is sent only if its endpoint still exists and is enabled
// when its turn comes (else it fails, nothing sent); its webhook-id is the
// event's id, the same for every endpoint and every retry; it goes only to
// an endpoint of the event's tenant (an endpoint deleted and made again
// with the same id for another tenant gets nothing); each attempt is
// signed with the endpoint's secrets as they are when it is signed, so that
// a rotation applies to retries and, during the grace period, the old
// secret signs too. Its retries follow the job's own retry schedule, else
// the endpoint's retry_schedule, else the worker's; each attempt is bounded
// by the job's own timeout, else the endpoint's timeout cut to the worker's
// (Config.MaxTimeout), else the worker's. An endpoint's auth is presented
// on every attempt: its client certificate, or a bearer token got with its
// OAuth2 client credentials. A 410 Gone disables the endpoint, and so does
// every delivery to it failing for Config.DisableAfter.
//
// An endpoint's delivery policy applies as its job is sent: with a
// rate_limit, every attempt first takes a slot of the endpoint's limit
// (Config.Limiter), shared by every worker, and a job whose slot is not
// near is deferred, holding no slot of the worker; the job of an ordered
// endpoint starts its first attempt only in its turn (Config.Gate), once
// the jobs before it are over, and tells the gate when it is over or
// deferred. An endpoint that sets neither costs neither a look-up nor a
// round trip.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/ordering"
	"github.com/hookworker/hookworker/internal/ratelimit"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/redact"
	"github.com/hookworker/hookworker/sender"
)

// Catalog is what Webhooks needs of the endpoint catalog;
// *catalog.Catalog satisfies it.
type Catalog interface {
	// Deliverable returns the endpoint as a delivery must see it;
	// catalog.ErrNotFound when it was deleted.
	Deliverable(ctx context.Context, id string) (catalog.Endpoint, error)
	// MirroredSigningSecrets returns the endpoint's signing secrets at now,
	// without a request; false when it does not know the endpoint.
	MirroredSigningSecrets(id string, now time.Time) ([]string, bool)
	// SigningSecrets returns the endpoint's signing secrets at now.
	SigningSecrets(ctx context.Context, id string, now time.Time) ([]string, error)
	// MirroredCredentials returns the credentials of the endpoint's auth,
	// without a request; false when it does not know the endpoint or the
	// endpoint has no auth.
	MirroredCredentials(id string) (catalog.Credentials, bool)
	// Credentials returns the credentials of the endpoint's auth; false
	// when it has none.
	Credentials(ctx context.Context, id string) (catalog.Credentials, bool, error)
	// Failed records a failed delivery and returns since when every
	// delivery to the endpoint has failed.
	Failed(ctx context.Context, id string, at time.Time) (time.Time, error)
	// FailingSince returns, read from the store, since when every
	// delivery to the endpoint has failed; false when it is not failing.
	FailingSince(ctx context.Context, id string) (time.Time, bool, error)
	// Succeeded records a successful delivery.
	Succeeded(ctx context.Context, id string) error
	// Disable disables the endpoint and publishes the operational event.
	Disable(ctx context.Context, id, reason string) error
	// AlertFailing raises, and publishes, the failing alert of the
	// endpoint when every delivery to it has failed for at least after by
	// at and the alert is not raised already for this streak.
	AlertFailing(ctx context.Context, id string, after time.Duration, at time.Time, lastErr string) (bool, error)
}

var _ Catalog = (*catalog.Catalog)(nil)

// Limiter holds endpoints to their rate limits across every worker;
// *ratelimit.Limiter satisfies it.
type Limiter interface {
	// Pacer returns the pacer that takes a slot of endpoint's limit of
	// rate requests per second before each attempt.
	Pacer(endpoint string, rate int) sender.Pacer
}

// Gate lets the jobs of an ordered endpoint start in turn;
// *ordering.Gate satisfies it.
type Gate interface {
	// Turn waits until job, of stream sequence seq, is the next of
	// endpoint's to start; an error with a method RetryIn() time.Duration
	// says to defer the job by it.
	Turn(ctx context.Context, endpoint, job string, seq uint64) error
	// Finished says job of endpoint reached its terminal outcome.
	Finished(endpoint, job string)
	// Deferred says job of endpoint was deferred by d.
	Deferred(endpoint, job string, d time.Duration)
}

var (
	_ Limiter = (*ratelimit.Limiter)(nil)
	_ Gate    = (*ordering.Gate)(nil)
)

// Send delivers one request; (*sender.Sender).Send is one.
type Send func(ctx context.Context, req sender.Request) sender.Result

// DefaultSchedule is the Standard Webhooks retry schedule, about three
// days long.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// GoneReason is the disabled_reason of an endpoint that answered 410 Gone.
const GoneReason = "the endpoint answered 410 Gone"

// unavailableWait is how long an event job whose endpoint could not be read
// waits before it is tried again.
const unavailableWait = 5 * time.Second

// Config is what Webhooks is built from. Catalog and Send are required.
type Config struct {
	// Catalog holds the endpoints and their secrets.
	Catalog Catalog
	// Send delivers the requests.
	Send Send
	// Schedule is the wait before each retry of an event job that carries
	// no retry_schedule of its own; nil means DefaultSchedule, empty no
	// retry.
	Schedule []time.Duration
	// DisableAfter disables an endpoint every delivery to which has failed
	// for this long; zero never does.
	DisableAfter time.Duration
	// AlertAfter raises the failing alert of an endpoint every delivery to
	// which has failed for this long, once per streak (the catalog
	// publishes the recovered alert when one succeeds again); zero never
	// does.
	AlertAfter time.Duration
	// MaxTimeout is the longest an endpoint's timeout may bound an
	// attempt: the worker's own per-attempt timeout. Zero means no limit.
	MaxTimeout time.Duration
	// MaxSchedule is the longest an endpoint's retry schedule may span,
	// its waits summed, as consumer.Limits.MaxSchedule is for a job's: the
	// entries past it are cut. Zero means no limit.
	MaxSchedule time.Duration
	// TokenClient fetches the OAuth2 tokens of endpoints; nil means one
	// with a 10s timeout. The sender's client ((*sender.Sender).Client)
	// applies the workers' address policy to the token endpoint too.
	TokenClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what the catalog could not record; nil discards.
	Logger *slog.Logger
	// Limiter, when set, holds the endpoints that have a rate_limit to
	// it; nil sends to them unpaced.
	Limiter Limiter
	// Gate, when set, lets an ordered endpoint's jobs start in turn; nil
	// sends them as they come.
	Gate Gate
}

// Webhooks delivers webhook jobs, plain and event ones. Its Prepare method
// is the worker's Deliverer of the webhook type.
type Webhooks struct {
	cfg Config

	mu      sync.Mutex
	signers map[string]sender.Signer // by secret

	auths auths
}

// maxSigners bounds the signers kept: past it, the cache starts afresh.
const maxSigners = 4096

// New returns the Webhooks configured by cfg.
func New(cfg Config) (*Webhooks, error) {
	if cfg.Catalog == nil || cfg.Send == nil {
		return nil, errors.New("endpoint: catalog and send are required")
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TokenClient == nil {
		cfg.TokenClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Webhooks{cfg: cfg, signers: map[string]sender.Signer{},
		auths: auths{client: cfg.TokenClient, certs: map[string]*sender.ClientCert{}, tokens: map[string]*tokenSource{}}}, nil
}

// Prepare returns the send of webhook job j: the Sender's own for a plain
// job, the endpoint's delivery for an event job. It refuses nothing: an
// event job's endpoint is looked up when the job's turn comes.
func (d *Webhooks) Prepare(j *job.Job) (func(context.Context, sender.Request) sender.Result, error) {
	if j.Endpoint == "" || j.Event == nil {
		return d.cfg.Send, nil
	}
	ep, ev, jobID, tenant := j.Endpoint, *j.Event, j.ID, j.Tenant
	var turn uint64 // the job's place in its ordered endpoint's line; 0: none
	if j.Ordered && d.cfg.Gate != nil {
		turn = max(j.Sequence, 1)
	}
	return func(ctx context.Context, req sender.Request) sender.Result {
		return d.deliver(ctx, req, jobID, ep, tenant, ev, turn)
	}, nil
}

// Plain delivers plain webhook jobs through Send as they are, with no
// catalog behind it: an event job's endpoint and event are not looked at.
// It is the webhook Deliverer of a worker that serves no events (a
// benchmark's, a test's).
type Plain struct {
	// Send delivers the requests.
	Send Send
}

// Prepare returns Send: it refuses nothing.
func (p Plain) Prepare(*job.Job) (func(context.Context, sender.Request) sender.Result, error) {
	return p.Send, nil
}

// tellGate tells the gate what became of job of ordered endpoint id, in
// its turn: over, deferred, or neither (interrupted: it is still the next).
func (d *Webhooks) tellGate(id, job string, r sender.Result) {
	switch {
	case r.Outcome.Terminal():
		d.cfg.Gate.Finished(id, job)
	case r.Outcome == sender.Deferred:
		d.cfg.Gate.Deferred(id, job, r.Defer)
	}
}

// deliver sends one event job's request to endpoint id, of the event's
// tenant ("" for none); the first attempt of an ordered job (turn, its
// stream sequence, not 0) waits for its turn.
func (d *Webhooks) deliver(ctx context.Context, req sender.Request, jobID, id, tenant string, ev job.Event, turn uint64) sender.Result {
	ordered := turn != 0
	start := d.cfg.Now()
	ep, err := d.cfg.Catalog.Deliverable(ctx, id)
	if gone := unusable(id, tenant, ep, err); gone != nil {
		if ordered {
			d.cfg.Gate.Finished(id, jobID)
		}
		return notSent(req, start, sender.Failed, gone.Error()+"; nothing sent")
	}
	if err != nil {
		if ctx.Err() != nil {
			return notSent(req, start, sender.Interrupted, "interrupted before the endpoint was read")
		}
		d.cfg.Logger.Warn("read endpoint, job handed back", "job_id", jobID, "endpoint", id, "error", err)
		r := notSent(req, start, sender.Deferred, "endpoint could not be read")
		r.Defer = unavailableWait
		return r
	}
	// Every delivery of an ordered job asks for its turn, retries too: a
	// job that had its turn is the first of its line until it is over, and
	// has it again at once (one read); one whose worker died while it
	// waited has not had it, whatever attempts its lost delivery counts.
	if ordered {
		if err := d.cfg.Gate.Turn(ctx, id, jobID, turn); err != nil {
			return d.notYet(ctx, req, start, jobID, id, err)
		}
	}
	if ep.RateLimit > 0 && d.cfg.Limiter != nil {
		req.Pacer = d.cfg.Limiter.Pacer(id, ep.RateLimit)
	}
	// The request goes to the endpoint's URL as it is now, whatever the job
	// says: an endpoint's secret signs only what goes to the endpoint.
	if len(req.URLs) != 1 || req.URLs[0] != ep.URL {
		req.URLs, req.Destinations = []string{ep.URL}, nil
	}
	// Secrets are read again as each attempt is signed; these serve when
	// the catalog's mirror does not hold the endpoint yet.
	first, ok := d.cfg.Catalog.MirroredSigningSecrets(id, d.cfg.Now())
	if !ok {
		if first, err = d.cfg.Catalog.SigningSecrets(ctx, id, d.cfg.Now()); err != nil {
			r := notSent(req, start, sender.Deferred, "endpoint secrets could not be read")
			r.Defer = unavailableWait
			return r
		}
	}
	req.ID = ev.ID
	req.Sign = func(msgID, ts string, body []byte) (string, error) {
		secrets, ok := d.cfg.Catalog.MirroredSigningSecrets(id, d.cfg.Now())
		if !ok {
			secrets = first
		}
		return d.sign(id, secrets, msgID, ts, body)
	}
	// A retry waited for in the process goes only to an endpoint that still
	// exists and is enabled; one that cannot be read just now is tried.
	req.Check = func(ctx context.Context) error {
		ep, err := d.cfg.Catalog.Deliverable(ctx, id)
		if gone := unusable(id, tenant, ep, err); gone != nil {
			return fmt.Errorf("%w; no retry sent", gone)
		}
		return nil
	}
	if unfit, err := d.policy(ctx, &req, id, ep); unfit != nil {
		return notSent(req, start, sender.Failed, unfit.Error()+"; nothing sent")
	} else if err != nil {
		if ctx.Err() != nil {
			return notSent(req, start, sender.Interrupted, "interrupted before the endpoint's auth was read")
		}
		d.cfg.Logger.Warn("read endpoint auth, job handed back", "job_id", jobID, "endpoint", id, "error", err)
		r := notSent(req, start, sender.Deferred, "endpoint auth could not be read")
		r.Defer = unavailableWait
		return r
	}
	next := req.OnAttempt
	req.OnAttempt = func(a sender.Attempt) {
		a.ID = jobID
		d.observe(ctx, id, a)
		if next != nil {
			next(a)
		}
	}
	r := d.cfg.Send(ctx, req)
	if ordered {
		d.tellGate(id, jobID, r)
	}
	return r
}

// notYet is the result of an ordered job whose turn did not come (err,
// from Gate.Turn): deferred by the wait the gate asks for, interrupted
// when ctx ended, and deferred a little when the gate could not tell.
func (d *Webhooks) notYet(ctx context.Context, req sender.Request, start time.Time, jobID, id string, err error) sender.Result {
	if ctx.Err() != nil {
		return notSent(req, start, sender.Interrupted, "interrupted while waiting for its turn")
	}
	r := notSent(req, start, sender.Deferred, err.Error())
	var busy interface{ RetryIn() time.Duration }
	if errors.As(err, &busy) {
		r.Defer = busy.RetryIn()
		return r
	}
	d.cfg.Logger.Warn("read the turn of an ordered endpoint, job handed back", "job_id", jobID, "endpoint", id, "error", err)
	r.Defer = unavailableWait
	return r
}

// policy applies endpoint ep's delivery policy to req: its retry schedule
// and timeout where the job asks for none, and its auth. It returns err
// when the auth's credentials cannot be read just now, and unfit when they
// cannot be used at all.
func (d *Webhooks) policy(ctx context.Context, req *sender.Request, id string, ep catalog.Endpoint) (unfit, err error) {
	if req.Schedule == nil {
		if len(ep.RetrySchedule) > 0 {
			req.Schedule = job.Waits(ep.RetrySchedule, d.cfg.MaxSchedule)
		} else {
			req.Schedule = d.cfg.Schedule // only read
		}
	}
	if t := ep.Timeout.Duration(); req.Timeout == 0 && t > 0 {
		if d.cfg.MaxTimeout > 0 {
			t = min(t, d.cfg.MaxTimeout)
		}
		req.Timeout = t
	}
	if ep.Auth == nil {
		return nil, nil
	}
	cr, ok := d.cfg.Catalog.MirroredCredentials(id)
	if !ok || cr.Type != ep.Auth.Type {
		if cr, ok, err = d.cfg.Catalog.Credentials(ctx, id); err != nil || !ok {
			return nil, err // !ok: removed since ep was read
		}
	}
	if unfit = d.auths.authFor(req, id, cr); unfit != nil || req.Authorize == nil {
		return unfit, nil
	}
	// A token that cannot be got fails the delivery as much as a receiver
	// that does not answer: the endpoint's failing streak counts it.
	authorize := req.Authorize
	req.Authorize = func(ctx context.Context, renew bool) (string, error) {
		v, err := authorize(ctx, renew)
		if err != nil {
			d.observe(ctx, id, sender.Attempt{Outcome: sender.AttemptRetry, Error: "authorization: " + err.Error()})
		}
		return v, err
	}
	return nil, nil
}

// unusable returns why endpoint id, as Deliverable read it (ep, err),
// takes no delivery of an event of tenant: deleted, of another tenant (made
// again with the same id since the fan-out), or disabled; nil when it
// takes them, or when it could not be read.
func unusable(id, tenant string, ep catalog.Endpoint, err error) error {
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return fmt.Errorf("endpoint %s was deleted", id)
	case err == nil && ep.Tenant != tenant:
		return fmt.Errorf("endpoint %s was deleted (an endpoint of another tenant has its id now)", id)
	case err == nil && ep.Disabled:
		return fmt.Errorf("endpoint %s is disabled (%s)", id, ep.DisabledReason)
	}
	return nil
}

// notSent is the result of a delivery that sent nothing this time.
func notSent(req sender.Request, at time.Time, outcome sender.Outcome, msg string) sender.Result {
	r := sender.Result{
		Outcome: outcome, Error: msg, StartedAt: at, FinishedAt: at,
		Attempts: req.Prior.Attempts, Retries: req.Prior.Retries, Status: req.Prior.Status, Response: req.Prior.Response,
	}
	if len(req.URLs) > 0 {
		r.URL = redact.URL(req.URLs[0])
	}
	return r
}

// sign returns the webhook-signature value of one attempt to endpoint id:
// one v1 signature per secret, space-separated. A secret that does not
// parse (the catalog checks every secret it stores, so only a store written
// by other means holds one) is an error, which fails the delivery: it is
// never sent unsigned, nor signed with only some of its secrets.
func (d *Webhooks) sign(id string, secrets []string, msgID, ts string, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("endpoint %s has no signing secret", id)
	}
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sg, err := d.signer(s)
		if err != nil {
			return "", fmt.Errorf("endpoint %s signing secret %d of %d: %w", id, i+1, len(secrets), err)
		}
		if sigs[i], err = sg(msgID, ts, body); err != nil {
			return "", err
		}
	}
	return strings.Join(sigs, " "), nil
}

// signer returns the Signer of secret, made once.
func (d *Webhooks) signer(secret string) (sender.Signer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sg, ok := d.signers[secret]; ok {
		return sg, nil
	}
	sg, err := sender.NewSigner(secret)
	if err != nil {
		return nil, err
	}
	if len(d.signers) >= maxSigners {
		clear(d.signers)
	}
	d.signers[secret] = sg
	return sg, nil
}

// recordTimeout bounds each catalog write an attempt leads to.
const recordTimeout = 5 * time.Second

// observe records what one attempt says of endpoint id: a success ends its
// failing streak; a failure starts one, raises the failing alert when the
// streak is older than AlertAfter, and disables the endpoint when it is
// older than DisableAfter; a 410 Gone disables it at once.
func (d *Webhooks) observe(ctx context.Context, id string, a sender.Attempt) {
	if ctx.Err() != nil && a.Outcome != sender.AttemptDelivered {
		return // interrupted: says nothing of the endpoint
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if a.Outcome == sender.AttemptDelivered {
		if err := d.cfg.Catalog.Succeeded(ctx, id); err != nil {
			d.cfg.Logger.Warn("record endpoint success", "endpoint", id, "error", err)
		}
		return
	}
	if a.Status == 410 {
		d.disable(ctx, id, GoneReason)
		return
	}
	now := d.cfg.Now()
	since, err := d.cfg.Catalog.Failed(ctx, id, now)
	if err == nil && d.cfg.AlertAfter > 0 && now.Sub(since) >= d.cfg.AlertAfter {
		d.alert(ctx, id, now, a)
	}
	switch {
	case errors.Is(err, catalog.ErrNotFound):
	case err != nil:
		d.cfg.Logger.Warn("record endpoint failure", "endpoint", id, "error", err)
	case d.cfg.DisableAfter > 0 && now.Sub(since) >= d.cfg.DisableAfter:
		// Confirm with the bucket: the mirror may not have a success yet.
		since, failing, err := d.cfg.Catalog.FailingSince(ctx, id)
		if err == nil && failing && now.Sub(since) >= d.cfg.DisableAfter {
			d.disable(ctx, id, fmt.Sprintf("every delivery failed since %s", since.UTC().Format(time.RFC3339)))
		}
	}
}

// alert raises the failing alert of endpoint id, whose attempt a failed at
// now, unless it is raised already.
func (d *Webhooks) alert(ctx context.Context, id string, now time.Time, a sender.Attempt) {
	cause := a.Error
	if cause == "" && a.Status != 0 {
		cause = fmt.Sprintf("status %d %s", a.Status, http.StatusText(a.Status))
	}
	raised, err := d.cfg.Catalog.AlertFailing(ctx, id, d.cfg.AlertAfter, now, cause)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
	case err != nil:
		d.cfg.Logger.Warn("raise endpoint failing alert", "endpoint", id, "error", err)
	case raised:
		d.cfg.Logger.Warn("endpoint failing", "endpoint", id, "last_error", cause)
	}
}

func (d *Webhooks) disable(ctx context.Context, id, reason string) {
	err := d.cfg.Catalog.Disable(ctx, id, reason)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
	case err != nil:
		d.cfg.Logger.Warn("disable endpoint", "endpoint", id, "reason", reason, "error", err)
	default:
		d.cfg.Logger.Info("endpoint disabled", "endpoint", id, "reason", reason)
	}
}
