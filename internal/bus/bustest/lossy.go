package bustest

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
)

// Match tells a message the client publishes, by its subject and what
// follows its protocol line (its headers, if any, and its data).
type Match func(subject string, data []byte) bool

// Lossy dials connections (see nats.SetCustomDialer) that lose, on the way
// to the server, the first message each of its matches matches: what a
// client sees of a request the servers drop, one that reached a stream or
// a consumer with no leader, or a server that does not know the consumer
// yet. Nothing answers it.
type Lossy struct {
	mu      sync.Mutex
	matches []Match
	lost    []string
}

// Lose returns a Lossy that loses the first message each match matches.
func Lose(matches ...Match) *Lossy {
	return &Lossy{matches: matches}
}

// Lost returns the subjects of the messages lost so far.
func (l *Lossy) Lost() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lost...)
}

// Dial dials address, as a nats.CustomDialer.
func (l *Lossy) Dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return &lossyConn{Conn: c, l: l}, nil
}

// lose reports whether the message is to be lost, and takes the match that
// loses it out.
func (l *Lossy) lose(subject string, data []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, m := range l.matches {
		if m(subject, data) {
			l.matches = append(l.matches[:i:i], l.matches[i+1:]...)
			l.lost = append(l.lost, subject)
			return true
		}
	}
	return false
}

// lossyConn reads the client's protocol as the client writes it, op by op,
// and leaves out the messages its Lossy loses.
type lossyConn struct {
	net.Conn
	l       *Lossy
	pending []byte
}

func (c *lossyConn) Write(p []byte) (int, error) {
	c.pending = append(c.pending, p...)
	var out []byte
	for {
		end := bytes.Index(c.pending, []byte("\r\n"))
		if end < 0 {
			break
		}
		line := c.pending[:end]
		size := end + 2
		if op, _, _ := bytes.Cut(line, []byte(" ")); string(op) == "PUB" || string(op) == "HPUB" {
			// PUB subject [reply] size and HPUB subject [reply] header-size
			// size: the message (size bytes) follows the line, then CRLF.
			fields := bytes.Fields(line)
			n, err := strconv.Atoi(string(fields[len(fields)-1]))
			if err != nil {
				return 0, fmt.Errorf("lossy connection: %q: %w", line, err)
			}
			if len(c.pending) < size+n+2 {
				break
			}
			if c.l.lose(string(fields[1]), c.pending[size:size+n]) {
				c.pending = c.pending[size+n+2:]
				continue
			}
			size += n + 2
		}
		out = append(out, c.pending[:size]...)
		c.pending = c.pending[size:]
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
