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

// OmicsServerRunner is a ServerRunner that also sends MG and MM runs, with their CSVs (and, for MM, the MRI
// embedding of the study's kept M1 result); the AI panel then offers them too.
type OmicsServerRunner interface {
	RunMGOnServer(ctx context.Context, st *viewer.Study, genes string, p func(stage string, done, total int)) (string, error)
	RunMMOnServer(ctx context.Context, st *viewer.Study, in MMInput, p func(stage string, done, total int)) (string, error)
}

// serverRow is the AI panel's "Run … on the server" buttons, shown once a ServerRunner is set (MG and MM
// when it is an OmicsServerRunner).
type serverRow struct {
	p      *AIPanel
	r      ServerRunner
	run    *hotButton
	mg, mm *hotButton
	omics  *fyne.Container
	box    *fyne.Container
}

func newServerRow(p *AIPanel) *serverRow {
	r := &serverRow{p: p}
	r.run = newButton("Run M1 on the server", "Send M1 of this study to the server's job queue: a GPU worker runs it and the result comes back like any server result", r.start)
	r.mg = newButton("MG on the server…", "Send MG with a gene CSV to the server's job queue", r.startMG)
	r.mm = newButton("MM on the server…", "Send MM to the server's job queue: the study's kept M1 embedding, then a gene CSV and an RPPA CSV (cancel: not given)", r.startMM)
	help := widget.NewLabel("No usable accelerator here? The server's queue runs the model on a worker; the result is listed below when it comes back.")
	help.Wrapping = fyne.TextWrapWord
	r.omics = container.NewGridWithColumns(2, r.mg, r.mm)
	r.box = container.NewVBox(help, r.run, r.omics)
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
	if _, ok := r.(OmicsServerRunner); ok {
		p.remote.omics.Show()
	} else {
		p.remote.omics.Hide()
	}
	p.remote.enable(p.study != nil)
}

// RunOnServer sends M1 of the open study to the server's queue in a worker, as the button does.
func (p *AIPanel) RunOnServer() { p.remote.start() }

// enable makes the buttons usable (on: a study is open and nothing runs) or not.
func (r *serverRow) enable(on bool) {
	for _, b := range []*hotButton{r.run, r.mg, r.mm} {
		if on && r.r != nil {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}

func (r *serverRow) start() {
	order := r.p.order
	task := "M1 on the server"
	if order != "" {
		task += " for order " + order
	}
	r.send("M1 on the server", task, func(ctx context.Context, st *viewer.Study, prog progressFunc) (string, error) {
		return r.r.RunM1OnServer(ctx, st, order, prog)
	})
}

func (r *serverRow) startMG() {
	o, ok := r.r.(OmicsServerRunner)
	if !ok {
		return
	}
	r.p.omics.choose("Gene-expression CSV for MG on the server", func(genes string) {
		if genes == "" {
			return
		}
		r.send("MG on the server", "MG on the server", func(ctx context.Context, st *viewer.Study, prog progressFunc) (string, error) {
			return o.RunMGOnServer(ctx, st, genes, prog)
		})
	})
}

func (r *serverRow) startMM() {
	o, ok := r.r.(OmicsServerRunner)
	if !ok {
		return
	}
	r.p.omics.choose("Gene-expression CSV for MM on the server (cancel: not given)", func(genes string) {
		r.p.omics.choose("RPPA CSV for MM on the server (cancel: not given)", func(proteins string) {
			r.send("MM on the server", "MM on the server", func(ctx context.Context, st *viewer.Study, prog progressFunc) (string, error) {
				return o.RunMMOnServer(ctx, st, MMInput{Genes: genes, Proteins: proteins}, prog)
			})
		})
	})
}

// send runs call, the run of what, for the open study as the panel's task (named task) and says what the job
// did.
func (r *serverRow) send(what, task string, call func(context.Context, *viewer.Study, progressFunc) (string, error)) {
	p := r.p
	if r.r == nil || p.study == nil {
		return
	}
	st := p.study
	var said string
	started := p.job.start(task, func(ctx context.Context, prog progressFunc) (err error) {
		said, err = call(ctx, st, prog)
		return err
	}, func(err error) {
		r.enable(true)
		switch {
		case p.study != st:
		case err != nil:
			p.stage.SetText(what + " failed: " + err.Error())
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
