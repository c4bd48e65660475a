package job

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// fitHeader is the header a result goes out with.
var fitHeader = nats.Header{nats.MsgIdHdr: {"j"}, HeaderJobID: {"j"}, HeaderOutcome: {"failed"}}

func fitResult() Result {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return Result{
		ID: "j", Type: Webhook, Outcome: Failed, Status: 500, URL: "https://example.com/hook",
		Attempts: 3, Error: "status 500 Internal Server Error", StartedAt: at, FinishedAt: at,
	}
}

// TestFit cuts the parts of a result, in order and only as far as needed,
// until it fits the max payload with its headers, and names them.
func TestFit(t *testing.T) {
	t.Parallel()
	big := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("<", n) + `"`) }
	base, err := fitResult().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	hdr := HeaderSize(fitHeader)
	tests := []struct {
		name      string
		edit      func(r *Result)
		max       int
		truncated []string
		check     func(t *testing.T, r Result)
	}{
		{
			name: "fits: nothing cut",
			edit: func(r *Result) { r.Meta = big(100) },
			max:  len(base) + hdr + 1000,
		},
		{
			name: "exactly at the limit: nothing cut",
			edit: func(r *Result) {},
			max:  len(base) + hdr,
		},
		{
			name:      "one byte over: the error is cut",
			edit:      func(r *Result) {},
			max:       len(base) + hdr - 1,
			truncated: []string{"error"},
			check: func(t *testing.T, r Result) {
				if !strings.HasSuffix(r.Error, ellipsis) || !strings.HasPrefix(r.Error, "status") {
					t.Errorf("error = %q, want its start and %q", r.Error, ellipsis)
				}
			},
		},
		{
			name:      "response cut first",
			edit:      func(r *Result) { r.Response = big(1000); r.Meta = big(1000) },
			max:       len(base) + hdr + 6*1000 + 100,
			truncated: []string{"response"},
			check: func(t *testing.T, r Result) {
				if r.Response != nil || len(r.Meta) == 0 {
					t.Errorf("response %d bytes, meta %d bytes; want none and kept", len(r.Response), len(r.Meta))
				}
			},
		},
		{
			name:      "a response already cut is named once",
			edit:      func(r *Result) { r.Response = big(1000); r.Truncated = []string{"response"} },
			max:       len(base) + hdr + 100,
			truncated: []string{"response"},
		},
		{
			name:      "then meta",
			edit:      func(r *Result) { r.Response = big(1000); r.Meta = big(1000) },
			max:       len(base) + hdr + 100,
			truncated: []string{"response", "meta"},
			check: func(t *testing.T, r Result) {
				if r.Error != fitResult().Error {
					t.Errorf("error = %q, want it whole", r.Error)
				}
			},
		},
		{
			name:      "then the error, at a rune boundary",
			edit:      func(r *Result) { r.Meta = big(10); r.Error = strings.Repeat("é", 500) },
			max:       len(base) + hdr + 200,
			truncated: []string{"meta", "error"},
			check: func(t *testing.T, r Result) {
				if !utf8.ValidString(r.Error) || !strings.HasSuffix(r.Error, ellipsis) || len(r.Error) < 100 {
					t.Errorf("error = %q, want valid UTF-8, cut as little as needed, with %q", r.Error, ellipsis)
				}
			},
		},
		{
			name:      "an escaped error cut as little as needed",
			edit:      func(r *Result) { r.Error = strings.Repeat("<", 500) },
			max:       len(base) + hdr + 1200,
			truncated: []string{"error"},
			check: func(t *testing.T, r Result) {
				// 1200 bytes, less the truncated key and the ellipsis,
				// hold 190 escaped '<' (six bytes each) or more.
				if n := strings.Count(r.Error, "<"); n < 190 || n >= 500 {
					t.Errorf("error keeps %d of 500 '<', want 190 or more", n)
				}
			},
		},
		{
			name:      "last the url",
			edit:      func(r *Result) { r.URL = "https://example.com/" + strings.Repeat("p", 1000) },
			max:       len(base) + hdr,
			truncated: []string{"error", "url"},
			check: func(t *testing.T, r Result) {
				if r.URL != "" || r.Error != "" {
					t.Errorf("url %q, error %q; want both cut", r.URL, r.Error)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := fitResult()
			tt.edit(&r)
			got, data, err := Fit(r, tt.max, fitHeader)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(data) + hdr; n > tt.max {
				t.Errorf("%d bytes with headers, over %d", n, tt.max)
			}
			if !slices.Equal(got.Truncated, tt.truncated) {
				t.Errorf("truncated = %q, want %q", got.Truncated, tt.truncated)
			}
			var back Result
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.Truncated, tt.truncated) {
				t.Errorf("decoded truncated = %q, want %q", back.Truncated, tt.truncated)
			}
			if want, _ := got.MarshalJSON(); string(want) != string(data) {
				t.Errorf("data is not the returned result's JSON")
			}
			if strings.Contains(string(data), `"truncated"`) != (tt.truncated != nil) {
				t.Errorf("truncated key present = %t, want %t: %s", !(tt.truncated != nil), tt.truncated != nil, data)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
	t.Run("cannot fit", func(t *testing.T) {
		t.Parallel()
		if _, _, err := Fit(fitResult(), 100, fitHeader); !errors.Is(err, ErrResultTooLarge) {
			t.Errorf("error = %v, want ErrResultTooLarge", err)
		}
	})
	t.Run("no limit", func(t *testing.T) {
		t.Parallel()
		r := fitResult()
		r.Meta = big(1 << 20)
		got, data, err := Fit(r, 0, fitHeader)
		if err != nil || got.Truncated != nil || len(data) < 6<<20 {
			t.Errorf("Fit without a limit cut %q (%d bytes, %v)", got.Truncated, len(data), err)
		}
	})
}

// TestHeaderSize checks HeaderSize against the wire form of NATS headers.
func TestHeaderSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hdr  nats.Header
		want int
	}{
		{"none", nil, 0},
		{"one", nats.Header{"A": {"b"}}, len("NATS/1.0\r\nA: b\r\n\r\n")},
		{"two values", nats.Header{"A": {"b", "cd"}}, len("NATS/1.0\r\nA: b\r\nA: cd\r\n\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := HeaderSize(tt.hdr); got != tt.want {
				t.Errorf("HeaderSize = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestResultValidUTF8 checks that invalid UTF-8 in meta and response is
// replaced by U+FFFD, as encoding/json does for strings.
func TestResultValidUTF8(t *testing.T) {
	t.Parallel()
	r := fitResult()
	r.Meta = json.RawMessage("{\"k\":\"a\xffb\"}")
	r.Response = json.RawMessage("[\"\xc3\x28\"]")
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(data) {
		t.Fatalf("result is not valid UTF-8: %q", data)
	}
	var back Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := string(back.Meta), "{\"k\":\"a\uFFFDb\"}"; got != want {
		t.Errorf("meta = %s, want %s", got, want)
	}
	if got, want := string(back.Response), "[\"\uFFFD(\"]"; got != want {
		t.Errorf("response = %s, want %s", got, want)
	}
}

// FuzzResultJSON checks that whatever a job's meta and a response hold,
// the result is valid UTF-8 JSON, and that once fitted it fits.
func FuzzResultJSON(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`"ok"`), "err", 0)
	f.Add([]byte("{\"a\":\"\xff\"}"), []byte("\"\xc3\x28\""), "\xff", 300)
	f.Add([]byte(`"<<<<<<<<<<<<<<<<<<<<"`), []byte(`{"x":"<>&"}`), "é", 350)
	f.Fuzz(func(t *testing.T, meta, response []byte, cause string, max int) {
		j, err := Decode(append(append([]byte(`{"url":"https://example.com","payload":1,"meta":`), meta...), '}'), "HOOKS-1")
		if err != nil {
			return // not a job: no result carries this meta
		}
		if !json.Valid(response) {
			// The worker makes a string of a response that is not JSON.
			response, _ = json.Marshal(string(response))
		}
		r := Result{ID: j.ID, Type: j.Type, Outcome: Failed, Status: 500, URL: "https://example.com",
			Error: cause, Response: response, Attempts: 1, Meta: j.Meta}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if !utf8.Valid(data) || !json.Valid(data) {
			t.Fatalf("result is not valid UTF-8 JSON: %q", data)
		}
		got, fitted, err := Fit(r, max, fitHeader)
		if errors.Is(err, ErrResultTooLarge) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if max > 0 && len(fitted)+HeaderSize(fitHeader) > max {
			t.Fatalf("fitted result of %d bytes over %d", len(fitted)+HeaderSize(fitHeader), max)
		}
		if !utf8.Valid(fitted) || !json.Valid(fitted) {
			t.Fatalf("fitted result is not valid UTF-8 JSON: %q", fitted)
		}
		if max <= 0 && got.Truncated != nil {
			t.Fatalf("cut %q without a limit", got.Truncated)
		}
	})
}
