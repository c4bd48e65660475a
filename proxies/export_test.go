package proxies

import "time"

// SetClock replaces the pool's clock, for tests of the cool-down.
func (p *Pool) SetClock(now func() time.Time) { p.now = now }
