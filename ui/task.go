package ui

import (
	"context"
	"fmt"

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
}

func newTask() *task {
	t := &task{bar: widget.NewProgressBar(), line: widget.NewLabel("")}
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

// start runs work in a worker unless a task runs already (then it returns false). Progress shows on the
// bar and the line; finish runs on the UI goroutine when work returns, after the bar and button are hidden.
func (t *task) start(what string, work func(ctx context.Context, p progressFunc) error, finish func(err error)) bool {
	if t.stop != nil {
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.stop = cancel
	t.bar.SetValue(0)
	t.bar.Show()
	t.cancel.Show()
	t.line.SetText(what)
	go func() {
		err := work(ctx, func(stage string, done, total int) {
			do(func() {
				t.bar.SetValue(float64(done) / float64(max(total, 1)))
				t.line.SetText(fmt.Sprintf("%s: %s %d/%d", what, stage, done, total))
			})
		})
		do(func() {
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
