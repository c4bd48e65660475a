// Package freeport picks loopback ports for the servers that tests and
// benchmarks start: ports free a moment ago, for a server that listens on
// them later, or in a process of its own.
//
// A port the system handed out for ":0" and gave back is the one it may
// hand out next, as the local port of any connection made meanwhile: the
// server that comes to listen on it then finds it taken. So the ports come
// from below the range the system uses for that (on Linux, as
// ip_local_port_range says), where only a listener asking for the very
// number takes one.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowest is the lowest port picked.
const lowest = 10000

// Ports returns n distinct loopback ports that were free a moment ago.
func Ports(n int) ([]int, error) {
	high := ephemeralLow()
	var ports []int
	seen := map[int]bool{}
	for tries := 0; len(ports) < n; tries++ {
		if tries >= 100*n {
			return nil, fmt.Errorf("no free loopback port found in %d tries", tries)
		}
		p := lowest + rand.IntN(high-lowest)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

// Addr returns a loopback address whose port was free a moment ago.
func Addr() (string, error) {
	ports, err := Ports(1)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), nil
}

// ephemeralLow is the lowest port the system hands out for ":0" and for
// outgoing connections: Linux's ip_local_port_range, else 32768 (Linux's
// default; the BSDs and macOS start higher).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	return max(low, lowest+1000)
}
