package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/neuronova/neuronova/cmd/neuronova/internal/jobq"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/jobs"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
)

// windowAnalyzer is the window's analyzer on rt and c (nil: no cache), its runs going through the job queue
// beside the cache when there is one.
func windowAnalyzer(rt *inference.Runtime, c *cache.Cache, stderr io.Writer) analyzer {
	a := analyzer{rt: rt, cache: c}
	if c != nil {
		a.jobs = openWindowJobs(c, a, stderr)
	}
	return a
}

// closeJobs stops a's queue: a job running stays running on disk, for the next start to resume or mark
// interrupted.
func (a analyzer) closeJobs() {
	if a.jobs != nil {
		a.jobs.Close()
	}
}

// showJobs puts the list of a's jobs in ws's AI tab, refreshed as they change; nil without a queue.
func (a analyzer) showJobs(ws *ui.Workstation) *ui.JobsPanel {
	if a.jobs == nil {
		return nil
	}
	list := ui.NewJobsPanel(a.jobs)
	a.jobs.Subscribe(func(jobs.Job) { list.Refresh() })
	ws.AI.ShowJobs(list)
	return list
}

// openWindowJobs opens the job queue beside cache c for the window, whose model runs a does. Nil, said on
// stderr, when another process owns it or it cannot be opened: the window then runs models without it.
func openWindowJobs(c *cache.Cache, a analyzer, stderr io.Writer) *jobq.Queue {
	a.jobs = nil // the runner runs the model itself
	q, err := jobq.Open(c.Dir(), a.runJob, jobq.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "neuronova: model runs go without the job queue: %v\n", err)
		return nil
	}
	return q
}

// m1Request is the queue's request for M1 on st for orderID: the study, the reader's choice of sequences and
// the study's series (another series imported is another request). It resumes after a crash when st is in
// the cache, where the runner reads it again.
func (a analyzer) m1Request(ctx context.Context, st *viewer.Study, orderID string) jobs.Request {
	inputs := map[string]string{"study": st.UID}
	if s := sequencesText(st.Sequences); s != "" {
		inputs["sequences"] = s
	}
	uids := make([]string, 0, len(st.Series))
	for _, se := range st.Series {
		uids = append(uids, fmt.Sprintf("%s:%d", se.UID, len(se.Instances)))
	}
	slices.Sort(uids)
	sum := sha256.Sum256([]byte(strings.Join(uids, ",")))
	cached := false
	if a.cache != nil {
		_, err := a.cache.StudyInfo(ctx, st.UID)
		cached = err == nil
	}
	return a.jobs.Request("m1", inputs, map[string]string{"order": orderID, "series_set": hex.EncodeToString(sum[:])}, cached)
}

// sequencesText writes a choice of sequences as --series does: TYPE=UID, sorted.
func sequencesText(m map[viewer.SeriesType]string) string {
	var parts []string
	for t, uid := range m {
		if uid != "" {
			parts = append(parts, string(t)+"="+uid)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// queuedM1 runs M1 on st as a job of the queue: an identical run under way is joined, another waits its
// turn, and ending ctx cancels the job.
func (a analyzer) queuedM1(ctx context.Context, st *viewer.Study, orderID string, p func(stage string, done, total int)) (*ui.AIResult, error) {
	_, v, err := a.jobs.Run(ctx, a.m1Request(ctx, st, orderID), st, p)
	if err != nil {
		return nil, err
	}
	res, ok := v.(*ui.AIResult)
	if !ok {
		return nil, fmt.Errorf("the M1 job ended without a result in this session")
	}
	return res, nil
}

// runJob is the window's job runner. A job without its study attached (resumed after a crash, or retried)
// reads the study from the cache.
func (a analyzer) runJob(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
	if req.Params[paramVia] == "cli" {
		return nil, nil, fmt.Errorf("a `neuronova infer` job runs from the command line only: run it there again")
	}
	if req.Model != "m1" {
		return nil, nil, fmt.Errorf("the window runs no %q jobs", req.Model)
	}
	st, _ := att.(*viewer.Study)
	uid := req.Inputs["study"]
	if st == nil {
		if a.cache == nil {
			return nil, nil, fmt.Errorf("study %s: no local cache to read it from", uid)
		}
		var err error
		if st, err = cacheExam(ctx, a.cache, uid, viewer.ExamByDay, true); err != nil {
			return nil, nil, fmt.Errorf("study %s is not in the local cache (open it and run M1 again): %w", uid, err)
		}
	}
	seq, err := parseSeriesChoice(req.Inputs["sequences"])
	if err != nil {
		return nil, nil, fmt.Errorf("the job's sequences: %w", err)
	}
	res, err := a.runM1(ctx, st, seq, req.Params["order"], p)
	if err != nil {
		return nil, nil, err
	}
	js, err := json.Marshal(map[string]any{"model": res.Model, "findings": res.Lines, "kept": res.Saved})
	return js, res, err
}
