package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSendRules(t *testing.T) {
	t.Parallel()
	fixedNow := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		cfg     Config
		req     Request
		respond func(w http.ResponseWriter, r *http.Request, n int)

		outcome  Outcome
		status   int
		attempts int
		retries  int
		hits     int
		errHas   string
		response string
		deferred time.Duration
	}{
		{
			name:     "2xx delivers with JSON body",
			respond:  func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, `{"ok":true}`) },
			outcome:  Delivered,
			status:   200,
			attempts: 1, hits: 1,
			response: `{"ok":true}`,
		},
		{
			name:     "204 delivers without body",
			respond:  func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 204, "") },
			outcome:  Delivered,
			status:   204,
			attempts: 1, hits: 1,
		},
		{
			name: "429 waits for body retry_after before the header",
			cfg:  Config{MaxRetries: 3, DeferAfter: time.Minute},
			respond: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					// The header alone would defer; the body's 10ms is used.
					w.Header().Set("Retry-After", "3600")
					reply(w, 429, `{"message":"rate limited","retry_after":0.01,"global":false}`)
					return
				}
				reply(w, 200, `{}`)
			},
			outcome:  Delivered,
			status:   200,
			attempts: 2, retries: 1, hits: 2,
			response: `{}`,
		},
		{
			name: "429 Retry-After seconds is honoured",
			cfg:  Config{MaxRetries: 3, DeferAfter: time.Second},
			respond: func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Retry-After", "120")
				reply(w, 429, "")
			},
			outcome:  Deferred,
			status:   429,
			attempts: 1, retries: 1, hits: 1,
			errHas:   "retry deferred",
			deferred: 120 * time.Second,
		},
		{
			name: "429 Retry-After HTTP date is honoured",
			cfg:  Config{MaxRetries: 3, DeferAfter: time.Second},
			respond: func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Retry-After", fixedNow.Add(90*time.Second).Format(http.TimeFormat))
				reply(w, 429, "")
			},
			outcome:  Deferred,
			status:   429,
			attempts: 1, retries: 1, hits: 1,
			deferred: 90 * time.Second,
		},
		{
			name: "429 Retry-After zero retries at once",
			cfg:  Config{MaxRetries: 1},
			respond: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", "0")
					reply(w, 429, "")
					return
				}
				reply(w, 201, "")
			},
			outcome:  Delivered,
			status:   201,
			attempts: 2, retries: 1, hits: 2,
		},
		{
			name: "429 without a wait backs off",
			cfg:  Config{MaxRetries: 1},
			respond: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					reply(w, 429, `{"message":"slow down"}`)
					return
				}
				reply(w, 200, "")
			},
			outcome:  Delivered,
			status:   200,
			attempts: 2, retries: 1, hits: 2,
		},
		{
			name: "429 asking longer than MaxRetryWait fails with the real status and body",
			cfg:  Config{MaxRetries: 3, MaxRetryWait: time.Hour},
			respond: func(w http.ResponseWriter, _ *http.Request, _ int) {
				reply(w, 429, `{"retry_after":7200.5}`)
			},
			outcome:  Failed,
			status:   429,
			attempts: 1, hits: 1,
			errHas:   "longer than the longest wait allowed",
			response: `{"retry_after":7200.5}`,
		},
		{
			name: "5xx exhausts retries with the real last body",
			cfg:  Config{MaxRetries: 2},
			respond: func(w http.ResponseWriter, _ *http.Request, n int) {
				reply(w, 500+n, fmt.Sprintf(`{"n":%d}`, n))
			},
			outcome:  Failed,
			status:   503,
			attempts: 3, retries: 2, hits: 3,
			errHas:   "retries exhausted: 2",
			response: `{"n":3}`,
		},
		{
			name: "5xx then success",
			cfg:  Config{MaxRetries: 2},
			respond: func(w http.ResponseWriter, _ *http.Request, n int) {
				if n == 1 {
					reply(w, 502, "")
					return
				}
				reply(w, 200, "")
			},
			outcome:  Delivered,
			status:   200,
			attempts: 2, retries: 1, hits: 2,
		},
		{
			name: "4xx fails at once with a text body as JSON string",
			cfg:  Config{MaxRetries: 3},
			respond: func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(404)
				_, _ = w.Write([]byte("no <such> hook"))
			},
			outcome:  Failed,
			status:   404,
			attempts: 1, hits: 1,
			errHas:   "status 404 Not Found",
			response: `"no <such> hook"`,
		},
		{
			name: "408 is retried",
			cfg:  Config{MaxRetries: 1},
			respond: func(w http.ResponseWriter, _ *http.Request, n int) {
				reply(w, map[int]int{1: 408, 2: 200}[n], "")
			},
			outcome:  Delivered,
			status:   200,
			attempts: 2, retries: 1, hits: 2,
		},
		{
			name: "425 is retried",
			cfg:  Config{MaxRetries: 1},
			respond: func(w http.ResponseWriter, _ *http.Request, n int) {
				reply(w, map[int]int{1: 425, 2: 200}[n], "")
			},
			outcome:  Delivered,
			status:   200,
			attempts: 2, retries: 1, hits: 2,
		},
		{
			name: "request budget overrides the configured one",
			cfg:  Config{MaxRetries: 5},
			req:  Request{MaxRetries: -1},
			respond: func(w http.ResponseWriter, _ *http.Request, _ int) {
				reply(w, 503, "")
			},
			outcome:  Failed,
			status:   503,
			attempts: 1, hits: 1,
			errHas: "status 503",
		},
		{
			name: "timeout",
			req:  Request{Timeout: 50 * time.Millisecond},
			respond: func(_ http.ResponseWriter, r *http.Request, _ int) {
				awaitDisconnect(r)
			},
			outcome:  Failed,
			attempts: 1, hits: 1,
			errHas: "timeout after 50ms",
		},
		{
			name: "timeout backs off under MaxRetries without proxies",
			cfg:  Config{MaxRetries: 1},
			req:  Request{Timeout: 50 * time.Millisecond},
			respond: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					awaitDisconnect(r)
					return
				}
				reply(w, 200, "")
			},
			outcome:  Delivered,
			status:   200,
			attempts: 2, retries: 1, hits: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, tt.respond)
			cfg := tt.cfg
			cfg.AllowPrivateNetworks = true
			s := newSender(t, cfg)
			s.now = func() time.Time { return fixedNow }
			req := tt.req
			req.URLs = []string{rc.URL + "/hook"}
			res := send(t, s, req)

			if res.Outcome != tt.outcome || res.OK != (tt.outcome == Delivered) {
				t.Errorf("outcome = %q (ok %v), want %q; error %q", res.Outcome, res.OK, tt.outcome, res.Error)
			}
			if res.Status != tt.status {
				t.Errorf("status = %d, want %d", res.Status, tt.status)
			}
			if res.Attempts != tt.attempts || res.Retries != tt.retries {
				t.Errorf("attempts, retries = %d, %d, want %d, %d", res.Attempts, res.Retries, tt.attempts, tt.retries)
			}
			if got := rc.Hits(); got != tt.hits {
				t.Errorf("receiver hits = %d, want %d", got, tt.hits)
			}
			if !strings.Contains(res.Error, tt.errHas) {
				t.Errorf("error = %q, want it to contain %q", res.Error, tt.errHas)
			}
			if tt.outcome == Delivered && res.Error != "" {
				t.Errorf("error = %q on delivery", res.Error)
			}
			if string(res.Response) != tt.response {
				t.Errorf("response = %s, want %s", res.Response, tt.response)
			}
			if res.Defer != tt.deferred {
				t.Errorf("defer = %s, want %s", res.Defer, tt.deferred)
			}
			if res.URL != rc.URL+"/hook" {
				t.Errorf("url = %q, want %q", res.URL, rc.URL+"/hook")
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var targetHits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/target", func(w http.ResponseWriter, _ *http.Request) {
		targetHits.Add(1)
		w.WriteHeader(200)
	})
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 3})

	res := send(t, s, Request{URLs: []string{srv.URL + "/hook"}})

	if res.Outcome != Failed || res.Status != http.StatusFound || res.Attempts != 1 {
		t.Errorf("got %s status %d attempts %d, want failed 302 after 1 attempt", res.Outcome, res.Status, res.Attempts)
	}
	if !strings.Contains(res.Error, "redirects are not followed") {
		t.Errorf("error = %q", res.Error)
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("redirect target hit %d times", n)
	}
}

func TestSendPool(t *testing.T) {
	t.Parallel()
	ok := func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, "") }
	fail := func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 500, `{"down":true}`) }

	t.Run("round-robin across sends", func(t *testing.T) {
		t.Parallel()
		a, b := newReceiver(t, ok), newReceiver(t, ok)
		s := newSender(t, Config{AllowPrivateNetworks: true})
		pool := []string{a.URL, b.URL}
		var urls []string
		for range 4 {
			res := send(t, s, Request{URLs: pool})
			if !res.OK {
				t.Fatalf("send failed: %s", res.Error)
			}
			urls = append(urls, res.URL)
		}
		if a.Hits() != 2 || b.Hits() != 2 {
			t.Errorf("hits a, b = %d, %d, want 2, 2 (urls used %v)", a.Hits(), b.Hits(), urls)
		}
		if urls[0] == urls[1] {
			t.Errorf("two sends went to the same url %s", urls[0])
		}
	})

	t.Run("another pool keeps its own position", func(t *testing.T) {
		t.Parallel()
		a, b, c := newReceiver(t, ok), newReceiver(t, ok), newReceiver(t, ok)
		s := newSender(t, Config{AllowPrivateNetworks: true})
		send(t, s, Request{URLs: []string{a.URL, b.URL}})
		send(t, s, Request{URLs: []string{c.URL, b.URL}})
		// Each pool starts at its first URL.
		if a.Hits() != 1 || c.Hits() != 1 || b.Hits() != 0 {
			t.Errorf("hits a, b, c = %d, %d, %d, want 1, 0, 1", a.Hits(), b.Hits(), c.Hits())
		}
	})

	t.Run("5xx fails over to the next url", func(t *testing.T) {
		t.Parallel()
		a, b := newReceiver(t, fail), newReceiver(t, ok)
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 2})
		res := send(t, s, Request{URLs: []string{a.URL, b.URL}})
		if !res.OK || res.Attempts != 2 || res.URL != b.URL {
			t.Errorf("got %s attempts %d url %s, want delivered after 2 attempts at %s", res.Outcome, res.Attempts, res.URL, b.URL)
		}
		if a.Hits() != 1 || b.Hits() != 1 {
			t.Errorf("hits a, b = %d, %d, want 1, 1", a.Hits(), b.Hits())
		}
	})

	t.Run("dead url fails over to the next url", func(t *testing.T) {
		t.Parallel()
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		b := newReceiver(t, ok)
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 1})
		res := send(t, s, Request{URLs: []string{dead.URL, b.URL}})
		if !res.OK || res.Attempts != 2 || res.URL != b.URL {
			t.Errorf("got %s attempts %d url %s error %q, want delivered after 2 attempts at %s", res.Outcome, res.Attempts, res.URL, res.Error, b.URL)
		}
	})

	t.Run("exhausted pool reports the url used last", func(t *testing.T) {
		t.Parallel()
		a, b := newReceiver(t, fail), newReceiver(t, fail)
		s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 2})
		res := send(t, s, Request{URLs: []string{a.URL, b.URL}})
		if res.OK || res.Attempts != 3 || res.URL != a.URL || res.Status != 500 {
			t.Errorf("got %s attempts %d url %s status %d, want failed after 3 attempts at %s with 500", res.Outcome, res.Attempts, res.URL, res.Status, a.URL)
		}
	})
}

func TestSendNetworkGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		host    string // replaces 127.0.0.1 in the receiver URL when set
		outcome Outcome
	}{
		{name: "loopback refused by default", outcome: Rejected},
		{name: "allowed by AllowPrivateNetworks", cfg: Config{AllowPrivateNetworks: true}, outcome: Delivered},
		{name: "allowed by AllowedNetworks", cfg: Config{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, outcome: Delivered},
		{name: "other allowed networks do not open loopback", cfg: Config{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, outcome: Rejected},
		{name: "localhost refused", host: "localhost", outcome: Rejected},
		{name: "IPv4-mapped IPv6 loopback refused", host: "[::ffff:127.0.0.1]", outcome: Rejected},
		{name: "name resolving to loopback allowed by AllowedNetworks", host: "localhost", cfg: Config{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}, outcome: Delivered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, "") })
			target := rc.URL
			if tt.host != "" {
				target = strings.Replace(target, "127.0.0.1", tt.host, 1)
			}
			obs := &counter{}
			cfg := tt.cfg
			cfg.MaxRetries = 2
			cfg.Observer = obs
			s := newSender(t, cfg)

			res := send(t, s, Request{URLs: []string{target}})

			if res.Outcome != tt.outcome {
				t.Fatalf("outcome = %s, want %s (error %q)", res.Outcome, tt.outcome, res.Error)
			}
			if tt.outcome != Rejected {
				return
			}
			if res.Attempts != 0 || rc.Hits() != 0 || res.Status != 0 {
				t.Errorf("attempts %d, hits %d, status %d, want nothing sent", res.Attempts, rc.Hits(), res.Status)
			}
			if a, _, _ := obs.counts(); a != 0 {
				t.Errorf("observer saw %d attempts", a)
			}
			if !strings.Contains(res.Error, "HOOKWORKER_ALLOW_PRIVATE_NETWORKS") || !strings.Contains(res.Error, "HOOKWORKER_ALLOWED_NETWORKS") {
				t.Errorf("error %q does not name the settings", res.Error)
			}
		})
	}
}

func TestSendRejectsBadURLs(t *testing.T) {
	t.Parallel()
	s := newSender(t, Config{AllowPrivateNetworks: true})
	tests := []struct {
		name   string
		urls   []string
		errHas string
	}{
		{name: "none", urls: nil, errHas: "no destination"},
		{name: "scheme", urls: []string{"ftp://example.com/x"}, errHas: "scheme"},
		{name: "mailto", urls: []string{"mailto:a@example.com"}, errHas: "scheme"},
		{name: "no host", urls: []string{"http:///hook"}, errHas: "no host"},
		{name: "unparseable", urls: []string{"http://exa mple.com/%zz"}, errHas: "invalid"},
		{name: "one bad url in a pool", urls: []string{"https://example.com", "gopher://example.com"}, errHas: "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := send(t, s, Request{URLs: tt.urls})
			if res.Outcome != Rejected || res.Attempts != 0 || !strings.Contains(res.Error, tt.errHas) {
				t.Errorf("got %s attempts %d error %q, want rejected with %q", res.Outcome, res.Attempts, res.Error, tt.errHas)
			}
		})
	}
}

func TestSendOversizeResponse(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("a", 200<<10)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(big))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := newSender(t, Config{AllowPrivateNetworks: true})

	for i := range 3 {
		res := send(t, s, Request{URLs: []string{srv.URL}})
		var text string
		if err := json.Unmarshal(res.Response, &text); err != nil {
			t.Fatalf("send %d: response is not a JSON string: %v", i, err)
		}
		if len(text) != 64<<10 || text != big[:64<<10] {
			t.Errorf("send %d: kept %d bytes, want %d", i, len(text), 64<<10)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections opened for 3 sends, want 1 (reused)", n)
	}
}

func TestSendPanics(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { reply(w, 200, "") })
	tests := []struct {
		name string
		cfg  Config
		req  Request
	}{
		{name: "proxy provider", cfg: Config{Proxies: panicProxies{}}},
		{name: "pacer", req: Request{Pacer: panicPacer{}}},
		{name: "observer", cfg: Config{Observer: panicObserver{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.AllowPrivateNetworks = true
			s := newSender(t, cfg)
			req := tt.req
			req.URLs = []string{rc.URL}
			res := send(t, s, req)
			if res.Outcome != Failed || res.OK || !strings.Contains(res.Error, "panic") {
				t.Errorf("got %s error %q, want a failed result naming the panic", res.Outcome, res.Error)
			}
			if strings.Contains(res.Error, "boom-secret") {
				t.Errorf("error %q carries the panic value", res.Error)
			}
			if res.URL != rc.URL || res.FinishedAt.IsZero() {
				t.Errorf("result incomplete: %+v", res)
			}
		})
	}
}

type panicProxies struct{}

func (panicProxies) Get() (*url.URL, error) { panic("boom-secret") }
func (panicProxies) Burn(*url.URL)          {}

type panicPacer struct{}

func (panicPacer) Wait(context.Context, *url.URL) error { panic("boom-secret") }
func (panicPacer) Observe(*url.URL, *http.Response)     {}

type panicObserver struct{}

func (panicObserver) Attempt(int)  { panic(errors.New("boom-secret")) }
func (panicObserver) Retry()       {}
func (panicObserver) ProxyBurned() {}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	const jobs = 100
	var mu sync.Mutex
	seen := map[string]int{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		id := r.Header.Get("webhook-id")
		fails, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
		fails %= 4
		mu.Lock()
		seen[id]++
		n := seen[id]
		mu.Unlock()
		if n <= fails {
			reply(w, 503, "")
			return
		}
		reply(w, 200, fmt.Sprintf(`{"id":%q}`, id))
	})
	s := newSender(t, Config{AllowPrivateNetworks: true, MaxRetries: 5})

	var wg sync.WaitGroup
	results := make([]Result, jobs)
	for i := range jobs {
		wg.Go(func() {
			results[i] = s.Send(context.Background(), Request{
				ID:   fmt.Sprintf("job-%d", i),
				URLs: []string{rc.URL},
				Body: []byte(`{}`),
			})
		})
	}
	wg.Wait()
	for i, res := range results {
		want := i%4 + 1
		if !res.OK || res.Attempts != want || res.Retries != want-1 {
			t.Errorf("job-%d: %s attempts %d retries %d, want delivered after %d", i, res.Outcome, res.Attempts, res.Retries, want)
		}
		if wantBody := fmt.Sprintf(`{"id":"job-%d"}`, i); string(res.Response) != wantBody {
			t.Errorf("job-%d: response %s, want %s", i, res.Response, wantBody)
		}
	}
}
