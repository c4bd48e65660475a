package job

import (
	"encoding/json"
	"testing"
	"time"
)

func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"url":"https://example.com/hook","payload":{"a":1}}`,
		`{"id":"order-1","type":"discord","urls":["https://a.example","https://b.example"],"discord":{"content":"hi"},"timeout":"2s","max_retries":1,"max_proxy_retries":0,"meta":null}`,
		`{"id":"x y","url":"","payload":null,"headers":{"X-A":"1\r\n"}}`,
		`{"timeout":1e400,"max_retries":-1}`,
		`[]`, `null`, `"s"`, `{`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "HOOKS-1")
	}
	f.Add([]byte(`{"url":"https://a.example","payload":1}`), "bad id")
	f.Fuzz(func(t *testing.T, data []byte, fallback string) {
		j, err := Decode(data, fallback)
		if err != nil {
			if j.ID == "" && fallback != "" {
				t.Errorf("rejected job lost its id: %q", err)
			}
			return
		}
		if !ValidID(j.ID) {
			t.Errorf("accepted job has invalid id %q", j.ID)
		}
		if j.URL != "" || len(j.URLs) == 0 || len(j.Destinations) != len(j.URLs) {
			t.Errorf("accepted job has url %q, urls %q and %d destinations", j.URL, j.URLs, len(j.Destinations))
		}
		switch j.Type {
		case Webhook:
			if !json.Valid(j.Payload) {
				t.Errorf("accepted webhook job has payload %q", j.Payload)
			}
		case Discord:
			if !json.Valid(j.Discord) {
				t.Errorf("accepted discord job has discord %q", j.Discord)
			}
		case Slack:
			if !json.Valid(j.Slack) {
				t.Errorf("accepted slack job has slack %q", j.Slack)
			}
		default:
			t.Errorf("accepted job has type %q", j.Type)
		}
		if j.Timeout < 0 {
			t.Errorf("accepted job has timeout %s", j.Timeout)
		}
		if _, err := json.Marshal(Reject(j, err, time.Time{})); err != nil {
			t.Errorf("result does not encode: %v", err)
		}
	})
}

// FuzzJSONString checks that jsonString decodes every JSON value exactly as
// json.Unmarshal into a string does.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"plain"`, `""`, `"a\"b"`, `"\u00e9t\u00e9"`, `"été"`, "\"\xff\xfe\"", `"tab\tx"`, `12`, `null`, `{"a":1}`, `["x"]`, `"unterminated`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return // jsonString is only given valid JSON
		}
		var want, got string
		wantErr := json.Unmarshal(raw, &want)
		gotErr := jsonString(raw, &got)
		if (gotErr != nil) != (wantErr != nil) || got != want {
			t.Errorf("jsonString(%q) = %q, %v; json.Unmarshal gives %q, %v", raw, got, gotErr, want, wantErr)
		}
	})
}
