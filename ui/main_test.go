package ui

import (
	"os"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

// uiLock stands for the UI goroutine in headless tests: a test holds it while it acts (newTestApp) and
// releases it only while it waits (waitFor); the package's callbacks take it (SerializeCallbacks).
var uiLock sync.Mutex

func TestMain(m *testing.M) {
	SerializeCallbacks(&uiLock)
	os.Exit(m.Run())
}

// newTestApp starts a headless test app and makes the test the UI goroutine until it ends.
func newTestApp(t *testing.T) {
	t.Helper()
	test.NewTempApp(t)
	uiLock.Lock()
	t.Cleanup(uiLock.Unlock)
}

// waitFor waits until cond holds, letting the callbacks of workers run in between.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		uiLock.Unlock()
		time.Sleep(5 * time.Millisecond)
		uiLock.Lock()
	}
}
