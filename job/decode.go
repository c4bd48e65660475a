package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/hookworker/hookworker/internal/hostname"
)

// wire is a job with every field kept raw, so that each can be checked on
// its own and the id, type and meta survive a bad field elsewhere.
type wire struct {
	ID              json.RawMessage `json:"id"`
	Type            json.RawMessage `json:"type"`
	URL             json.RawMessage `json:"url"`
	URLs            json.RawMessage `json:"urls"`
	Payload         json.RawMessage `json:"payload"`
	Headers         json.RawMessage `json:"headers"`
	Discord         json.RawMessage `json:"discord"`
	Slack           json.RawMessage `json:"slack"`
	Timeout         json.RawMessage `json:"timeout"`
	MaxRetries      json.RawMessage `json:"max_retries"`
	MaxProxyRetries json.RawMessage `json:"max_proxy_retries"`
	Meta            json.RawMessage `json:"meta"`
	RetrySchedule   json.RawMessage `json:"retry_schedule"`
	Endpoint        json.RawMessage `json:"endpoint"`
	Event           json.RawMessage `json:"event"`
	Tenant          json.RawMessage `json:"tenant"`
	Ordered         json.RawMessage `json:"ordered"`
}

// Decode reads and checks one job. Unknown fields are ignored. The id is
// the job's own id if present, else fallbackID (the Nats-Msg-Id header or
// "<stream>-<sequence>").
//
// On error the returned Job still carries an ID fit for the rejected result
// (the job's own if valid, else fallbackID), and its Type and Meta when they
// could be read. The error is short and names the field.
func Decode(data []byte, fallbackID string) (Job, error) {
	j := Job{ID: fallbackID, Type: Webhook}
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return j, errors.New("job: must be a JSON object")
		}
		return j, fmt.Errorf("job: invalid JSON: %w", err)
	}

	// The fields a rejected result echoes come first.
	var idErr error
	if present(w.ID) {
		var id string
		if jsonString(w.ID, &id) != nil || !ValidID(id) {
			idErr = errors.New("id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -")
		} else {
			j.ID = id
		}
	} else if !ValidID(fallbackID) {
		idErr = errors.New("id: missing, and the message id is not 1 to 128 characters of A-Z a-z 0-9 : _ -")
	}
	if present(w.Meta) {
		j.Meta = w.Meta
	}
	var typeErr error
	if present(w.Type) {
		var t string
		if jsonString(w.Type, &t) != nil {
			typeErr = errors.New(`type: must be "webhook", "discord" or "slack"`)
		} else {
			switch Type(t) {
			case "", Webhook:
			case Discord, Slack:
				j.Type = Type(t)
			default:
				j.Type = Type(truncate(t, 32))
				typeErr = fmt.Errorf(`type: must be "webhook", "discord" or "slack", got %q`, truncate(t, 32))
			}
		}
	}
	// An event job's event and endpoint too, so that its rejected result
	// names them whatever else is wrong with it.
	eventErr := j.decodeEvent(w.Endpoint, w.Event, w.Tenant)
	if eventErr == nil && present(w.Ordered) {
		eventErr = j.decodeOrdered(w.Ordered)
	}
	if idErr != nil {
		return j, idErr
	}
	if typeErr != nil {
		return j, typeErr
	}
	if eventErr != nil {
		return j, eventErr
	}

	err := j.decodeURLs(w.URL, w.URLs)
	if err != nil {
		return j, err
	}
	switch j.Type {
	case Webhook:
		if !present(w.Payload) {
			return j, errors.New("payload: required for a webhook job")
		}
		j.Payload = w.Payload
	case Discord:
		if j.Discord, err = body(w.Discord, "discord"); err != nil {
			return j, err
		}
	case Slack:
		if j.Slack, err = body(w.Slack, "slack"); err != nil {
			return j, err
		}
	}
	// A body object belongs to its own type only.
	for _, o := range []struct {
		raw json.RawMessage
		t   Type
	}{{w.Payload, Webhook}, {w.Discord, Discord}, {w.Slack, Slack}} {
		if present(o.raw) && j.Type != o.t {
			if o.t == Webhook {
				return j, fmt.Errorf(`payload: not used by a job of type %q`, j.Type)
			}
			return j, fmt.Errorf(`%s: only for a job of type %q`, o.t, o.t)
		}
	}
	if present(w.Headers) {
		h, err := decodeHeaders(w.Headers)
		if err != nil {
			return j, err
		}
		j.Headers = h
	}
	if present(w.Timeout) {
		d, err := parseDuration(w.Timeout)
		if err != nil {
			return j, fmt.Errorf("timeout: %w", err)
		}
		if d <= 0 {
			return j, fmt.Errorf("timeout: must be positive, got %s", d)
		}
		j.Timeout = Duration(d)
	}
	if j.MaxRetries, err = decodeCount("max_retries", w.MaxRetries); err != nil {
		return j, err
	}
	if j.MaxProxyRetries, err = decodeCount("max_proxy_retries", w.MaxProxyRetries); err != nil {
		return j, err
	}
	if present(w.RetrySchedule) {
		if j.RetrySchedule, err = decodeSchedule(w.RetrySchedule); err != nil {
			return j, err
		}
	}
	return j, nil
}

// present reports whether a field was given a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// body returns the object of a Discord or Slack job, named field in
// errors: it must be present and a JSON object.
func body(raw json.RawMessage, field string) (json.RawMessage, error) {
	if !present(raw) {
		return nil, fmt.Errorf("%s: required for a %s job", field, field)
	}
	if raw[0] != '{' {
		return nil, fmt.Errorf("%s: must be an object", field)
	}
	return raw, nil
}

func (j *Job) decodeURLs(one, pool json.RawMessage) error {
	switch {
	case present(one) && present(pool):
		return errors.New("url, urls: give exactly one")
	case present(one):
		var s string
		if jsonString(one, &s) != nil {
			return errors.New("url: must be a string")
		}
		u, err := checkURL(s)
		if err != nil {
			return fmt.Errorf("url: %w", err)
		}
		j.URLs = []string{s}
		j.Destinations = []*url.URL{u}
	case present(pool):
		var list []json.RawMessage
		if json.Unmarshal(pool, &list) != nil {
			return errors.New("urls: must be an array of strings")
		}
		if len(list) == 0 {
			return errors.New("urls: must not be empty")
		}
		j.URLs = make([]string, len(list))
		dest := make([]*url.URL, len(list))
		for i, raw := range list {
			var s string
			if jsonString(raw, &s) != nil {
				return fmt.Errorf("urls[%d]: must be a string", i)
			}
			u, err := checkURL(s)
			if err != nil {
				return fmt.Errorf("urls[%d]: %w", i, err)
			}
			j.URLs[i], dest[i] = s, u
		}
		j.Destinations = dest
	default:
		return errors.New("url: required (or urls)")
	}
	return nil
}

// checkURL parses and checks a destination without ever quoting it: it may
// hold a secret.
func checkURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("must not be empty")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an absolute http or https URL")
	}
	if err := checkHost(u); err != nil {
		return nil, err
	}
	return u, nil
}

// checkHost checks that the host and port of a destination can be dialled;
// its errors quote neither.
func checkHost(u *url.URL) error {
	if err := hostname.Check(u.Hostname()); err != nil {
		return err
	}
	return hostname.CheckPort(u.Port())
}

// reservedHeaders are set by the worker itself (a job may not override them
// without breaking the body, the signature or the connection), or are
// hop-by-hop headers and proxy credentials.
var reservedHeaders = map[string]bool{
	"Connection":          true,
	"Content-Length":      true,
	"Content-Type":        true,
	"Host":                true,
	"Keep-Alive":          true,
	"Proxy-Authorization": true,
	"Proxy-Connection":    true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
}

func decodeHeaders(raw json.RawMessage) (map[string]string, error) {
	var h map[string]string
	if json.Unmarshal(raw, &h) != nil {
		return nil, errors.New("headers: must be an object of strings")
	}
	seen := make(map[string]bool, len(h))
	for name, value := range h {
		if !validHeaderName(name) {
			return nil, fmt.Errorf("headers: invalid name %q", truncate(name, 64))
		}
		canon := http.CanonicalHeaderKey(name)
		if reservedHeaders[canon] || strings.HasPrefix(canon, "Webhook-") {
			return nil, fmt.Errorf("headers: %s is set by the worker", canon)
		}
		if seen[canon] {
			return nil, fmt.Errorf("headers: %s given twice", canon)
		}
		seen[canon] = true
		if !validHeaderValue(value) {
			return nil, fmt.Errorf("headers: %s: value holds a control character", canon)
		}
	}
	return h, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s holds no control character other than
// horizontal tab (so no CR, LF or NUL).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// jsonString decodes the JSON value raw, which must be a string, into s. A
// plain string (no escapes, valid UTF-8) is taken as it is, without
// encoding/json's reflection; any other goes through json.Unmarshal. raw
// comes from a json.RawMessage, so it is valid JSON.
func jsonString(raw []byte, s *string) error {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		inner := raw[1 : n-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*s = string(inner)
			return nil
		}
	}
	return json.Unmarshal(raw, s)
}

func decodeCount(field string, raw json.RawMessage) (*int, error) {
	if !present(raw) {
		return nil, nil
	}
	var n int
	if json.Unmarshal(raw, &n) != nil || n < 0 {
		return nil, fmt.Errorf("%s: must be a whole number, 0 or more", field)
	}
	return &n, nil
}

// decodeEvent reads the endpoint and event of an event job, both or
// neither, and its tenant. Whether the job's subject may carry them is the
// worker's to check.
func (j *Job) decodeEvent(endpoint, event, tenant json.RawMessage) error {
	if present(tenant) {
		var t string
		if jsonString(tenant, &t) != nil || !validToken(t, 63) {
			return errors.New("tenant: must be 1 to 63 of A-Za-z0-9_-")
		}
		j.Tenant = t
	}
	switch {
	case !present(endpoint) && !present(event):
		return nil
	case !present(endpoint):
		return errors.New("endpoint: required with event")
	case !present(event):
		return errors.New("event: required with endpoint")
	}
	var ep string
	if jsonString(endpoint, &ep) != nil || !validToken(ep, 63) {
		return errors.New("endpoint: must be 1 to 63 of A-Za-z0-9_-")
	}
	var ev Event
	if json.Unmarshal(event, &ev) != nil {
		return errors.New("event: must be an object of id, type and channel")
	}
	if !validToken(ev.ID, 64) {
		return errors.New("event.id: must be 1 to 64 of A-Za-z0-9_-")
	}
	if !validTypeName(ev.Type) {
		return errors.New("event.type: must be two or more tokens of A-Za-z0-9_- joined by dots, at most 128 characters")
	}
	if ev.Channel != "" && !validChannel(ev.Channel) {
		return errors.New("event.channel: must be 1 to 128 of A-Za-z0-9_.:-")
	}
	if j.Type != Webhook {
		return fmt.Errorf("endpoint: only for a job of type %q", Webhook)
	}
	j.Endpoint, j.Event = ep, &ev
	return nil
}

// decodeOrdered reads the ordered mark of an event job.
func (j *Job) decodeOrdered(raw json.RawMessage) error {
	if json.Unmarshal(raw, &j.Ordered) != nil {
		return errors.New("ordered: must be true or false")
	}
	if j.Ordered && j.Endpoint == "" {
		j.Ordered = false
		return errors.New("ordered: only for a job that names an endpoint")
	}
	return nil
}

// validToken reports whether s is 1 to n of A-Za-z0-9_-: an event,
// endpoint or tenant id, or a token of an event type name.
func validToken(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validTypeName reports whether s is an event type name: two or more
// tokens joined by dots, at most 128 characters.
func validTypeName(s string) bool {
	if len(s) > 128 {
		return false
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if !validToken(p, 128) {
			return false
		}
	}
	return true
}

// validChannel reports whether s is 1 to 128 of A-Za-z0-9_.:-.
func validChannel(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.:-", c) >= 0) {
			return false
		}
	}
	return true
}

// truncate cuts s to at most n bytes, for quoting in an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
