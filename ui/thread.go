package ui

import (
	"sync"

	"fyne.io/fyne/v2"
)

// Work done in goroutines reaches the widgets through do and doAndWait: fyne.Do and fyne.DoAndWait, which
// run it on the UI goroutine.
var (
	do        = fyne.Do
	doAndWait = fyne.DoAndWait
)

// SerializeCallbacks is for headless tests. Fyne's test driver runs fyne.Do callbacks at once on the
// worker's own goroutine, so callbacks of two workers, or a callback and the test itself, could touch
// widgets at the same time. After SerializeCallbacks every callback of this package holds l while it runs:
// a test that holds l while it acts, and releases it only while it waits, is never raced.
func SerializeCallbacks(l sync.Locker) {
	do = func(fn func()) {
		fyne.Do(func() {
			l.Lock()
			defer l.Unlock()
			fn()
		})
	}
	doAndWait = func(fn func()) {
		fyne.DoAndWait(func() {
			l.Lock()
			defer l.Unlock()
			fn()
		})
	}
}
