// Package jsonstr writes JSON strings without reflection, for the encoders
// that run on every delivery.
package jsonstr

import "encoding/json"

// Append appends s as a JSON string, byte for byte as json.Marshal writes
// it (HTML characters escaped, invalid UTF-8 as \ufffd).
func Append(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
