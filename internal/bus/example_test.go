package bus_test

import (
	"fmt"

	"github.com/hookworker/hookworker/internal/bus"
)

// An existing stream is used only if one of its subjects captures the
// configured subject.
func ExampleSubjectMatches() {
	fmt.Println(bus.SubjectMatches("hooks.send", "hooks.send"))
	fmt.Println(bus.SubjectMatches("hooks.*", "hooks.send"))
	fmt.Println(bus.SubjectMatches("hooks.>", "hooks.send.eu"))
	fmt.Println(bus.SubjectMatches("hooks.*", "hooks.send.eu"))
	// Output:
	// true
	// true
	// true
	// false
}
