package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// ServerRunner sends a model run to the server's job queue, for a workstation without a usable accelerator:
// a `neuronova worker` runs it and the result comes back through the change feed like any server result.
type ServerRunner interface {
	// RunM1OnServer submits M1 of st (for orderID, "" none), reports the job's steps as stages, waits until
	// the job ends and its result is in the local cache, and says so.
	RunM1OnServer(ctx context.Context, st *viewer.Study, orderID string, p func(stage string, done, total int)) (string, error)
}

// serverRow is the AI panel's "Run M1 on the server" button, shown once a ServerRunner is set.
type serverRow struct {
	p   *AIPanel
	r   ServerRunner
	run *hotButton
	box *fyne.Container
}

func newServerRow(p *AIPanel) *serverRow {
	r := &serverRow{p: p}
	r.run = newButton("Run M1 on the server", "Send M1 of this study to the server's job queue: a GPU worker runs it and the result comes back like any server result", r.start)
	help := widget.NewLabel("No usable accelerator here? The server's queue runs M1 on a worker; the result is listed below when it comes back.")
	help.Wrapping = fyne.TextWrapWord
	r.box = container.NewVBox(help, r.run)
	r.box.Hide()
	r.enable(false)
	return r
}

// SetServer offers runs on the server's job queue through r (nil: not offered).
func (p *AIPanel) SetServer(r ServerRunner) {
	p.remote.r = r
	if r == nil {
		p.remote.box.Hide()
	} else {
		p.remote.box.Show()
	}
	p.remote.enable(p.study != nil)
}

// RunOnServer sends M1 of the open study to the server's queue in a worker, as the button does.
func (p *AIPanel) RunOnServer() { p.remote.start() }

// enable makes the button usable (on: a study is open and nothing runs) or not.
func (r *serverRow) enable(on bool) {
	if on && r.r != nil {
		r.run.Enable()
	} else {
		r.run.Disable()
	}
}

func (r *serverRow) start() {
	p := r.p
	if r.r == nil || p.study == nil {
		return
	}
	runner, st, order := r.r, p.study, p.order
	var said string
	what := "M1 on the server"
	if order != "" {
		what += " for order " + order
	}
	started := p.job.start(what, func(ctx context.Context, prog progressFunc) (err error) {
		said, err = runner.RunM1OnServer(ctx, st, order, prog)
		return err
	}, func(err error) {
		r.enable(true)
		switch {
		case p.study != st:
		case err != nil:
			p.stage.SetText("M1 on the server failed: " + err.Error())
		default:
			p.stage.SetText(said)
			p.restore(st, true) // the server's result, now in the cache, is the latest version
		}
	})
	if started {
		r.enable(false)
		p.stage.SetText("")
	}
}
