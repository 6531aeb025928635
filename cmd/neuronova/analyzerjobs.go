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

	"fyne.io/fyne/v2"

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
	a.jobs.Subscribe(func(j jobs.Job) {
		list.Refresh()
		if j.State == jobs.Done && (j.Attempts > 1 || j.Retries > 0) {
			fyne.Do(ws.AI.Refresh) // a resumed or retried run: its result joins the open study's versions
		}
	})
	ws.AI.ShowJobs(list)
	return list
}

// openWindowJobs opens the job queue beside cache c for the window, whose model runs a does. Nil, said on
// stderr, when another process owns it or it cannot be opened: the window then runs models without it.
func openWindowJobs(c *cache.Cache, a analyzer, stderr io.Writer) *jobq.Queue {
	a.jobs = nil // the runner runs the model itself
	q, err := jobq.Open(c.Dir(), a.runJob, jobq.Options{Owner: ownerWindow})
	if err != nil {
		fmt.Fprintf(stderr, "neuronova: model runs go without the job queue: %v\n", err)
		return nil
	}
	saySetAside(q, stderr)
	return q
}

// saySetAside tells stderr of the files q's store set aside, not being jobs.
func saySetAside(q *jobq.Queue, stderr io.Writer) {
	for _, err := range q.SetAside() {
		fmt.Fprintf(stderr, "neuronova: job queue: %v\n", err)
	}
}

// queued runs model on st as a job of the queue, keyed by inputs and params: an identical run under way is
// joined, another waits its turn, and ending ctx cancels the job. It resumes after a crash when st is in the
// cache, where the runner reads it again.
func (a analyzer) queued(ctx context.Context, model string, st *viewer.Study, inputs, params map[string]string, p func(stage string, done, total int)) (*ui.AIResult, error) {
	cached := false
	if a.cache != nil {
		_, err := a.cache.StudyInfo(ctx, st.UID)
		cached = err == nil
	}
	inputs["study"] = st.UID
	_, v, err := a.jobs.Run(ctx, a.jobs.Request(model, inputs, params, cached), st, p)
	if err != nil {
		return nil, err
	}
	res, ok := v.(*ui.AIResult)
	if !ok {
		return nil, fmt.Errorf("the %s job ended without a result in this session", strings.ToUpper(model))
	}
	return res, nil
}

// queuedM1 runs M1 on st for orderID through the queue, keyed by the study, the reader's choice of
// sequences, the study's series (another series imported is another request) and the order.
func (a analyzer) queuedM1(ctx context.Context, st *viewer.Study, orderID string, p func(stage string, done, total int)) (*ui.AIResult, error) {
	inputs := map[string]string{}
	if s := sequencesText(st.Sequences); s != "" {
		inputs["sequences"] = s
	}
	uids := make([]string, 0, len(st.Series))
	for _, se := range st.Series {
		uids = append(uids, fmt.Sprintf("%s:%d", se.UID, len(se.Instances)))
	}
	slices.Sort(uids)
	sum := sha256.Sum256([]byte(strings.Join(uids, ",")))
	return a.queued(ctx, "m1", st, inputs, map[string]string{"order": orderID, "series_set": hex.EncodeToString(sum[:])}, p)
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

// queuedAnalyzer is the window's analyzer when it has a job queue: its MG and MM runs go through the queue
// too (M1's do in analyzer.RunM1).
type queuedAnalyzer struct{ analyzer }

var _ ui.OmicsAnalyzer = queuedAnalyzer{}

// forWindow is a as the window's AI tab uses it.
func (a analyzer) forWindow() ui.Analyzer {
	if a.jobs == nil {
		return a
	}
	return queuedAnalyzer{a}
}

// RunMG runs MG through the queue, keyed by the study and the gene CSV's path and content.
func (a queuedAnalyzer) RunMG(ctx context.Context, st *viewer.Study, genes string, p func(stage string, done, total int)) (*ui.AIResult, error) {
	return a.queued(ctx, "mg", st, map[string]string{"genes": genes}, fileSums(map[string]string{"genes": genes}), p)
}

// RunMM runs MM through the queue, keyed by the study, its latest kept M1 result (the MRI embedding MM
// reads) and the CSVs' paths and contents.
func (a queuedAnalyzer) RunMM(ctx context.Context, st *viewer.Study, in ui.MMInput, p func(stage string, done, total int)) (*ui.AIResult, error) {
	files := map[string]string{"genes": in.Genes, "proteins": in.Proteins}
	inputs := map[string]string{}
	for k, v := range files {
		if v != "" {
			inputs[k] = v
		}
	}
	params := fileSums(files)
	if a.cache != nil {
		params["m1_kept"] = latestM1(ctx, a.cache, st)
	}
	return a.queued(ctx, "mm", st, inputs, params, p)
}

// fileSums are the SHA-256 of the files named (role → path), as role_sha256; a file that cannot be read is
// left out (the run says why).
func fileSums(files map[string]string) map[string]string {
	out := map[string]string{}
	for role, path := range files {
		if path != "" {
			if sum, err := jobq.FileSHA256(path); err == nil {
				out[role+"_sha256"] = sum
			}
		}
	}
	return out
}

// latestM1 names the latest M1 result kept for a study of exam st ("" none).
func latestM1(ctx context.Context, c *cache.Cache, st *viewer.Study) string {
	var latest int64
	seen := map[string]bool{}
	for _, se := range st.Series {
		uid := st.StudyOf(se).UID
		if seen[uid] {
			continue
		}
		seen[uid] = true
		vs, _ := c.StudyResults(ctx, uid)
		for _, v := range vs {
			if v.Kind == "m1" && v.ID > latest {
				latest = v.ID
			}
		}
	}
	if latest == 0 {
		return ""
	}
	return fmt.Sprint(latest)
}

// runJob is the window's job runner. A job without its study attached (resumed after a crash, or retried)
// reads the study from the cache.
func (a analyzer) runJob(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
	if req.Params[paramVia] == "cli" {
		return nil, nil, fmt.Errorf("a `neuronova infer` job runs from the command line only: run it there again")
	}
	switch req.Model {
	case "m1", "mg", "mm":
	default:
		return nil, nil, fmt.Errorf("the window runs no %q jobs", req.Model)
	}
	if kept, err := a.keptBefore(ctx); err != nil || kept {
		if err != nil {
			return nil, nil, err
		}
		js, err := json.Marshal(map[string]any{"model": req.Model, "kept": "the local cache, before the window closed (not run again)"})
		return js, nil, err
	}
	st, _ := att.(*viewer.Study)
	uid := req.Inputs["study"]
	if st == nil {
		if a.cache == nil {
			return nil, nil, fmt.Errorf("study %s: no local cache to read it from", uid)
		}
		var err error
		if st, err = cacheExam(ctx, a.cache, uid, viewer.ExamByDay, true); err != nil {
			return nil, nil, fmt.Errorf("study %s is not in the local cache (open it and run the model again): %w", uid, err)
		}
	}
	var res *ui.AIResult
	var err error
	switch req.Model {
	case "m1":
		seq, perr := parseSeriesChoice(req.Inputs["sequences"])
		if perr != nil {
			return nil, nil, fmt.Errorf("the job's sequences: %w", perr)
		}
		res, err = a.runM1(ctx, st, seq, req.Params["order"], p)
	case "mg":
		res, err = a.RunMG(ctx, st, req.Inputs["genes"], p)
	default:
		res, err = a.RunMM(ctx, st, ui.MMInput{Genes: req.Inputs["genes"], Proteins: req.Inputs["proteins"]}, p)
	}
	if err != nil {
		return nil, nil, err
	}
	js, err := json.Marshal(map[string]any{"model": res.Model, "findings": res.Lines, "kept": res.Saved})
	return js, res, err
}

// runKey names the run of the job ctx runs ("" outside a job) for cache.RecordRunOnce: a job resumed after a
// restart names its run as before, a retried one anew.
func runKey(ctx context.Context) string {
	r, ok := jobs.Current(ctx)
	if !ok {
		return ""
	}
	return fmt.Sprintf("job %s/%d", r.ID, r.Retries)
}

// keptBefore reports whether the run of the job ctx runs was kept already: the window ended after keeping
// its result and before the job was marked done.
func (a analyzer) keptBefore(ctx context.Context) (bool, error) {
	key := runKey(ctx)
	if a.cache == nil || key == "" {
		return false, nil
	}
	return a.cache.RunRecorded(ctx, key)
}
