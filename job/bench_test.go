package job

import "testing"

func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"id":"order-123-shipped","type":"webhook","url":"https://example.com/hook",
		"payload":{"order":123,"status":"shipped","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}]},
		"headers":{"X-Env":"prod"},"timeout":"15s","max_retries":3,"meta":{"tenant":"acme"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, "HOOKS-1"); err != nil {
			b.Fatal(err)
		}
	}
}
