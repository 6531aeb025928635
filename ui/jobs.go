package ui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/inference/jobs"
)

// JobQueue is the workstation's AI job queue as the jobs list uses it; cmd/neuronova's queue implements it.
type JobQueue interface {
	List() []jobs.Job // oldest first
	Cancel(id string) error
	Retry(id string) error
}

// jobRows is how many jobs the list shows, latest first.
const jobRows = 8

// JobsPanel lists the AI jobs, latest first: state, model, study, stage and progress, with Cancel for a job
// that waits or runs and Retry for one interrupted, failed or cancelled.
type JobsPanel struct {
	q    JobQueue
	note *widget.Label // why the last Cancel or Retry failed
	list *fyne.Container
	rows []*jobRow
	box  *fyne.Container
}

type jobRow struct {
	id            string
	text          *widget.Label
	bar           *widget.ProgressBar
	cancel, retry *widget.Button
	box           *fyne.Container
}

// NewJobsPanel makes the list of q's jobs; Refresh brings it up to date.
func NewJobsPanel(q JobQueue) *JobsPanel {
	p := &JobsPanel{q: q, note: widget.NewLabel(""), list: container.NewVBox()}
	p.note.Wrapping = fyne.TextWrapWord
	p.box = container.NewVBox(widget.NewLabel("AI jobs (one model run at a time), latest first:"), p.list, p.note)
	p.show(p.latest())
	return p
}

// Content is the panel's canvas object.
func (p *JobsPanel) Content() fyne.CanvasObject { return p.box }

// Refresh reads the queue and shows it; it may be called from any goroutine (the queue's change events).
func (p *JobsPanel) Refresh() {
	list := p.latest()
	do(func() { p.show(list) })
}

// latest is the queue's jobs the list shows, latest first.
func (p *JobsPanel) latest() []jobs.Job {
	list := p.q.List()
	slices.Reverse(list)
	return list[:min(len(list), jobRows)]
}

// Rows are the rows' texts, latest job first.
func (p *JobsPanel) Rows() []string {
	var out []string
	for _, r := range p.rows {
		if !r.box.Hidden {
			out = append(out, r.text.Text)
		}
	}
	return out
}

func (p *JobsPanel) show(list []jobs.Job) {
	for len(p.rows) < len(list) {
		r := &jobRow{text: widget.NewLabel(""), bar: widget.NewProgressBar()}
		r.text.Wrapping = fyne.TextWrapWord
		r.cancel = widget.NewButton("Cancel", func() { p.act(r.id, p.q.Cancel) })
		r.retry = widget.NewButton("Retry", func() { p.act(r.id, p.q.Retry) })
		r.box = container.NewVBox(r.text, container.NewBorder(nil, nil, nil, container.NewHBox(r.cancel, r.retry), r.bar))
		p.rows = append(p.rows, r)
		p.list.Add(r.box)
	}
	for i, r := range p.rows {
		if i >= len(list) {
			r.box.Hide()
			continue
		}
		j := list[i]
		r.id = j.ID
		r.text.SetText(jobLine(j))
		setVisible(r.cancel, !j.IsFinished())
		setVisible(r.retry, j.State == jobs.Interrupted || j.State == jobs.Failed || j.State == jobs.Cancelled)
		setVisible(r.bar, j.State == jobs.Running)
		if j.Total > 0 {
			r.bar.SetValue(float64(j.Done) / float64(j.Total))
		} else {
			r.bar.SetValue(0)
		}
		r.box.Show()
	}
}

// CancelRow and RetryRow do what the i-th row's buttons do (latest job first).
func (p *JobsPanel) CancelRow(i int) { p.tapRow(i, func(r *jobRow) *widget.Button { return r.cancel }) }

// RetryRow: see CancelRow.
func (p *JobsPanel) RetryRow(i int) { p.tapRow(i, func(r *jobRow) *widget.Button { return r.retry }) }

func (p *JobsPanel) tapRow(i int, button func(*jobRow) *widget.Button) {
	if i < 0 || i >= len(p.rows) || p.rows[i].box.Hidden {
		return
	}
	if b := button(p.rows[i]); !b.Hidden {
		b.OnTapped()
	}
}

// act cancels or retries job id in a worker, then shows the queue again.
func (p *JobsPanel) act(id string, f func(string) error) {
	if id == "" {
		return
	}
	go func() {
		err := f(id)
		do(func() {
			if err != nil {
				p.note.SetText(err.Error())
			} else {
				p.note.SetText("")
			}
		})
		p.Refresh()
	}()
}

func setVisible(o fyne.CanvasObject, on bool) {
	if on {
		o.Show()
	} else {
		o.Hide()
	}
}

// jobLine is a job as the list shows it: when, state, model, on what, then its stage or its error.
func jobLine(j jobs.Job) string {
	what := j.Request.Inputs["study"]
	if what != "" {
		what = "study " + shortUID(what)
	} else {
		var files []string
		for _, role := range []string{"input", "genes", "proteins"} {
			if f := j.Request.Inputs[role]; f != "" {
				files = append(files, filepath.Base(f))
			}
		}
		what = strings.Join(files, ", ")
	}
	line := fmt.Sprintf("%s  %s  %s %s", j.Created.Local().Format("15:04"), j.State, strings.ToUpper(j.Request.Model), what)
	if j.Request.Params["via"] == "cli" {
		line += " (command line)"
	}
	switch {
	case j.State == jobs.Running && j.Total > 0:
		line += fmt.Sprintf(" — %s %d/%d", j.Stage, j.Done, j.Total)
	case j.State == jobs.Running && j.Stage != "":
		line += " — " + j.Stage
	case j.Error != "":
		line += " — " + j.Error
	}
	return line
}

// shortUID keeps the end of a long UID, which tells studies apart.
func shortUID(uid string) string {
	if len(uid) <= 16 {
		return uid
	}
	return "…" + uid[len(uid)-14:]
}

// ShowJobs adds the jobs list under the AI tab's run controls.
func (p *AIPanel) ShowJobs(j *JobsPanel) {
	p.box.Add(widget.NewSeparator())
	p.box.Add(j.Content())
}
