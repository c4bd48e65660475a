package proxies_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookworker/hookworker/proxies"
	"github.com/hookworker/hookworker/redact"
)

func ExampleParse() {
	for _, s := range []string{
		"10.0.0.1:3128",
		"10.0.0.2:3128:alice:pa:ss",
		"socks5://bob:s3cret@10.0.0.3:1080",
		"10.0.0.4",
		"http://carol:hunter2@10.0.0.5:99999",
	} {
		u, err := proxies.Parse(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		user := "(no credentials)"
		if u.User != nil {
			user = "user " + u.User.Username()
		}
		fmt.Println(u.Scheme, redact.Proxy(u), user)
	}
	// Output:
	// http 10.0.0.1:3128 (no credentials)
	// http 10.0.0.2:3128 user alice
	// socks5 10.0.0.3:1080 user bob
	// error: proxy 10.0.0.4: missing port
	// error: proxy 10.0.0.5: invalid port (want 1 to 65535)
}

func ExamplePool() {
	list, err := proxies.ParseList("10.0.0.1:3128, 10.0.0.2:3128:alice:s3cret")
	if err != nil {
		fmt.Println(err)
		return
	}
	pool := proxies.New(list, time.Minute)
	for range 3 {
		u, _ := pool.Get()
		fmt.Println(redact.Proxy(u))
	}

	// A timeout through 10.0.0.2 takes it out of rotation for a minute.
	u, _ := pool.Get()
	pool.Burn(u)
	fmt.Println("burned", redact.Proxy(u))
	for range 2 {
		u, _ := pool.Get()
		fmt.Println(redact.Proxy(u))
	}

	pool.Burn(list[0])
	_, err = pool.Get()
	fmt.Println(errors.Is(err, proxies.ErrNoProxy))
	// Output:
	// 10.0.0.1:3128
	// 10.0.0.2:3128
	// 10.0.0.1:3128
	// burned 10.0.0.2:3128
	// 10.0.0.1:3128
	// 10.0.0.1:3128
	// true
}
