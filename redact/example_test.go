package redact_test

import (
	"fmt"
	"net/url"

	"github.com/hookworker/hookworker/redact"
)

func ExampleURL() {
	fmt.Println(redact.URL("https://discord.com/api/webhooks/123456/s3cr3t-t0ken?wait=true&thread_id=42"))
	fmt.Println(redact.URL("https://hooks.slack.com/services/T0001/B0002/s3cr3t-t0ken"))
	fmt.Println(redact.URL("https://alice:pa55@hooks.example/in?api_key=k3y#frag"))
	fmt.Println(redact.URL("http://[::1"))
	// Output:
	// https://discord.com/api/webhooks/123456/REDACTED?wait=REDACTED&thread_id=REDACTED
	// https://hooks.slack.com/services/T0001/B0002/REDACTED
	// https://hooks.example/in?api_key=REDACTED
	// (invalid url)
}

func ExampleProxy() {
	u, _ := url.Parse("http://user:pa55@10.0.0.1:3128")
	fmt.Println(redact.Proxy(u))
	// Output: 10.0.0.1:3128
}
