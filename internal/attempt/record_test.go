package attempt_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookworker/hookworker/internal/attempt"
)

func TestHeaders(t *testing.T) {
	h := attempt.Headers(http.Header{
		"Authorization": {"Bearer x"}, "Proxy-Authorization": {"Basic x"}, "Cookie": {"a=b"},
		"X-Auth-Token": {"x"}, "X-Client-Secret": {"x"}, "Api-Key": {"x"}, "Webhook-Signature": {"v1,x"},
		"Webhook-Id": {"evt_1"}, "Webhook-Timestamp": {"1700000000"}, "X-Env": {"prod", "eu"}, "Content-Type": {"application/json"},
	})
	want := map[string]string{
		"authorization": attempt.Redacted, "proxy-authorization": attempt.Redacted, "cookie": attempt.Redacted,
		"x-auth-token": attempt.Redacted, "x-client-secret": attempt.Redacted, "api-key": attempt.Redacted,
		"webhook-signature": attempt.Redacted, "webhook-id": "evt_1", "webhook-timestamp": "1700000000",
		"x-env": "prod, eu", "content-type": "application/json",
	}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("%s = %q, want %q", k, h[k], v)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers %v, want %v", h, want)
	}
}

func TestEncode(t *testing.T) {
	base := attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", EventType: "order.created", Endpoint: "ep_1",
		URL: "https://example.com/api/webhooks/1/tok?sig=abc", Number: 1, Start: time.Unix(1700000000, 0), Status: 500, Outcome: attempt.Retry}
	big := strings.Repeat("<é>", 50000) // escapes make its JSON longer than its bytes
	cases := []struct {
		name     string
		response []byte
		max      int
		want     func(t *testing.T, resp json.RawMessage)
	}{
		{"json kept as json", []byte(`{"a": [1, 2]}`), 1 << 20, func(t *testing.T, r json.RawMessage) {
			if string(r) != `{"a":[1,2]}` {
				t.Errorf("response %s", r)
			}
		}},
		{"text as a string", []byte("busy"), 1 << 20, func(t *testing.T, r json.RawMessage) {
			if string(r) != `"busy"` {
				t.Errorf("response %s", r)
			}
		}},
		{"none is null", nil, 1 << 20, func(t *testing.T, r json.RawMessage) {
			if string(r) != "null" {
				t.Errorf("response %s", r)
			}
		}},
		{"invalid utf-8 replaced", []byte("a\xffb"), 1 << 20, func(t *testing.T, r json.RawMessage) {
			var s string
			if json.Unmarshal(r, &s) != nil || s != "a\uFFFDb" {
				t.Errorf("response %s", r)
			}
		}},
		{"cut at 64 KiB", []byte(big), 1 << 20, func(t *testing.T, r json.RawMessage) {
			if len(r) > attempt.MaxResponse || len(r) < attempt.MaxResponse/2 {
				t.Errorf("response of %d bytes", len(r))
			}
		}},
		{"cut to fit a small max payload", []byte(big), 2000, func(t *testing.T, r json.RawMessage) {
			if len(r) < 100 {
				t.Errorf("response of %d bytes: cut more than needed", len(r))
			}
		}},
		{"large json cut as text", []byte(`["` + strings.Repeat("x", 100000) + `"]`), 1 << 20, func(t *testing.T, r json.RawMessage) {
			var s string
			if json.Unmarshal(r, &s) != nil || !strings.HasPrefix(s, `["xxx`) {
				t.Errorf("response %.40s", r)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := base
			a.Response = c.response
			body, ok := attempt.Encode(a, c.max)
			if !ok {
				t.Fatal("does not fit")
			}
			if len(body) > c.max || !utf8.Valid(body) || !json.Valid(body) {
				t.Fatalf("record of %d bytes (max %d), valid UTF-8 %v", len(body), c.max, utf8.Valid(body))
			}
			if strings.Contains(string(body), "tok") || strings.Contains(string(body), "abc") {
				t.Errorf("a secret of the URL is in %s", body)
			}
			var r attempt.Record
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			c.want(t, r.Response)
		})
	}
	if _, ok := attempt.Encode(base, 100); ok {
		t.Error("a record larger than max fits")
	}
}

func TestSubject(t *testing.T) {
	for _, c := range []struct{ ep, typ, want string }{
		{"ep_1", "billing.invoice.paid", "hooks.attempt.ep_1.billing.invoice.paid"},
		{"", "", "hooks.attempt._._"},
	} {
		if got := attempt.Subject(c.ep, c.typ); got != c.want {
			t.Errorf("Subject(%q, %q) = %q, want %q", c.ep, c.typ, got, c.want)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	a := attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", EventType: "order.created", Endpoint: "ep_1",
		URL: "https://example.com/hook", Number: 1, Start: time.Now(), Duration: 40 * time.Millisecond, Status: 204,
		RequestHeaders: http.Header{"Webhook-Id": {"evt_1"}, "Webhook-Signature": {"v1,x"}, "Content-Type": {"application/json"}},
		Response:       []byte(`{"ok":true}`), Outcome: attempt.Delivered}
	b.ReportAllocs()
	for b.Loop() {
		attempt.Encode(a, 1<<20)
	}
}

func FuzzEncode(f *testing.F) {
	f.Add([]byte(`{"a":1}`), 600)
	f.Add([]byte("a\xff<>&\x00b"), 400)
	f.Add([]byte(strings.Repeat("é", 300)), 500)
	f.Fuzz(func(t *testing.T, response []byte, max int) {
		a := attempt.Attempt{JobID: "j", URL: "https://example.com/", Number: 1, Start: time.Unix(0, 0),
			Response: response, Outcome: attempt.Failed}
		body, ok := attempt.Encode(a, max)
		if !ok {
			return
		}
		if len(body) > max || !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("record of %d bytes (max %d): %q", len(body), max, body)
		}
	})
}

// Encode writes the JSON json.Marshal makes of NewRecord with its
// response, whatever the values hold.
func TestEncodeIsTheRecordsJSON(t *testing.T) {
	full := attempt.Attempt{JobID: "evt_1:ep_1", EventID: "evt_1", EventType: "order.created", Channel: "eu", Endpoint: "ep_1", Tenant: "acme",
		URL: "https://user:pw@example.com/hook?token=s3cr3t", Number: 3, Start: time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.FixedZone("x", 3600)),
		Duration: 1500 * time.Microsecond, Status: 503, Response: []byte(`{"a": "b"}`), Error: "503 Service Unavailable", Outcome: attempt.Retry,
		RequestHeaders: http.Header{"Webhook-Id": {"evt_1"}, "X-Many": {"a", "b"}, "Authorization": {"Bearer x"}, "Content-Type": {"application/json"}}}
	odd := attempt.Attempt{JobID: "j<\"\\\x01é\xff>&", Error: "bad \xff byte\n", URL: "", Number: 1, Start: time.Unix(0, 0),
		RequestHeaders: http.Header{"X-Odd": {"\u2028<script>\xfe", "second"}}, Outcome: attempt.Failed}
	test := full
	test.Test = true
	for _, c := range []struct {
		name string
		a    attempt.Attempt
	}{{"full", full}, {"a test event's", test}, {"escapes and invalid UTF-8", odd}, {"empty", attempt.Attempt{}}} {
		t.Run(c.name, func(t *testing.T) {
			body, ok := attempt.Encode(c.a, 1<<20)
			if !ok || !utf8.Valid(body) || !json.Valid(body) {
				t.Fatalf("Encode: %q, %v", body, ok)
			}
			if got := bytes.Contains(body, []byte(`"test":true`)); got != c.a.Test {
				t.Errorf("Encode wrote test %v for an attempt of Test %v: %s", got, c.a.Test, body)
			}
			r := attempt.NewRecord(c.a)
			if len(c.a.Response) > 0 {
				var buf bytes.Buffer
				_ = json.Compact(&buf, c.a.Response)
				r.Response = buf.Bytes()
			}
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != string(want) {
				t.Errorf("Encode:\n%s\njson.Marshal:\n%s", body, want)
			}
		})
	}
}
