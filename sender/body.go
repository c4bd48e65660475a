package sender

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// Bounds on response bodies: what is kept for the Result, and what is read
// past it (and thrown away) so that the connection can be reused.
const (
	maxKeptBody    = 64 << 10
	maxDrainedBody = 1 << 20
)

// bodyBuffers holds buffers for reading response bodies.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody returns up to maxKeptBody bytes of a response body (nil when
// empty), reads up to maxDrainedBody more so that the connection can be
// reused, and closes it. cut reports that the body returned is not the
// whole body: it was longer, or reading it failed before its end.
func readBody(rc io.ReadCloser) (body []byte, cut bool) {
	defer rc.Close()
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer bodyBuffers.Put(buf)
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(rc, maxKeptBody))
	cut = err != nil
	if !cut {
		var more int64
		more, err = io.CopyN(io.Discard, rc, maxDrainedBody)
		cut = more > 0 || (err != nil && err != io.EOF)
	}
	if buf.Len() == 0 {
		return nil, cut
	}
	return bytes.Clone(buf.Bytes()), cut
}

// jsonBody returns body as JSON: itself when it is valid JSON, else a JSON
// string, nil when empty.
func jsonBody(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	if json.Valid(body) {
		return body
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(string(body)); err != nil {
		return nil
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}
