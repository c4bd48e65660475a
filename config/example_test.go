package config_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/hookworker/hookworker/config"
)

// Load reads the HOOKWORKER_ variables; an error names the variable.
func ExampleLoad() {
	// Start from the defaults.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.Prefix+"_") {
			os.Unsetenv(k)
		}
	}
	setenv := func(env map[string]string) {
		for k, v := range env {
			os.Setenv(k, v)
		}
	}
	defer func() {
		for _, k := range []string{"HOOKWORKER_TIMEOUT", "HOOKWORKER_CONCURRENCY", "HOOKWORKER_BACKOFF_MIN", "HOOKWORKER_BACKOFF_MAX"} {
			os.Unsetenv(k)
		}
	}()

	setenv(map[string]string{"HOOKWORKER_TIMEOUT": "soon"})
	_, err := config.Load()
	fmt.Println(err)

	setenv(map[string]string{"HOOKWORKER_TIMEOUT": "5s", "HOOKWORKER_BACKOFF_MIN": "1m", "HOOKWORKER_BACKOFF_MAX": "10s"})
	_, err = config.Load()
	fmt.Println(err)

	setenv(map[string]string{"HOOKWORKER_CONCURRENCY": "8", "HOOKWORKER_BACKOFF_MIN": "1s"})
	cfg, err := config.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Subject, cfg.Timeout, cfg.Concurrency, cfg.HostConcurrency, cfg.MaxRetries)
	// Output:
	// HOOKWORKER_TIMEOUT: must be a duration such as 15s or 1m30s, got "soon"
	// HOOKWORKER_BACKOFF_MIN: must not exceed HOOKWORKER_BACKOFF_MAX (10s), got 1m0s
	// hooks.send 5s 8 2 3
}

func ExampleNetworks_Decode() {
	var n config.Networks
	if err := n.Decode("10.1.2.3/16, 127.0.0.1/32"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n)
	fmt.Println(n.Decode("10.0.0.0/33"))
	// Output:
	// 10.1.0.0/16,127.0.0.1/32
	// invalid CIDR "10.0.0.0/33"
}
