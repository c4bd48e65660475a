// Package slacktest runs a fake Slack for tests: an httptest server that
// answers incoming-webhook and response_url requests as Slack does. It takes
// messages on /services/T…/B…/{token}, /actions/T…/{id}/{token} and
// /commands/T…/{id}/{token}; answers 200 "ok", or Slack's error code as a
// plain-text body with Slack's status (no_text for a message without text,
// blocks or attachments, invalid_payload for a body that is not a JSON
// object, too_many_attachments, no_service for an unknown path, or any code
// set with Fail); and limits every webhook to one message per Interval with
// a burst of Burst, answering 429 with Retry-After past it.
package slacktest

import (
	"encoding/json"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults applied to zero Config fields: Slack's documented pace of about
// one message a second per webhook, with a short burst.
const (
	DefaultInterval = time.Second
	DefaultBurst    = 3
)

// maxAttachments is where Slack answers too_many_attachments.
const maxAttachments = 100

// statuses are the statuses Slack answers its error codes with.
var statuses = map[string]int{
	"invalid_payload":                   http.StatusBadRequest,
	"no_text":                           http.StatusBadRequest,
	"too_many_attachments":              http.StatusBadRequest,
	"user_not_found":                    http.StatusBadRequest,
	"no_service_id":                     http.StatusBadRequest,
	"no_team":                           http.StatusBadRequest,
	"invalid_blocks":                    http.StatusBadRequest,
	"action_prohibited":                 http.StatusForbidden,
	"posting_to_general_channel_denied": http.StatusForbidden,
	"invalid_token":                     http.StatusForbidden,
	"team_disabled":                     http.StatusForbidden,
	"channel_not_found":                 http.StatusNotFound,
	"no_service":                        http.StatusNotFound,
	"expired_url":                       http.StatusNotFound,
	"channel_is_archived":               http.StatusGone,
	"rollup_error":                      http.StatusInternalServerError,
}

// Codes returns the error codes the fake knows the status of, sorted; Fail
// takes these and any other.
func Codes() []string {
	return slices.Sorted(maps.Keys(statuses))
}

// Status returns the status Slack answers code with: 400 for a code it does
// not know.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Config configures a Server. The zero value is Slack's pace.
type Config struct {
	// Interval is the time between two messages to one webhook once its
	// burst is spent. Defaults to 1s.
	Interval time.Duration
	// Burst is how many messages to one idle webhook are taken at once.
	// Defaults to 3.
	Burst int
}

// Request is one message the fake took (answered 200 "ok").
type Request struct {
	// Path is the request path, token included.
	Path string
	// Header holds the request headers.
	Header http.Header
	// Body is the request body.
	Body []byte
}

// Server is a running fake Slack. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	interval time.Duration
	burst    time.Duration

	mu       sync.Mutex
	tat      map[string]time.Time // per webhook path, as in the pacer's algorithm
	requests []Request
	answers  map[int]int
	limited  int
	fail     string
}

// NewServer starts a fake Slack; Close stops it.
func NewServer(cfg Config) *Server {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	s := &Server{
		interval: cfg.Interval,
		burst:    time.Duration(cfg.Burst-1) * cfg.Interval,
		tat:      make(map[string]time.Time),
		answers:  make(map[int]int),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// WebhookURL returns the URL of an incoming webhook of the fake:
// <URL>/services/<team>/<hook>/<token>.
func (s *Server) WebhookURL(team, hook, token string) string {
	return s.URL + "/services/" + team + "/" + hook + "/" + token
}

// ResponseURL returns the URL of a response_url of the fake:
// <URL>/actions/<team>/<id>/<token>.
func (s *Server) ResponseURL(team, id, token string) string {
	return s.URL + "/actions/" + team + "/" + id + "/" + token
}

// Fail makes every following message that passes the rate limit be answered
// with Slack's error code (and its status; see Status) instead of "ok". An
// empty code takes messages again.
func (s *Server) Fail(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = code
}

// Requests returns the messages taken, in the order they came.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Limited returns how many requests were answered 429.
func (s *Server) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// Answers returns how many requests were answered with each status.
func (s *Server) Answers() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[int]int, len(s.answers))
	for k, v := range s.answers {
		m[k] = v
	}
	return m
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if r.Method != http.MethodPost || !hookPath(r.URL.Path) {
		s.answer(w, Status("no_service"), "no_service")
		return
	}
	now := time.Now()
	s.mu.Lock()
	// One message per interval with a burst: a request is taken when
	// now >= tat - burst, and moves tat one interval on.
	key := r.URL.Path
	tat := s.tat[key]
	if due := tat.Add(-s.burst); now.Before(due) {
		s.limited++
		s.mu.Unlock()
		w.Header().Set("Retry-After", retryAfter(due.Sub(now)))
		s.answer(w, http.StatusTooManyRequests, "rate_limited")
		return
	}
	if tat.Before(now) {
		tat = now
	}
	s.tat[key] = tat.Add(s.interval)
	code := s.fail
	if code == "" {
		code = check(body)
	}
	if code == "" {
		s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	}
	s.mu.Unlock()
	if code != "" {
		s.answer(w, Status(code), code)
		return
	}
	s.answer(w, http.StatusOK, "ok")
}

// answer writes a plain-text answer, as Slack does, and counts it.
func (s *Server) answer(w http.ResponseWriter, status int, body string) {
	s.mu.Lock()
	s.answers[status]++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// check returns the error code Slack answers body with, or "".
func check(body []byte) string {
	var m struct {
		Text        string            `json:"text"`
		Blocks      []json.RawMessage `json:"blocks"`
		Attachments []json.RawMessage `json:"attachments"`
	}
	if json.Unmarshal(body, &m) != nil {
		return "invalid_payload"
	}
	if len(m.Attachments) > maxAttachments {
		return "too_many_attachments"
	}
	if strings.TrimSpace(m.Text) == "" && len(m.Blocks) == 0 && len(m.Attachments) == 0 {
		return "no_text"
	}
	return ""
}

// hookPath reports whether path is a webhook or response URL path:
// /services|actions|commands/<a>/<b>/<c>.
func hookPath(path string) bool {
	segs := strings.Split(path, "/")
	if len(segs) != 5 || segs[0] != "" || segs[2] == "" || segs[3] == "" || segs[4] == "" {
		return false
	}
	switch segs[1] {
	case "services", "actions", "commands":
		return true
	}
	return false
}

// retryAfter formats a wait as Retry-After seconds: whole seconds, as Slack
// sends them, when the wait is at least a second; else milliseconds as a
// fraction, rounded up, for fakes configured faster than Slack.
func retryAfter(d time.Duration) string {
	if d >= time.Second {
		return strconv.Itoa(int(math.Ceil(d.Seconds())))
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}
