package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/cmd/neuronova/internal/jobq"
	"github.com/neuronova/neuronova/inference/jobs"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
)

// m1Kept counts the M1 results kept for study uid.
func m1Kept(t *testing.T, c *cache.Cache, uid string) int {
	t.Helper()
	vs, err := c.StudyResults(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if v.Kind == "m1" {
			n++
		}
	}
	return n
}

// The window's M1 runs go through the job queue with the real pipeline: two identical runs are one job (both
// get its result, one result kept); after the window stops mid-run, the next start resumes the job, reading
// the cached study again, and keeps its result.
func TestWindowM1RunsThroughTheJobQueue(t *testing.T) {
	c := demoCache(t)
	ctx := context.Background()
	rt := cpuRuntime(t)
	uid := demo.Study().UID
	st, err := cacheExam(ctx, c, uid, viewer.ExamByDay, true)
	if err != nil {
		t.Fatal(err)
	}
	base := analyzer{rt: rt, cache: c}
	a := base
	if a.jobs = openWindowJobs(c, base, io.Discard); a.jobs == nil {
		t.Fatal("no job queue")
	}
	type got struct {
		res *ui.AIResult
		err error
	}
	results := make(chan got, 2)
	stages := make(chan string, 1000)
	for range 2 {
		go func() {
			res, err := a.RunM1(ctx, st, "", func(stage string, done, total int) {
				select {
				case stages <- stage:
				default:
				}
			})
			results <- got{res, err}
		}()
	}
	first, second := <-results, <-results
	if first.err != nil || second.err != nil || first.res == nil || first.res != second.res || first.res.Labels == nil {
		t.Fatalf("two identical runs: %+v, %+v", first, second)
	}
	if n := m1Kept(t, c, uid); n != 1 {
		t.Fatalf("%d M1 results kept for two identical runs", n)
	}
	list := a.jobs.List()
	if len(list) != 1 || list[0].State != jobs.Done || !list[0].Request.Resume || list[0].Request.Inputs["study"] != uid {
		t.Fatalf("jobs: %+v", list)
	}
	if len(stages) == 0 {
		t.Error("no progress reached the callers")
	}

	// Another series choice is another job; the window stops while it runs.
	chosen := *st
	chosen.Sequences = map[viewer.SeriesType]string{viewer.T1CE: st.Sequence(viewer.T1CE).UID}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := a.RunM1(runCtx, &chosen, "", nil); done <- err }()
	deadline := time.Now().Add(time.Minute)
	for {
		l := a.jobs.List()
		if len(l) == 2 && l[1].State == jobs.Running && l[1].Stage != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second job never ran: %+v", l)
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.jobs.Close() // as the window's end leaves it (a kill -9 does too: jobq's tests)
	stop()
	<-done
	id := a.jobs.List()[1].ID

	q := openWindowJobs(c, base, io.Discard)
	if q == nil {
		t.Fatal("no job queue after the restart")
	}
	defer q.Close()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	j, err := waitJob(wctx, q.Get, id)
	if err != nil || j.State != jobs.Done || j.Attempts != 2 || j.Request.Inputs["sequences"] != "T1CE="+chosen.Sequences[viewer.T1CE] {
		t.Fatalf("resumed job: %v %+v", err, j)
	}
	if n := m1Kept(t, c, uid); n != 2 {
		t.Fatalf("%d M1 results kept after the resumed run, want 2", n)
	}
}

// waitJob polls get until job id is finished.
func waitJob(ctx context.Context, get func(string) (jobs.Job, error), id string) (jobs.Job, error) {
	for {
		j, err := get(id)
		if err != nil || j.IsFinished() {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// The AI tab's jobs list through the UI driver with the real M1: a run shows running with its stage,
// Cancel in the list stops it (the panel says so, the job is cancelled, nothing kept); run again, the new
// job is listed done above it and its result kept.
func TestJobsListInTheAITab(t *testing.T) {
	dir := t.TempDir()
	if err := demo.Write(dir + "/demo"); err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(dir+"/cache", cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Import(context.Background(), []string{dir + "/demo"}, nil); err != nil {
		t.Fatal(err)
	}
	rt := cpuRuntime(t)
	test.NewTempApp(t)
	ui.SerializeCallbacks(&uiLock)
	uiLock.Lock()
	defer uiLock.Unlock()
	an := windowAnalyzer(rt, c, io.Discard)
	defer func() { // the closing worker may be showing a change
		uiLock.Unlock()
		an.closeJobs()
		uiLock.Lock()
	}()
	win := test.NewWindow(nil)
	defer win.Close()
	ws := ui.NewWorkstation(win.Canvas(), ui.Services{Library: library{c}, AI: an}, nil)
	list := an.showJobs(ws)
	if list == nil {
		t.Fatal("no jobs list")
	}
	win.SetContent(ws.Content())
	win.Resize(fyne.NewSize(1280, 800))
	waitUntil(t, "the worklist", func() bool { return len(ws.Worklist.Rows()) == 1 })
	ws.Worklist.OpenRow(0)
	waitUntil(t, "the study to open", func() bool { return ws.Reading.Study() != nil && ws.Reading.Study().UID == demo.Study().UID })

	ws.AI.Run()
	waitUntil(t, "the running job in the list", func() bool {
		rows := list.Rows()
		return len(rows) == 1 && strings.Contains(rows[0], "running  M1 study") && strings.Contains(rows[0], " — ")
	})
	list.CancelRow(0)
	waitUntil(t, "the cancelled run", func() bool {
		rows := list.Rows()
		return strings.Contains(ws.AI.Failure(), "canceled") && len(rows) == 1 && strings.Contains(rows[0], "cancelled")
	})
	if n := m1Kept(t, c, demo.Study().UID); n != 0 {
		t.Fatalf("%d M1 results kept by a cancelled run", n)
	}
	ws.AI.Run()
	waitUntil(t, "the second run's result", func() bool { return ws.AI.Result() != nil })
	waitUntil(t, "the second job done above the first", func() bool {
		rows := list.Rows()
		return len(rows) == 2 && strings.Contains(rows[0], "done  M1") && strings.Contains(rows[1], "cancelled")
	})
	if n := m1Kept(t, c, demo.Study().UID); n != 1 {
		t.Fatalf("%d M1 results kept, want 1", n)
	}
}

// MG and MM of the window go through the queue too: two identical MG runs are one job with one kept result;
// MM before and after an M1 result is kept are two jobs (the kept M1 is part of the request), the second
// reading the new embedding.
func TestWindowMGAndMMThroughTheJobQueue(t *testing.T) {
	c := demoCache(t)
	ctx := context.Background()
	rt := cpuRuntime(t)
	an := windowAnalyzer(rt, c, io.Discard)
	defer an.closeJobs()
	qa, ok := an.forWindow().(queuedAnalyzer)
	if !ok {
		t.Fatal("the window's analyzer does not queue MG and MM")
	}
	st, err := cacheExam(ctx, c, demo.Study().UID, viewer.ExamByDay, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	genes, prot := dir+"/genes.csv", dir+"/rppa.csv"
	for src, dst := range map[string]string{"mg-demo-example-1-grade4.csv": genes, "mm-demo-example-1-grade4-rppa.csv": prot} {
		b, err := os.ReadFile("../../assets/models/examples/" + src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noProgress := func(string, int, int) {}
	results := make(chan *ui.AIResult, 2)
	for range 2 {
		go func() {
			res, err := qa.RunMG(ctx, st, genes, noProgress)
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	if a, b := <-results, <-results; a == nil || a != b {
		t.Fatalf("two identical MG runs: %p and %p", a, b)
	}
	before, err := qa.RunMM(ctx, st, ui.MMInput{Genes: genes, Proteins: prot}, noProgress)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qa.RunM1(ctx, st, "", noProgress); err != nil {
		t.Fatal(err)
	}
	after, err := qa.RunMM(ctx, st, ui.MMInput{Genes: genes, Proteins: prot}, noProgress)
	if err != nil {
		t.Fatal(err)
	}
	if b, a := strings.Join(before.Lines, "\n"), strings.Join(after.Lines, "\n"); !strings.Contains(b, "MRI: not given") || strings.Contains(a, "MRI: not given") || !strings.Contains(a, "MRI: embedding of the M1 run") {
		t.Errorf("MM before M1:\n%s\nafter:\n%s", b, a)
	}
	count := map[string]int{}
	for _, j := range an.jobs.List() {
		if j.State != jobs.Done {
			t.Errorf("job %s %s: %s", j.Request.Model, j.State, j.Error)
		}
		count[j.Request.Model]++
	}
	if count["mg"] != 1 || count["mm"] != 2 || count["m1"] != 1 {
		t.Errorf("jobs by model: %v", count)
	}
	vs, err := c.StudyResults(ctx, demo.Study().UID)
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]int{}
	for _, v := range vs {
		kept[v.Kind]++
	}
	if kept["mg"] != 1 || kept["mm"] != 2 || kept["m1"] != 1 {
		t.Errorf("kept results by kind: %v", kept)
	}
}

// The window ends after a job kept its M1 result and before the job was marked done: the next start resumes
// the job, which finds its run kept (cache.RecordRunOnce under the job's name) and keeps nothing twice — one
// result, one SEG, two outbox messages.
func TestResumedJobKeepsItsResultOnce(t *testing.T) {
	c := demoCache(t)
	ctx := context.Background()
	rt := cpuRuntime(t)
	uid := demo.Study().UID
	base := analyzer{rt: rt, cache: c}

	// The first owner's runner keeps the result, then the window ends before the job is done.
	kept := make(chan error, 1)
	q, err := jobq.Open(c.Dir(), func(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
		_, _, err := base.runJob(ctx, req, att, p)
		kept <- err
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}, jobq.Options{Owner: ownerWindow})
	if err != nil {
		t.Fatal(err)
	}
	req := q.Request("m1", map[string]string{"study": uid}, nil, true)
	go q.Run(ctx, req, nil, nil)
	if err := <-kept; err != nil {
		t.Fatal(err)
	}
	q.Close()
	id := q.List()[0].ID
	if n := m1Kept(t, c, uid); n != 1 {
		t.Fatalf("%d M1 results kept by the first run", n)
	}

	w := openWindowJobs(c, base, io.Discard)
	if w == nil {
		t.Fatal("no job queue after the restart")
	}
	defer w.Close()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	j, err := waitJob(wctx, w.Get, id)
	if err != nil || j.State != jobs.Done || j.Attempts != 2 || !strings.Contains(string(j.Result), "not run again") {
		t.Fatalf("resumed job: %v %+v", err, j)
	}
	counts, err := c.OutboxCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := m1Kept(t, c, uid); n != 1 || counts.Pending != 2 {
		t.Fatalf("after the resumed job: %d M1 results, %d outbox messages; want 1 and 2 (result and SEG)", n, counts.Pending)
	}
}
