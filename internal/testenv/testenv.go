// Package testenv decides what a test does when a program it checks against is missing. Alone (go test), it
// skips, naming the program, why the test needs it and how to install it. Under scripts/test.sh, which runs
// after scripts/setup.sh has installed every such program, StrictEnv is set and a missing program fails the
// test instead: a test skipped in CI would prove nothing.
package testenv

import (
	"os"
	"testing"
)

// StrictEnv, when set to anything, turns Missing into a failure.
const StrictEnv = "NEURONOVA_STRICT_TESTS"

// Missing stops t because what (a program or library set-up installs) is absent: why says what the test
// would have checked with it, install how to get it.
func Missing(t testing.TB, what, why, install string) {
	t.Helper()
	if os.Getenv(StrictEnv) != "" {
		t.Fatalf("%s is missing (%s), yet scripts/setup.sh should have installed it (%s)", what, why, install)
	}
	t.Skipf("%s is missing, so this test cannot %s; install it with %s", what, why, install)
}
