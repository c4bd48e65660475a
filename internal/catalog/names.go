package catalog

import (
	"regexp"
	"strings"
)

// MaxTypeNameLen is the longest event type name.
const MaxTypeNameLen = 128

var (
	tokenRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	eventIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	endIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)
	channelRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
)

// ValidTypeName reports whether name is an event type name: two or more
// tokens of [A-Za-z0-9_-] joined by dots, at most 128 characters.
func ValidTypeName(name string) bool {
	if len(name) == 0 || len(name) > MaxTypeNameLen {
		return false
	}
	tokens := strings.Split(name, ".")
	if len(tokens) < 2 {
		return false
	}
	for _, t := range tokens {
		if !tokenRE.MatchString(t) {
			return false
		}
	}
	return true
}

// ValidEventID reports whether id is an event id: 1 to 64 of A-Za-z0-9_-.
func ValidEventID(id string) bool { return eventIDRE.MatchString(id) }

// ValidEndpointID reports whether id is an endpoint id: 1 to 63 of
// A-Za-z0-9_-.
func ValidEndpointID(id string) bool { return endIDRE.MatchString(id) }

// ValidTenantID reports whether id is a tenant id: 1 to 63 of A-Za-z0-9_-.
func ValidTenantID(id string) bool { return endIDRE.MatchString(id) }

// ValidChannel reports whether c is a channel: 1 to 128 of A-Za-z0-9_.:-.
func ValidChannel(c string) bool { return channelRE.MatchString(c) }
