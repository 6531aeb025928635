package ui

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// task runs one piece of long work at a time in a worker, with a progress bar, a line saying what it does
// and a cancel button; the import, the AI run and the sync round are tasks.
type task struct {
	bar    *widget.ProgressBar
	line   *widget.Label
	cancel *widget.Button
	stop   context.CancelFunc // nil when idle

	// The clock of progress coalescing (tests replace it): time.Now and time.AfterFunc.
	now   func() time.Time
	after func(time.Duration, func())
}

func newTask() *task {
	t := &task{bar: widget.NewProgressBar(), line: widget.NewLabel(""), now: time.Now,
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
	t.line.Wrapping = fyne.TextWrapWord
	t.cancel = widget.NewButton("Cancel", func() {
		if t.stop != nil {
			t.stop()
		}
	})
	t.bar.Hide()
	t.cancel.Hide()
	return t
}

// content is the progress bar with its cancel button, then the line.
func (t *task) content() fyne.CanvasObject {
	return container.NewVBox(container.NewBorder(nil, nil, nil, t.cancel, t.bar), t.line)
}

func (t *task) running() bool { return t.stop != nil }

// progress reports done of total units of stage from any goroutine.
type progressFunc func(stage string, done, total int)

// progressEvery is the least time between two progress updates of one task on screen: about 30 a second,
// however many events the work reports (a 20,000-file import reports 20,000).
const progressEvery = time.Second / 30

// start runs work in a worker unless a task runs already (then it returns false). Progress shows on the
// bar and the line, at most once per progressEvery; finish runs on the UI goroutine when work returns,
// after the bar and button are hidden.
func (t *task) start(what string, work func(ctx context.Context, p progressFunc) error, finish func(err error)) bool {
	if t.stop != nil {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.stop = cancel
	t.bar.Show()
	t.bar.SetValue(0) // once shown: a bar hidden full would otherwise show full at 0 %
	t.cancel.Show()
	t.line.SetText(what)
	shown := &coalescer[taskProgress]{every: progressEvery, now: t.now, after: t.after, show: func(p taskProgress) {
		t.bar.SetValue(float64(p.done) / float64(max(p.total, 1)))
		t.line.SetText(fmt.Sprintf("%s: %s %d/%d", what, p.stage, p.done, p.total))
	}}
	go func() {
		err := work(ctx, func(stage string, done, total int) { shown.push(taskProgress{stage, done, total}) })
		do(func() {
			shown.close()
			cancel()
			t.stop = nil
			t.bar.Hide()
			t.cancel.Hide()
			t.line.SetText("")
			finish(err)
		})
	}()
	return true
}

type taskProgress struct {
	stage       string
	done, total int
}

// coalescer hands the latest of a stream of values to show on the UI goroutine (do), at most once per every:
// a value that comes sooner waits, replaced by any that comes after it, so that the last one is shown.
type coalescer[T any] struct {
	every time.Duration
	now   func() time.Time
	after func(time.Duration, func())
	show  func(T) // on the UI goroutine

	mu        sync.Mutex
	pending   T
	scheduled bool      // an update is on its way to the UI goroutine
	last      time.Time // when the last update was shown
	closed    bool
}

// push offers v, from any goroutine.
func (c *coalescer[T]) push(v T) {
	c.mu.Lock()
	c.pending = v
	if c.scheduled || c.closed {
		c.mu.Unlock()
		return
	}
	c.scheduled = true
	wait := c.last.Add(c.every).Sub(c.now())
	c.mu.Unlock()
	if wait <= 0 {
		do(c.flush)
		return
	}
	c.after(wait, func() { do(c.flush) })
}

// flush shows the latest value, on the UI goroutine.
func (c *coalescer[T]) flush() {
	c.mu.Lock()
	v, closed := c.pending, c.closed
	c.scheduled = false
	c.last = c.now()
	c.mu.Unlock()
	if !closed {
		c.show(v)
	}
}

// close drops what is pending and ignores what comes after, on the UI goroutine.
func (c *coalescer[T]) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}
