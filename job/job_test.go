package job

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func intp(n int) *int { return &n }

// checkDestinations checks that j's Destinations are its URLs, parsed,
// then clears them so that j compares with a literal Job. A decoded job's
// URL is empty: url is moved into URLs.
func checkDestinations(t *testing.T, j *Job) {
	t.Helper()
	urls := j.URLs
	if j.URL != "" {
		t.Errorf("decoded job has url %q; want it in urls", j.URL)
	}
	if len(j.Destinations) != len(urls) {
		t.Fatalf("%d destinations for %d urls", len(j.Destinations), len(urls))
	}
	for i, u := range j.Destinations {
		if u.String() != urls[i] {
			t.Errorf("destination %d = %s, want %s", i, u, urls[i])
		}
	}
	j.Destinations = nil
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		fallback string
		want     Job
	}{
		{
			name:     "minimal webhook",
			in:       `{"url":"https://example.com/hook","payload":{"a":1}}`,
			fallback: "HOOKS-7",
			want:     Job{ID: "HOOKS-7", Type: Webhook, URLs: []string{"https://example.com/hook"}, Payload: json.RawMessage(`{"a":1}`)},
		},
		{
			name: "every field",
			in: `{"id":"order-123:shipped_1","type":"webhook","urls":["https://a.example/hook","http://b.example:8080/hook?x=1"],
				"payload":[1,"two",null],"headers":{"X-Env":"prod","authorization":"Bearer t"},"timeout":"2s",
				"max_retries":0,"max_proxy_retries":7,"meta":{"k":"v"},"future_field":{"ignored":true}}`,
			fallback: "HOOKS-1",
			want: Job{
				ID: "order-123:shipped_1", Type: Webhook,
				URLs:    []string{"https://a.example/hook", "http://b.example:8080/hook?x=1"},
				Payload: json.RawMessage(`[1,"two",null]`),
				Headers: map[string]string{"X-Env": "prod", "authorization": "Bearer t"},
				Timeout: Duration(2 * time.Second), MaxRetries: intp(0), MaxProxyRetries: intp(7),
				Meta: json.RawMessage(`{"k":"v"}`),
			},
		},
		{
			name:     "discord",
			in:       `{"type":"discord","url":"https://discord.com/api/webhooks/1/tok","discord":{"content":"hi"}}`,
			fallback: "msg-id",
			want:     Job{ID: "msg-id", Type: Discord, URLs: []string{"https://discord.com/api/webhooks/1/tok"}, Discord: json.RawMessage(`{"content":"hi"}`)},
		},
		{
			name:     "slack",
			in:       `{"type":"slack","url":"https://hooks.slack.com/services/T1/B1/tok","slack":{"text":"hi"}}`,
			fallback: "msg-id",
			want:     Job{ID: "msg-id", Type: Slack, URLs: []string{"https://hooks.slack.com/services/T1/B1/tok"}, Slack: json.RawMessage(`{"text":"hi"}`)},
		},
		{
			name:     "payload scalar",
			in:       `{"url":"https://example.com","payload":"text"}`,
			fallback: "f",
			want:     Job{ID: "f", Type: Webhook, URLs: []string{"https://example.com"}, Payload: json.RawMessage(`"text"`)},
		},
		{
			name:     "timeout in seconds",
			in:       `{"url":"https://example.com","payload":1,"timeout":1.5}`,
			fallback: "f",
			want:     Job{ID: "f", Type: Webhook, URLs: []string{"https://example.com"}, Payload: json.RawMessage(`1`), Timeout: Duration(1500 * time.Millisecond)},
		},
		{
			name:     "nulls are absent",
			in:       `{"id":null,"type":null,"url":"https://example.com","urls":null,"payload":{},"headers":null,"discord":null,"timeout":null,"max_retries":null,"meta":null}`,
			fallback: "f",
			want:     Job{ID: "f", Type: Webhook, URLs: []string{"https://example.com"}, Payload: json.RawMessage(`{}`)},
		},
		{
			name:     "empty type is webhook",
			in:       `{"type":"","url":"https://example.com","payload":{}}`,
			fallback: "f",
			want:     Job{ID: "f", Type: Webhook, URLs: []string{"https://example.com"}, Payload: json.RawMessage(`{}`)},
		},
		{
			name:     "id of 128 characters",
			in:       `{"id":"` + strings.Repeat("a", 128) + `","url":"https://example.com","payload":{}}`,
			fallback: "f",
			want:     Job{ID: strings.Repeat("a", 128), Type: Webhook, URLs: []string{"https://example.com"}, Payload: json.RawMessage(`{}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(tt.in), tt.fallback)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkDestinations(t, &got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	const secretURL = "https://discord.com/api/webhooks/1/SECRETTOKEN"
	tests := []struct {
		name     string
		in       string
		fallback string
		want     string // the error, exactly
		wantID   string
		wantType Type
		wantMeta string
	}{
		{name: "not JSON", in: `{"url":`, want: "job: invalid JSON: unexpected end of JSON input"},
		{name: "not an object", in: `["url"]`, want: "job: must be a JSON object"},
		{name: "null", in: `null`, want: "url: required (or urls)"},
		{name: "no url", in: `{"payload":{}}`, want: "url: required (or urls)"},
		{name: "both url and urls", in: `{"url":"https://a.example","urls":["https://b.example"],"payload":{}}`, want: "url, urls: give exactly one"},
		{name: "url not a string", in: `{"url":5,"payload":{}}`, want: "url: must be a string"},
		{name: "url empty", in: `{"url":"","payload":{}}`, want: "url: must not be empty"},
		{name: "url relative", in: `{"url":"/hook","payload":{}}`, want: "url: must be an absolute http or https URL"},
		{name: "url scheme", in: `{"url":"ftp://example.com/SECRETTOKEN","payload":{}}`, want: "url: must be an absolute http or https URL"},
		{name: "url unparsable", in: `{"url":"https://exa mple.com/SECRETTOKEN","payload":{}}`, want: "url: must be an absolute http or https URL"},
		{name: "urls empty", in: `{"urls":[],"payload":{}}`, want: "urls: must not be empty"},
		{name: "urls not an array", in: `{"urls":"https://a.example","payload":{}}`, want: "urls: must be an array of strings"},
		{name: "urls entry not a string", in: `{"urls":["https://a.example",3],"payload":{}}`, want: "urls[1]: must be a string"},
		{name: "urls entry empty", in: `{"urls":["https://a.example",""],"payload":{}}`, want: "urls[1]: must not be empty"},
		{name: "url port out of range", in: `{"url":"https://example.com:99999/SECRETTOKEN","payload":{}}`, want: "url: port is not a number from 1 to 65535"},
		{name: "url port zero", in: `{"url":"https://example.com:0/SECRETTOKEN","payload":{}}`, want: "url: port is not a number from 1 to 65535"},
		{name: "url host not a name", in: `{"url":"https://exa_mple..com/SECRETTOKEN","payload":{}}`, want: "url: host is not a valid name"},
		{name: "url host numeric but no address", in: `{"url":"https://1.2.3.4.5/SECRETTOKEN","payload":{}}`, want: "url: host is numeric but not an IPv4 address"},
		{name: "urls entry port", in: `{"urls":["https://a.example","https://b.example:65536/SECRETTOKEN"],"payload":{}}`, want: "urls[1]: port is not a number from 1 to 65535"},
		{name: "urls entry bad", in: `{"urls":["` + secretURL + `","mailto:x@SECRETTOKEN"],"payload":{}}`, want: "urls[1]: must be an absolute http or https URL"},
		{name: "webhook without payload", in: `{"url":"https://a.example"}`, want: "payload: required for a webhook job"},
		{name: "webhook null payload", in: `{"url":"https://a.example","payload":null}`, want: "payload: required for a webhook job"},
		{name: "webhook with discord", in: `{"url":"https://a.example","payload":{},"discord":{"content":"x"}}`, want: `discord: only for a job of type "discord"`},
		{name: "discord without discord", in: `{"type":"discord","url":"` + secretURL + `"}`, want: "discord: required for a discord job", wantType: Discord},
		{name: "discord not an object", in: `{"type":"discord","url":"` + secretURL + `","discord":"hi"}`, want: "discord: must be an object", wantType: Discord},
		{name: "discord with payload", in: `{"type":"discord","url":"` + secretURL + `","discord":{},"payload":{}}`, want: `payload: not used by a job of type "discord"`, wantType: Discord},
		{name: "slack without slack", in: `{"type":"slack","url":"` + secretURL + `"}`, want: "slack: required for a slack job", wantType: Slack},
		{name: "slack null", in: `{"type":"slack","url":"` + secretURL + `","slack":null}`, want: "slack: required for a slack job", wantType: Slack},
		{name: "slack not an object", in: `{"type":"slack","url":"` + secretURL + `","slack":["hi"]}`, want: "slack: must be an object", wantType: Slack},
		{name: "slack with payload", in: `{"type":"slack","url":"` + secretURL + `","slack":{},"payload":{}}`, want: `payload: not used by a job of type "slack"`, wantType: Slack},
		{name: "slack with discord", in: `{"type":"slack","url":"` + secretURL + `","slack":{},"discord":{}}`, want: `discord: only for a job of type "discord"`, wantType: Slack},
		{name: "webhook with slack", in: `{"url":"https://a.example","payload":{},"slack":{"text":"x"}}`, want: `slack: only for a job of type "slack"`},
		{name: "discord with slack", in: `{"type":"discord","url":"` + secretURL + `","discord":{},"slack":{}}`, want: `slack: only for a job of type "slack"`, wantType: Discord},
		{name: "unknown type", in: `{"type":"sms","url":"https://a.example","payload":{}}`, want: `type: must be "webhook", "discord" or "slack", got "sms"`, wantType: "sms"},
		{name: "type not a string", in: `{"type":1,"url":"https://a.example","payload":{}}`, want: `type: must be "webhook", "discord" or "slack"`},
		{name: "id empty", in: `{"id":"","url":"https://a.example","payload":{}}`, want: "id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -"},
		{name: "id too long", in: `{"id":"` + strings.Repeat("a", 129) + `","url":"https://a.example","payload":{}}`, want: "id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -"},
		{name: "id space", in: `{"id":"a b","url":"https://a.example","payload":{}}`, want: "id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -"},
		{name: "id dot", in: `{"id":"a.b","url":"https://a.example","payload":{}}`, want: "id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -"},
		{name: "id unicode", in: `{"id":"café","url":"https://a.example","payload":{}}`, want: "id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -"},
		{name: "id number", in: `{"id":12,"url":"https://a.example","payload":{}}`, want: "id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -"},
		{name: "bad fallback id", in: `{"url":"https://a.example","payload":{}}`, fallback: "bad id", want: "id: missing, and the message id is not 1 to 128 characters of A-Z a-z 0-9 : _ -", wantID: "bad id"},
		{name: "id error keeps type and meta", in: `{"id":"x y","type":"discord","meta":[1]}`, want: "id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -", wantType: Discord, wantMeta: `[1]`},
		{name: "later error keeps id and meta", in: `{"id":"mine","url":"https://a.example","payload":{},"timeout":"soon","meta":{"m":1}}`, want: `timeout: must be a duration such as "15s" or a number of seconds`, wantID: "mine", wantMeta: `{"m":1}`},
		{name: "timeout zero", in: `{"url":"https://a.example","payload":{},"timeout":"0s"}`, want: "timeout: must be positive, got 0s"},
		{name: "timeout negative", in: `{"url":"https://a.example","payload":{},"timeout":-1}`, want: "timeout: must be positive, got -1s"},
		{name: "timeout bool", in: `{"url":"https://a.example","payload":{},"timeout":true}`, want: `timeout: must be a duration such as "15s" or a number of seconds`},
		{name: "max_retries negative", in: `{"url":"https://a.example","payload":{},"max_retries":-1}`, want: "max_retries: must be a whole number, 0 or more"},
		{name: "max_retries fraction", in: `{"url":"https://a.example","payload":{},"max_retries":1.5}`, want: "max_retries: must be a whole number, 0 or more"},
		{name: "max_retries string", in: `{"url":"https://a.example","payload":{},"max_retries":"3"}`, want: "max_retries: must be a whole number, 0 or more"},
		{name: "max_proxy_retries negative", in: `{"url":"https://a.example","payload":{},"max_proxy_retries":-3}`, want: "max_proxy_retries: must be a whole number, 0 or more"},
		{name: "headers not an object", in: `{"url":"https://a.example","payload":{},"headers":["X-A"]}`, want: "headers: must be an object of strings"},
		{name: "header value not a string", in: `{"url":"https://a.example","payload":{},"headers":{"X-A":1}}`, want: "headers: must be an object of strings"},
		{name: "header name space", in: `{"url":"https://a.example","payload":{},"headers":{"X A":"1"}}`, want: `headers: invalid name "X A"`},
		{name: "header name empty", in: `{"url":"https://a.example","payload":{},"headers":{"":"1"}}`, want: `headers: invalid name ""`},
		{name: "header name colon", in: `{"url":"https://a.example","payload":{},"headers":{"X-A:":"1"}}`, want: `headers: invalid name "X-A:"`},
		{name: "header value CRLF", in: `{"url":"https://a.example","payload":{},"headers":{"X-A":"1\r\nX-B: 2"}}`, want: "headers: X-A: value holds a control character"},
		{name: "header value NUL", in: `{"url":"https://a.example","payload":{},"headers":{"X-A":"\u0000"}}`, want: "headers: X-A: value holds a control character"},
		{name: "header twice", in: `{"url":"https://a.example","payload":{},"headers":{"x-a":"1","X-A":"2"}}`, want: "headers: X-A given twice"},
		{name: "content-type", in: `{"url":"https://a.example","payload":{},"headers":{"content-type":"text/plain"}}`, want: "headers: Content-Type is set by the worker"},
		{name: "content-length", in: `{"url":"https://a.example","payload":{},"headers":{"Content-Length":"1"}}`, want: "headers: Content-Length is set by the worker"},
		{name: "host", in: `{"url":"https://a.example","payload":{},"headers":{"Host":"evil.example"}}`, want: "headers: Host is set by the worker"},
		{name: "transfer-encoding", in: `{"url":"https://a.example","payload":{},"headers":{"Transfer-Encoding":"chunked"}}`, want: "headers: Transfer-Encoding is set by the worker"},
		{name: "webhook-id", in: `{"url":"https://a.example","payload":{},"headers":{"webhook-id":"x"}}`, want: "headers: Webhook-Id is set by the worker"},
		{name: "webhook-timestamp", in: `{"url":"https://a.example","payload":{},"headers":{"Webhook-Timestamp":"1"}}`, want: "headers: Webhook-Timestamp is set by the worker"},
		{name: "webhook-signature", in: `{"url":"https://a.example","payload":{},"headers":{"WEBHOOK-SIGNATURE":"v1,x"}}`, want: "headers: Webhook-Signature is set by the worker"},
		{name: "connection", in: `{"url":"https://a.example","payload":{},"headers":{"Connection":"close"}}`, want: "headers: Connection is set by the worker"},
		{name: "proxy-authorization", in: `{"url":"https://a.example","payload":{},"headers":{"Proxy-Authorization":"Basic x"}}`, want: "headers: Proxy-Authorization is set by the worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fallback := tt.fallback
			if fallback == "" {
				fallback = "HOOKS-42"
			}
			j, err := Decode([]byte(tt.in), fallback)
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", j)
			}
			if err.Error() != tt.want {
				t.Errorf("Decode error = %q, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRETTOKEN") {
				t.Errorf("error %q holds the URL", err)
			}
			wantID := tt.wantID
			if wantID == "" {
				wantID = fallback
			}
			if j.ID != wantID {
				t.Errorf("ID = %q, want %q", j.ID, wantID)
			}
			wantType := tt.wantType
			if wantType == "" {
				wantType = Webhook
			}
			if j.Type != wantType {
				t.Errorf("Type = %q, want %q", j.Type, wantType)
			}
			if string(j.Meta) != tt.wantMeta {
				t.Errorf("Meta = %s, want %s", j.Meta, tt.wantMeta)
			}
		})
	}
}

// TestDecodePayloadVerbatim checks that the payload is kept byte for byte:
// whitespace, key order, escapes and non-ASCII text as published.
func TestDecodePayloadVerbatim(t *testing.T) {
	t.Parallel()
	payloads := []string{
		`{ "b" : 1 ,	"a" :[ 1.50, 2e3 ] }`,
		"{\n  \"text\": \"héllo \\u00e9 \\\"quoted\\\" 🚀\",\n  \"n\": 1.0000000000000000001\n}",
		`"\u003cscript\u003e"`,
		`12345678901234567890123`,
		`[]`,
		`false`,
	}
	for _, p := range payloads {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			j, err := Decode([]byte(`{"url":"https://example.com","payload":`+p+`}`), "id")
			if err != nil {
				t.Fatal(err)
			}
			if string(j.Payload) != p {
				t.Errorf("Payload = %q, want %q", j.Payload, p)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"a": true, "order-123:shipped_v2": true, "HOOKS-99": true, strings.Repeat("Z", 128): true,
		"": false, strings.Repeat("Z", 129): false, "a/b": false, "a b": false, "a.b": false, "é": false, "a\n": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: `"15s"`, want: 15 * time.Second},
		{in: `"1m30s"`, want: 90 * time.Second},
		{in: `15`, want: 15 * time.Second},
		{in: `0.25`, want: 250 * time.Millisecond},
		{in: `1e300`, want: time.Duration(1<<63 - 1)},
		{in: `"15"`, wantErr: true},
		{in: `"fast"`, wantErr: true},
		{in: `[]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var d Duration
			err := json.Unmarshal([]byte(tt.in), &d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unmarshal(%s) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && time.Duration(d) != tt.want {
				t.Errorf("Unmarshal(%s) = %s, want %s", tt.in, time.Duration(d), tt.want)
			}
		})
	}
	out, err := json.Marshal(Duration(1500 * time.Millisecond))
	if err != nil || string(out) != `"1.5s"` {
		t.Errorf("Marshal = %s, %v; want \"1.5s\"", out, err)
	}
}

func TestResultJSON(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 22, 10, 0, 0, 1, time.UTC)
	tests := []struct {
		name string
		res  Result
		want string
	}{
		{
			name: "delivered, as the contract shows",
			res: Result{
				ID: "order-123-shipped", Type: Webhook, OK: true, Outcome: Delivered, Status: 204,
				URL: "https://example.com/hook", Attempts: 1,
				StartedAt: start, FinishedAt: start.Add(120 * time.Millisecond), DurationMS: 120,
				Meta: json.RawMessage(`{"any":"json value, echoed in the result"}`),
			},
			want: `{"id":"order-123-shipped","type":"webhook","ok":true,"outcome":"delivered","status":204,` +
				`"url":"https://example.com/hook","attempts":1,"error":null,"response":null,"proxy":null,` +
				`"started_at":"2026-11-22T10:00:00.000000001Z","finished_at":"2026-11-22T10:00:00.120000001Z",` +
				`"duration_ms":120,"meta":{"any":"json value, echoed in the result"},"event":null,"endpoint":null,"tenant":null}`,
		},
		{
			name: "failed with a response and a proxy",
			res: Result{
				ID: "x", Type: Discord, Outcome: Failed, Status: 400, URL: "https://discord.com/api/webhooks/1/REDACTED", Attempts: 4,
				Error: "status 400", Response: json.RawMessage(`{"message":"bad"}`), Proxy: "10.0.0.1:8080",
				StartedAt: start, FinishedAt: start.Add(2 * time.Second), DurationMS: 2000,
			},
			want: `{"id":"x","type":"discord","ok":false,"outcome":"failed","status":400,` +
				`"url":"https://discord.com/api/webhooks/1/REDACTED","attempts":4,"error":"status 400","response":{"message":"bad"},"proxy":"10.0.0.1:8080",` +
				`"started_at":"2026-11-22T10:00:00.000000001Z","finished_at":"2026-11-22T10:00:02.000000001Z","duration_ms":2000,"meta":null,"event":null,"endpoint":null,"tenant":null}`,
		},
		{
			name: "rejected",
			res:  Reject(Job{ID: "HOOKS-9", Type: Webhook, Meta: json.RawMessage(`[1]`)}, errString("payload: required for a webhook job"), start.In(time.FixedZone("CET", 3600))),
			want: `{"id":"HOOKS-9","type":"webhook","ok":false,"outcome":"rejected","status":null,"url":null,"attempts":0,` +
				`"error":"payload: required for a webhook job","response":null,"proxy":null,` +
				`"started_at":"2026-11-22T10:00:00.000000001Z","finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":[1],"event":null,"endpoint":null,"tenant":null}`,
		},
		{
			name: "an event job's, without a channel",
			res: Result{
				ID: "evt_1:ep_1", Type: Webhook, OK: true, Outcome: Delivered, Status: 200, URL: "https://a.example", Attempts: 1,
				StartedAt: start, FinishedAt: start, Endpoint: "ep_1", Event: &Event{ID: "evt_1", Type: "order.created"},
			},
			want: `{"id":"evt_1:ep_1","type":"webhook","ok":true,"outcome":"delivered","status":200,"url":"https://a.example","attempts":1,` +
				`"error":null,"response":null,"proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,` +
				`"event":{"id":"evt_1","type":"order.created","channel":null},"endpoint":"ep_1","tenant":null}`,
		},
		{
			name: "an event job's, rejected, with a channel",
			res: Reject(Job{ID: "evt_2:ep_2", Type: Webhook, Endpoint: "ep_2", Event: &Event{ID: "evt_2", Type: "a.b", Channel: "project:1"}},
				errString("endpoint deleted"), start),
			want: `{"id":"evt_2:ep_2","type":"webhook","ok":false,"outcome":"rejected","status":null,"url":null,"attempts":0,` +
				`"error":"endpoint deleted","response":null,"proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,` +
				`"event":{"id":"evt_2","type":"a.b","channel":"project:1"},"endpoint":"ep_2","tenant":null}`,
		},
		{
			name: "a tenant's event job's, rejected",
			res: Reject(Job{ID: "evt_3:ep_3", Type: Webhook, Endpoint: "ep_3", Event: &Event{ID: "evt_3", Type: "a.b"}, Tenant: "acme"},
				errString("endpoint deleted"), start),
			want: `{"id":"evt_3:ep_3","type":"webhook","ok":false,"outcome":"rejected","status":null,"url":null,"attempts":0,` +
				`"error":"endpoint deleted","response":null,"proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,` +
				`"event":{"id":"evt_3","type":"a.b","channel":null},"endpoint":"ep_3","tenant":"acme"}`,
		},
		{
			name: "a test event's",
			res: Result{
				ID: "evt_4:ep_4", Type: Webhook, OK: true, Outcome: Delivered, Status: 200, URL: "https://a.example", Attempts: 1,
				StartedAt: start, FinishedAt: start, Endpoint: "ep_4", Event: &Event{ID: "evt_4", Type: "a.b", Test: true},
			},
			want: `{"id":"evt_4:ep_4","type":"webhook","ok":true,"outcome":"delivered","status":200,"url":"https://a.example","attempts":1,` +
				`"error":null,"response":null,"proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,` +
				`"event":{"id":"evt_4","type":"a.b","channel":null,"test":true},"endpoint":"ep_4","tenant":null}`,
		},
		{
			name: "traced: trace_id last",
			res: Result{
				ID: "t1", Type: Webhook, OK: true, Outcome: Delivered, Status: 204, URL: "https://a.example", Attempts: 1,
				StartedAt: start, FinishedAt: start, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736",
			},
			want: `{"id":"t1","type":"webhook","ok":true,"outcome":"delivered","status":204,"url":"https://a.example","attempts":1,` +
				`"error":null,"response":null,"proxy":null,"started_at":"2026-11-22T10:00:00.000000001Z",` +
				`"finished_at":"2026-11-22T10:00:00.000000001Z","duration_ms":0,"meta":null,` +
				`"event":null,"endpoint":null,"tenant":null,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tt.res)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal =\n%s\nwant\n%s", got, tt.want)
			}
			var back Result
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(back, tt.res) {
				t.Errorf("round trip =\n%+v\nwant\n%+v", back, tt.res)
			}
		})
	}
}

// TestResultFields checks the result carries exactly the contract's fields,
// meta included (null) when the job had none.
func TestResultFields(t *testing.T) {
	t.Parallel()
	out, err := json.Marshal(Reject(Job{ID: "a", Type: Webhook}, nil, time.Unix(0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "type", "ok", "outcome", "status", "url", "attempts", "error", "response", "proxy", "started_at", "finished_at", "duration_ms", "meta", "event", "endpoint", "tenant"}
	if len(m) != len(want) {
		t.Errorf("result has %d fields, want %d: %s", len(m), len(want), out)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("result lacks %q: %s", k, out)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestJobRoundTrip checks that a Job written with encoding/json (as a
// producer in Go would) decodes to the same Job, its url moved into urls.
func TestJobRoundTrip(t *testing.T) {
	t.Parallel()
	jobs := []Job{
		{ID: "a", Type: Webhook, URL: "https://a.example", Payload: json.RawMessage(`{"x":[1,2]}`)},
		{
			ID: "b", Type: Discord, URLs: []string{"https://a.example", "https://b.example"},
			Discord: json.RawMessage(`{"content":"hi"}`), Headers: map[string]string{"X-A": "1"},
			Timeout: Duration(1500 * time.Millisecond), MaxRetries: intp(0), MaxProxyRetries: intp(2),
			Meta: json.RawMessage(`"m"`),
		},
	}
	for _, j := range jobs {
		t.Run(j.ID, func(t *testing.T) {
			t.Parallel()
			data, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data, "fallback")
			if err != nil {
				t.Fatalf("Decode(%s): %v", data, err)
			}
			checkDestinations(t, &got)
			want := j
			if j.URL != "" {
				want.URL, want.URLs = "", []string{j.URL}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode(%s) =\n%+v\nwant\n%+v", data, got, want)
			}
		})
	}
}

// TestDecodeEventJob checks the fields an event job adds, as the fan-out
// writes them, and the retry schedule any job may carry.
func TestDecodeEventJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Job
	}{
		{
			name: "event job as fanned out",
			in: `{"id":"evt_1:ep_1","type":"webhook","url":"https://a.example","payload":{"type":"order.created"},
				"headers":{},"endpoint":"ep_1","event":{"id":"evt_1","type":"order.created","channel":"shop:1"}}`,
			want: Job{ID: "evt_1:ep_1", Type: Webhook, URLs: []string{"https://a.example"}, Payload: json.RawMessage(`{"type":"order.created"}`),
				Headers: map[string]string{}, Endpoint: "ep_1", Event: &Event{ID: "evt_1", Type: "order.created", Channel: "shop:1"}},
		},
		{
			name: "a tenant's event job",
			in: `{"id":"evt_2:ep_2","type":"webhook","url":"https://a.example","payload":{},
				"endpoint":"ep_2","event":{"id":"evt_2","type":"order.created"},"tenant":"acme"}`,
			want: Job{ID: "evt_2:ep_2", Type: Webhook, URLs: []string{"https://a.example"}, Payload: json.RawMessage(`{}`),
				Endpoint: "ep_2", Event: &Event{ID: "evt_2", Type: "order.created"}, Tenant: "acme"},
		},
		{
			name: "retry schedule of strings and seconds",
			in:   `{"id":"p","url":"https://a.example","payload":1,"retry_schedule":["1s","2m",0.5]}`,
			want: Job{ID: "p", Type: Webhook, URLs: []string{"https://a.example"}, Payload: json.RawMessage(`1`),
				RetrySchedule: []Duration{Duration(time.Second), Duration(2 * time.Minute), Duration(500 * time.Millisecond)}},
		},
		{
			name: "empty retry schedule: no retry",
			in:   `{"id":"q","url":"https://a.example","payload":1,"retry_schedule":[]}`,
			want: Job{ID: "q", Type: Webhook, URLs: []string{"https://a.example"}, Payload: json.RawMessage(`1`), RetrySchedule: []Duration{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode([]byte(tt.in), "fallback")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got.Destinations = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDecodeEventJobErrors(t *testing.T) {
	t.Parallel()
	const base = `"id":"e:p","url":"https://a.example","payload":{}`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"endpoint without event", `{` + base + `,"endpoint":"ep"}`, "event: required with endpoint"},
		{"event without endpoint", `{` + base + `,"event":{"id":"e","type":"a.b"}}`, "endpoint: required with event"},
		{"endpoint id", `{` + base + `,"endpoint":"a b","event":{"id":"e","type":"a.b"}}`, "endpoint: must be 1 to 63 of A-Za-z0-9_-"},
		{"event not an object", `{` + base + `,"endpoint":"p","event":"e"}`, "event: must be an object of id, type and channel"},
		{"event id", `{` + base + `,"endpoint":"p","event":{"id":"","type":"a.b"}}`, "event.id: must be 1 to 64 of A-Za-z0-9_-"},
		{"event type one token", `{` + base + `,"endpoint":"p","event":{"id":"e","type":"order"}}`,
			"event.type: must be two or more tokens of A-Za-z0-9_- joined by dots, at most 128 characters"},
		{"event channel", `{` + base + `,"endpoint":"p","event":{"id":"e","type":"a.b","channel":"a b"}}`,
			"event.channel: must be 1 to 128 of A-Za-z0-9_.:-"},
		{"discord event job", `{"id":"e:p","type":"discord","url":"https://a.example","discord":{},"endpoint":"p","event":{"id":"e","type":"a.b"}}`,
			`endpoint: only for a job of type "webhook"`},
		{"tenant id", `{` + base + `,"endpoint":"p","event":{"id":"e","type":"a.b"},"tenant":"a.b"}`, "tenant: must be 1 to 63 of A-Za-z0-9_-"},
		{"tenant not a string", `{` + base + `,"tenant":1}`, "tenant: must be 1 to 63 of A-Za-z0-9_-"},
		{"schedule not a list", `{` + base + `,"retry_schedule":"1s"}`, "retry_schedule: must be an array of durations"},
		{"schedule entry", `{` + base + `,"retry_schedule":["1s","soon"]}`, `retry_schedule[1]: must be a duration such as "15s" or a number of seconds`},
		{"schedule negative", `{` + base + `,"retry_schedule":["-1s"]}`, "retry_schedule[0]: must not be negative, got -1s"},
		{"schedule too long", `{` + base + `,"retry_schedule":[` + strings.Repeat(`1,`, MaxScheduleLen) + `1]}`, "retry_schedule: at most 50 entries, got 51"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.in), "fallback")
			if err == nil || err.Error() != tt.want {
				t.Errorf("Decode error = %v, want %q", err, tt.want)
			}
		})
	}
}
