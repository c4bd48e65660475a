package job_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookworker/hookworker/job"
)

func Example() {
	j, err := job.Decode([]byte(`{
		"url": "https://example.com/hook",
		"payload": {"order": 123, "status": "shipped"},
		"timeout": "1m",
		"max_retries": 0
	}`), "HOOKS-17")
	if err != nil {
		fmt.Println(err)
		return
	}
	// url or urls: a decoded job holds its destinations in URLs.
	fmt.Println(j.ID, j.URLs, string(j.Payload))
	fmt.Println("timeout:", j.Timeout, "max retries:", *j.MaxRetries)

	// A job that breaks the rules still yields an id for its result.
	bad, err := job.Decode([]byte(`{"id":"bad id","url":"https://example.com/hook","meta":{"n":1}}`), "HOOKS-18")
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	out, _ := json.Marshal(job.Reject(bad, err, at))
	fmt.Println(string(out))
	// Output:
	// HOOKS-17 [https://example.com/hook] {"order": 123, "status": "shipped"}
	// timeout: 1m0s max retries: 0
	// {"id":"HOOKS-18","type":"webhook","ok":false,"outcome":"rejected","status":null,"url":null,"attempts":0,"error":"id: must be 1 to 128 characters of A-Z a-z 0-9 : _ -","response":null,"proxy":null,"started_at":"2026-11-22T10:00:00Z","finished_at":"2026-11-22T10:00:00Z","duration_ms":0,"meta":{"n":1},"event":null,"endpoint":null,"tenant":null}
}
