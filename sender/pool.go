package sender

import (
	"hash/maphash"
	"sync"
)

// maxPools bounds the number of pools whose round-robin position is kept;
// past it the positions start over, which costs nothing but evenness.
const maxPools = 1 << 14

// cursors keeps the round-robin position of every pool of URLs, keyed by a
// hash of the list.
type cursors struct {
	mu   sync.Mutex
	seed maphash.Seed
	next map[uint64]uint64
}

func (c *cursors) init() {
	c.seed = maphash.MakeSeed()
	c.next = make(map[uint64]uint64)
}

// start returns the index of the URL a new send to urls begins with, and
// moves the pool's position on. It is safe for concurrent use.
func (c *cursors) start(urls []string) int {
	if len(urls) < 2 {
		return 0
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	for _, u := range urls {
		h.WriteString(u)
		h.WriteByte(0)
	}
	key := h.Sum64()
	c.mu.Lock()
	if len(c.next) >= maxPools {
		clear(c.next)
	}
	n := c.next[key]
	c.next[key] = n + 1
	c.mu.Unlock()
	return int(n % uint64(len(urls)))
}
