package ui

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/inference/jobs"
)

func (p *JobsPanel) row(id string) *jobRow {
	for _, r := range p.rows {
		if r.id == id && !r.box.Hidden {
			return r
		}
	}
	return nil
}

// rowShows reports whether job id's row holds all of parts.
func (p *JobsPanel) rowShows(id string, parts ...string) bool {
	r := p.row(id)
	if r == nil {
		return false
	}
	for _, s := range parts {
		if !strings.Contains(r.text.Text, s) {
			return false
		}
	}
	return true
}

// The jobs list on a real job store: a running job with its stage and progress bar, a waiting one, Cancel on
// each through the list, Retry; after the window stops mid-run, the next start lists the job interrupted.
func TestJobsPanelCancelAndRetry(t *testing.T) {
	newTestApp(t)
	var panel atomic.Pointer[JobsPanel]
	notify := jobs.WithNotify(func(jobs.Job) {
		if p := panel.Load(); p != nil {
			p.Refresh()
		}
	})
	runner := func(ctx context.Context, req jobs.Request, progress jobs.Progress) (json.RawMessage, error) {
		progress("inference", 1, 4)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	dir := t.TempDir()
	q, err := jobs.Open(dir, runner, jobs.WithWorkers(1), notify)
	if err != nil {
		t.Fatal(err)
	}
	p := NewJobsPanel(q)
	panel.Store(p)
	w := test.NewWindow(p.Content())
	defer w.Close()
	// The AI tab submits from a worker: the queue's change event reaches the list through fyne.Do.
	uiLock.Unlock()
	a, _, _ := q.Submit(jobs.Request{Model: "m1", Inputs: map[string]string{"study": "1.2.826.0.1.3680043.8.498.1001"}, GPU: true})
	b, _, _ := q.Submit(jobs.Request{Model: "m1", Inputs: map[string]string{"study": "1.2.826.0.1.3680043.8.498.2002"}, GPU: true})
	uiLock.Lock()
	waitFor(t, "the running and the waiting job", func() bool {
		return p.rowShows(a.ID, "running", "M1 study …", "8.498.1001", "inference 1/4") && p.rowShows(b.ID, "pending")
	})
	ra, rb := p.row(a.ID), p.row(b.ID)
	if rows := p.Rows(); len(rows) != 2 || !strings.Contains(rows[0], "2002") {
		t.Errorf("rows, latest first: %q", rows)
	}
	if ra.bar.Hidden || ra.bar.Value != 0.25 || ra.cancel.Hidden || !ra.retry.Hidden || !rb.bar.Hidden || rb.cancel.Hidden {
		t.Errorf("running row: bar hidden %v at %v, cancel hidden %v, retry hidden %v; waiting row: bar hidden %v, cancel hidden %v",
			ra.bar.Hidden, ra.bar.Value, ra.cancel.Hidden, ra.retry.Hidden, rb.bar.Hidden, rb.cancel.Hidden)
	}

	test.Tap(ra.cancel)
	waitFor(t, "the running job cancelled, the waiting one running", func() bool {
		return p.rowShows(a.ID, "cancelled", "cancelled while running") && p.rowShows(b.ID, "running")
	})
	if ra = p.row(a.ID); ra.retry.Hidden || !ra.cancel.Hidden || !ra.bar.Hidden {
		t.Errorf("cancelled row: retry hidden %v, cancel hidden %v", ra.retry.Hidden, ra.cancel.Hidden)
	}
	test.Tap(p.row(b.ID).cancel)
	waitFor(t, "the second job cancelled", func() bool { return p.rowShows(b.ID, "cancelled") })
	test.Tap(p.row(a.ID).retry)
	waitFor(t, "the retried job running", func() bool { return p.rowShows(a.ID, "running", "inference 1/4") })
	if j, _ := q.Get(a.ID); j.Attempts != 2 || j.Retries != 1 {
		t.Errorf("retried job: %d attempts, %d retries", j.Attempts, j.Retries)
	}

	// The window stops while a runs: the next start lists it interrupted, with Retry.
	uiLock.Unlock() // the closing worker may be showing a change
	q.Close()
	uiLock.Lock()
	q2, err := jobs.Open(dir, runner, jobs.WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	p2 := NewJobsPanel(q2)
	waitFor(t, "the interrupted job", func() bool { return p2.rowShows(a.ID, "interrupted", "stopped while the job was running") })
	if r := p2.row(a.ID); r.retry.Hidden || !r.cancel.Hidden {
		t.Errorf("interrupted row: retry hidden %v, cancel hidden %v", r.retry.Hidden, r.cancel.Hidden)
	}
	// Cancelling what has finished says why in the panel.
	p2.act(a.ID, q2.Cancel)
	waitFor(t, "the refusal", func() bool { return strings.Contains(p2.note.Text, "already finished") })
}
