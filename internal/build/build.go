// Package build holds what the linker writes into the hookworker binary
// when it is built.
package build

// Version is the program version: `hookworker version` prints it, the
// worker logs it as it starts, sends it in its User-Agent
// ("hookworker/<Version>") and the API reports it. It is set at build time:
//
//	go build -ldflags "-X github.com/hookworker/hookworker/internal/build.Version=1.2.3" ./cmd/hookworker
var Version = "dev"
