package ui

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is a task's clock that moves only when told, firing the timers that fall due.
type testClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []testTimer
}

type testTimer struct {
	due time.Time
	f   func()
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) AfterFunc(d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers = append(c.timers, testTimer{c.now.Add(d), f})
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.due.After(c.now) {
			kept = append(kept, tm)
		} else {
			due = append(due, tm.f)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// TestTaskCoalescesProgress: 20,000 progress events reach the UI goroutine as at most one update per
// progressEvery of the task's clock, plus the first and the last — whether they come in one instant (2
// updates) or one a millisecond (at most 20 s / progressEvery + 2) — and the value shown at the end is the
// last one reported.
func TestTaskCoalescesProgress(t *testing.T) {
	const n = 20000
	for _, step := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			newTestApp(t)
			clock := &testClock{now: time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)}
			tk := newTask()
			tk.now, tk.after = clock.Now, clock.AfterFunc
			var updates atomic.Int64
			orig := do
			do = func(fn func()) { updates.Add(1); orig(fn) }
			release, ended := make(chan struct{}), make(chan error, 1)
			started := tk.start("Importing", func(_ context.Context, p progressFunc) error {
				for i := 1; i <= n; i++ {
					clock.advance(step)
					p("files", i, n)
				}
				clock.advance(progressEvery) // the update held back for the last value falls due
				<-release
				return nil
			}, func(err error) { ended <- err })
			if !started {
				t.Fatal("the task did not start")
			}
			want := fmt.Sprintf("Importing: files %d/%d", n, n)
			waitFor(t, "the last value on screen", func() bool { return tk.line.Text == want })
			got := updates.Load()
			bound := int64(time.Duration(n)*step/progressEvery) + 2
			t.Logf("%d events, one every %v: %d UI updates (bound %d)", n, step, got, bound)
			if got > bound || got < 2 {
				t.Errorf("%d events made %d UI updates, want 2 to %d", n, got, bound)
			}
			if tk.bar.Value != 1 {
				t.Errorf("bar at %v, want 1", tk.bar.Value)
			}
			close(release)
			waitFor(t, "the task to end", func() bool { return !tk.running() })
			do = orig
			if err := <-ended; err != nil || tk.line.Text != "" || tk.bar.Visible() {
				t.Errorf("after the task: %v, line %q, bar shown %v", err, tk.line.Text, tk.bar.Visible())
			}
		})
	}
}
