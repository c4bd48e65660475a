package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hookworker/hookworker/client"
)

// policyResult is the policy phase: an endpoint's delivery policy at work
// through real workers.
type policyResult struct {
	// Ordered is the deliveries to an ordered endpoint answering after a
	// millisecond, through one worker; OrderedDelivered those delivered.
	Ordered          throughput
	OrderedDelivered int
	// RateLimit is the limited endpoint's rate_limit; Limited the
	// deliveries to it through two workers, and LimitedSeen what it saw.
	RateLimit   int
	Limited     throughput
	LimitedSeen limitedCounts
}

// policy runs the policy phase: PolicyEvents events to one ordered
// endpoint on the receiver's /ms (every event's delivery starts once the
// one before is over), then PolicyRate×5 events to one endpoint limited to
// PolicyRate requests a second on /limited, through two workers sharing
// the durables.
func (b *bench) policy(ctx context.Context, r *report) error {
	env := append(b.workerEnv("policy", b.o.Concurrency, b.o.Concurrency), "HOOKWORKER_DURABLE=hookworker-policy")
	api := client.New(b.nc)
	first, err := b.startNamed("worker", "worker_policy", nil, env)
	if err != nil {
		return err
	}
	defer first.stop()
	if err := b.policyEndpoint(ctx, client.Endpoint{ID: "ep_ordered", URL: b.receiver.info + "/ms", Ordered: true}); err != nil {
		return err
	}
	n := b.o.PolicyEvents
	hooks := profiling(first, b.o.PolicyCPUProfile, "", 0)
	if hooks != nil {
		if err := hooks.before(); err != nil {
			return err
		}
	}
	er, err := driveEvents(ctx, b.nc, topology("policy").ResultSubject, n, 1, n, payload(b.o.Payload), b.o.Timeout)
	if hooks != nil {
		err = errors.Join(err, hooks.after())
	}
	if err != nil {
		return fmt.Errorf("ordered: %w", err)
	}
	r.Policy.Ordered, r.Policy.OrderedDelivered = er.Run, er.Delivered
	b.logf("  ordered endpoint answering in 1 ms: %.0f deliveries/s (%d of %d delivered)", er.Run.rate(), er.Delivered, er.Run.N)

	if err := api.DeleteEndpoint(ctx, "ep_ordered"); err != nil {
		return err
	}
	second, err := b.startNamed("worker", "worker_policy_2", nil, env)
	if err != nil {
		return err
	}
	defer second.stop()
	rate := b.o.PolicyRate
	if err := b.policyEndpoint(ctx, client.Endpoint{ID: "ep_limited", URL: b.receiver.info + "/limited", RateLimit: rate}); err != nil {
		return err
	}
	n = 5 * rate
	er, err = driveEvents(ctx, b.nc, topology("policy").ResultSubject, n, 1, n, payload(b.o.Payload), b.o.Timeout)
	if err != nil {
		return fmt.Errorf("rate limited: %w", err)
	}
	var seen limitedCounts
	if err := b.receiver.callJSON(&seen, "limited"); err != nil {
		return err
	}
	r.Policy.RateLimit, r.Policy.Limited, r.Policy.LimitedSeen = rate, er.Run, seen
	b.logf("  endpoint limited to %d/s, two workers: %d requests in %.1fs, at most %d in one second, %.1f deliveries/s",
		rate, seen.Requests, seen.Seconds, seen.MostInASecond, er.Run.rate())
	return nil
}

// policyEndpoint waits for the worker's API and puts the events' type
// and ep.
func (b *bench) policyEndpoint(ctx context.Context, ep client.Endpoint) error {
	saved := b.o.EventsEndpoints
	b.o.EventsEndpoints = 0 // the type only
	err := b.eventCatalog(ctx)
	b.o.EventsEndpoints = saved
	if err != nil {
		return err
	}
	_, err = client.New(b.nc).PutEndpoint(ctx, ep, "")
	return err
}

// policyFields are the policy phase's figures.
func (r *report) policyFields(f func(float64, int) string) []field {
	if !r.o.runs("policy") {
		return nil
	}
	p := r.Policy
	ordered := p.Ordered.rate()
	seen := p.LimitedSeen
	within := seen.MostInASecond <= p.RateLimit+1
	const s = "policy"
	return []field{
		{s, "ordered endpoint answering in 1 ms, one worker: deliveries/s (target ≥ 200)", "policy_ordered_dps", f(ordered, 0)},
		{s, "", "policy_ordered_delivered", strconv.Itoa(p.OrderedDelivered)},
		{s, "target met", "policy_ordered_target_met", strconv.FormatBool(ordered >= 200)},
		{s, "rate-limited endpoint, two workers: rate_limit", "policy_rate_limit", strconv.Itoa(p.RateLimit)},
		{s, "requests / most in one second (target ≤ rate_limit + 1)", "policy_limited_requests", strconv.Itoa(seen.Requests)},
		{s, "", "policy_limited_most_in_a_second", strconv.Itoa(seen.MostInASecond)},
		{s, "requests/s, first to last", "policy_limited_rps", f(float64(max(seen.Requests-1, 0))/max(seen.Seconds, 1e-9), 1)},
		{s, "target met", "policy_limited_target_met", strconv.FormatBool(within && seen.Requests == p.Limited.N)},
	}
}
