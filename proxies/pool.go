// Package proxies reads proxy lists and hands proxies out in rotation.
//
// Parse, ParseList and ReadFile turn the operator's proxy strings into URLs
// that net/http can use. A Pool gives them out round-robin and keeps a proxy
// that failed (burned) out of rotation for a cool-down, after which it comes
// back on its own. Errors never contain proxy passwords; use redact.Proxy to
// name a proxy in a log line.
package proxies

import (
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/hookworker/hookworker/sender"
)

// DefaultCooldown is the cool-down New uses when given none.
const DefaultCooldown = time.Minute

// ErrNoProxy is returned by Get when the pool is empty or every proxy in it
// is cooling down. Returned errors wrap it; test with errors.Is.
var ErrNoProxy = errors.New("no proxy available")

var _ sender.ProxyProvider = (*Pool)(nil)

// Pool hands out proxies round-robin, skipping burned ones until their
// cool-down is over. It is safe for concurrent use.
type Pool struct {
	cooldown time.Duration
	now      func() time.Time

	mu      sync.Mutex
	entries []entry
	next    int
}

type entry struct {
	u     *url.URL
	key   string
	until time.Time // burned until then
}

// New returns a pool over list, in its order. A burned proxy stays out of
// rotation for cooldown; zero or less means DefaultCooldown. The URLs are
// copied, so list may be changed afterwards.
func New(list []*url.URL, cooldown time.Duration) *Pool {
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	p := &Pool{cooldown: cooldown, now: time.Now}
	for _, u := range list {
		if u == nil {
			continue
		}
		c := *u
		p.entries = append(p.entries, entry{u: &c, key: c.String()})
	}
	return p
}

// Len returns the number of proxies in the pool, burned or not.
func (p *Pool) Len() int {
	return len(p.entries)
}

// Available returns the number of proxies not cooling down.
func (p *Pool) Available() int {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.entries {
		if !now.Before(e.until) {
			n++
		}
	}
	return n
}

// Get returns the next proxy that is not cooling down, in round-robin order.
// The URL is the caller's own copy. When none is available it returns an
// error wrapping ErrNoProxy that says when the first one comes back, with a
// method RetryIn() time.Duration that gives it (see sender.ProxyProvider).
func (p *Pool) Get() (*url.URL, error) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.entries)
	if n == 0 {
		return nil, fmt.Errorf("%w: the pool is empty", ErrNoProxy)
	}
	soonest := time.Time{}
	for i := range n {
		idx := (p.next + i) % n
		e := &p.entries[idx]
		if !now.Before(e.until) {
			p.next = (idx + 1) % n
			c := *e.u
			return &c, nil
		}
		if soonest.IsZero() || e.until.Before(soonest) {
			soonest = e.until
		}
	}
	return nil, &coolingError{n: n, wait: soonest.Sub(now)}
}

// coolingError is Get's error when every proxy is cooling down. Its RetryIn
// tells a sender.Sender how long to wait for the first to come back.
type coolingError struct {
	n    int
	wait time.Duration
}

func (e *coolingError) Error() string {
	return fmt.Sprintf("%s: all %d proxies are cooling down, the first is back in %s",
		ErrNoProxy, e.n, e.wait.Round(time.Millisecond))
}

// Unwrap returns ErrNoProxy.
func (e *coolingError) Unwrap() error { return ErrNoProxy }

// RetryIn is how long until the first proxy is back.
func (e *coolingError) RetryIn() time.Duration { return e.wait }

// Burn takes u out of rotation for the pool's cool-down, after a timeout or a
// connection error through it. u is matched by its URL, so a copy from Get
// works; a nil or unknown URL is ignored. Burning a proxy that is already
// cooling down starts its cool-down again.
func (p *Pool) Burn(u *url.URL) {
	if u == nil {
		return
	}
	key := u.String()
	until := p.now().Add(p.cooldown)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.entries {
		if p.entries[i].key == key && p.entries[i].until.Before(until) {
			p.entries[i].until = until
		}
	}
}
