package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/ui"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

// workerArgsEnv carries a worker subprocess's command line (JSON) to TestWorkerProcess.
const workerArgsEnv = "NN_WORKER_ARGS"

// TestWorkerProcess is not a test: it is `neuronova worker` run as a subprocess of this test binary by
// TestServerJobsRunByWorker (skipped otherwise).
func TestWorkerProcess(t *testing.T) {
	raw := os.Getenv(workerArgsEnv)
	if raw == "" {
		t.Skip(workerArgsEnv + " is unset: this is not a test but the `neuronova worker` subprocess that TestServerJobsRunByWorker starts with it")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// workerProc is a `neuronova worker` subprocess whose output lines the test reads.
type workerProc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func startWorker(t *testing.T, url, user, password, data string) *workerProc {
	t.Helper()
	args, _ := json.Marshal([]string{"worker", "--data", data, "--provider", "cpu", "--poll", "1s"})
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), workerArgsEnv+"="+string(args), "NEURONOVA_SERVER="+url, "NEURONOVA_USER="+user,
		"NEURONOVA_PASSWORD="+password)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	w := &workerProc{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		pw.Close()
	}()
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
		<-w.done
		t.Logf("worker %d:\n%s", cmd.Process.Pid, w.output())
	})
	return w
}

func (w *workerProc) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// waitLine waits for an output line matching re and returns its submatches.
func (w *workerProc) waitLine(t *testing.T, re string, timeout time.Duration) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		for _, l := range w.lines {
			if m := rx.FindStringSubmatch(l); m != nil {
				w.mu.Unlock()
				return m
			}
		}
		w.mu.Unlock()
		select {
		case <-w.done:
			t.Fatalf("the worker ended without a line matching %q:\n%s", re, w.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker line matching %q within %v:\n%s", re, timeout, w.output())
		}
	}
}

// stop ends the worker with SIGTERM and checks that it stops cleanly.
func (w *workerProc) stop(t *testing.T) {
	t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the worker did not stop on SIGTERM:\n%s", w.output())
	}
	for w.cmd.ProcessState == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if code := w.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the worker stopped by SIGTERM exited %d", code)
	}
}

// resultsOfJob counts the server's AI results of a patient that a job produced.
func resultsOfJob(t *testing.T, cl *client.Client, patient int64, job string) int {
	t.Helper()
	rs, err := cl.AIResults(context.Background(), patient, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.JobID == job {
			n++
		}
	}
	return n
}

// cachedResultsOfJob counts the server results of a study in a workstation's cache that a job produced.
func cachedResultsOfJob(t *testing.T, data, studyUID, job string) int {
	t.Helper()
	c, err := cache.Open(data, cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rs, err := c.StudyServerResults(context.Background(), studyUID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.JobID == job {
			n++
		}
	}
	return n
}

// signedIn opens the cache at data (the caller closes it) with an engine signed in to stack as user.
func signedIn(t *testing.T, stack *testsvc.Stack, data, user string) (*cache.Cache, *client.Client, *engine.Engine) {
	t.Helper()
	c, err := cache.Open(data, cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(stack.URL, client.Options{})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	e := engine.New(c, cl, engine.Options{Logger: discardLogger(), BcryptCost: 4, NoPrefetch: true})
	if _, err := e.Login(context.Background(), user, stack.Accounts[user]); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, cl, e
}

// jobSyncRound runs one sync round of the cache at data as user (no prefetch).
func jobSyncRound(t *testing.T, stack *testsvc.Stack, data, user string) {
	t.Helper()
	ctx := context.Background()
	c, _, e := signedIn(t, stack, data, user)
	defer c.Close()
	if sum, err := e.Round(ctx, nil); err != nil || sum.Failed > 0 {
		t.Fatalf("%s's sync round: %+v %v", user, sum, err)
	}
}

// windowRunOnServer is the window's "Run M1 on the server" (the AI panel's ServerRunner, the clinic adapter of
// the doctor's signed-in engine): it reports the job's steps and returns once the result is in the cache,
// once.
func windowRunOnServer(t *testing.T, stack *testsvc.Stack, data, studyUID string) {
	t.Helper()
	ctx := context.Background()
	c, err := cache.Open(data, cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := client.New(stack.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(c, cl, engine.Options{Logger: discardLogger(), BcryptCost: 4, NoPrefetch: true})
	k := newClinic(e, c)
	st, err := cacheExam(ctx, c, studyUID, viewer.ExamByStudy, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.RunM1OnServer(ctx, st, "", func(string, int, int) {}); err == nil {
		t.Error("a run on the server without a session was sent")
	}
	if _, err := e.Login(ctx, "doctor1", stack.Accounts["doctor1"]); err != nil {
		t.Fatal(err)
	}
	var stages []string
	said, err := k.RunM1OnServer(ctx, st, "", func(stage string, _, _ int) { stages = append(stages, stage) })
	m := regexp.MustCompile(`^job (\w+) done: result `).FindStringSubmatch(said)
	if err != nil || m == nil {
		t.Fatalf("the window's run on the server: %q %v (steps %q)", said, err, stages)
	}
	if len(stages) < 3 || !strings.Contains(stages[0], "queued") || !strings.Contains(strings.Join(stages, "\n"), "running") {
		t.Errorf("the window was told %q", stages)
	}
	rs, err := c.StudyServerResults(ctx, studyUID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.JobID == m[1] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("after the window's run the cache holds %d results of job %s, want 1", n, m[1])
	}

	// MG and MM on the server from the AI tab, with their CSVs.
	examples := "../../assets/models/examples/"
	for model, run := range map[string]func() (string, error){
		api.ModelMG: func() (string, error) {
			return k.RunMGOnServer(ctx, st, examples+"mg-demo-example-1-grade4.csv", func(string, int, int) {})
		},
		api.ModelMM: func() (string, error) {
			return k.RunMMOnServer(ctx, st, ui.MMInput{Proteins: examples + "mm-demo-example-1-grade4-rppa.csv"}, func(string, int, int) {})
		},
	} {
		said, err := run()
		m := regexp.MustCompile(`^job (\w+) done: result (\S+),`).FindStringSubmatch(said)
		if err != nil || m == nil {
			t.Fatalf("the window's %s run on the server: %q %v", model, said, err)
		}
		r, err := k.cl.AIResult(ctx, m[2])
		if err != nil || r.Model != model || r.JobID != m[1] {
			t.Errorf("the window's %s job left %+v %v", model, r, err)
		}
	}
}

// windowRunOnExam is "Run M1 on the server" on an exam written one study per series (as some converters
// write a session), uploaded to Orthanc and pulled into the doctor's cache: the job names the exam's other
// studies, the worker pulls and merges all four, and the result is kept once under the study of the
// reference series, whose SEG comes back into the cache. M1 of one of those studies alone fails for good at
// once (a missing sequence is no reason to retry).
func windowRunOnExam(t *testing.T, stack *testsvc.Stack, data string, patient api.Patient) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	mem, err := demo.NewStudy(demo.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	mem.PatientID = patient.Number // the registered patient's, as the server's upload rewrites it
	files, err := dcmwrite.WriteStudy(dir, mem, dcmwrite.StudyPerSeries())
	if err != nil || len(files) == 0 {
		t.Fatalf("the per-series demo: %d files, %v", len(files), err)
	}
	opened, err := viewer.Open(ctx, []string{dir})
	if err != nil || len(opened.Studies) != 4 {
		t.Fatalf("the per-series demo: %v studies, %v", len(opened.Studies), err)
	}
	uids := map[string]bool{}
	for _, st := range opened.Studies {
		uids[st.UID] = true
	}
	c, cl, e := signedIn(t, stack, data, "doctor1")
	defer c.Close()
	for _, f := range files { // through the server, which checks the identity and refreshes the patient's studies
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.UploadInstance(ctx, b); err != nil {
			t.Fatalf("upload %s: %v", f, err)
		}
	}
	studies, err := cl.PatientStudies(ctx, patient.ID)
	if err != nil {
		t.Fatal(err)
	}
	var members []*viewer.Study
	for _, s := range studies {
		if !uids[s.StudyInstanceUID] {
			continue
		}
		if sum, err := e.Prefetch(ctx, s.OrthancID, nil); err != nil || sum.PullFailed > 0 {
			t.Fatalf("the doctor's pull of %s: %+v %v", s.StudyInstanceUID, sum, err)
		}
		st, err := c.OpenStudy(ctx, s.StudyInstanceUID)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, st)
	}
	if len(members) != 4 {
		t.Fatalf("the archive lists %d of the 4 studies: %+v (the demo's patient %q)", len(members), studies, opened.Studies[0].PatientID)
	}
	// One member alone lacks three sequences: the job fails for good on its first delivery.
	lone := onServer{c: c, cl: cl, e: e, say: func(string) {}}
	if _, err := lone.run(ctx, api.ModelM1, []string{members[0].UID}, "", nil, time.Minute); err == nil ||
		!strings.Contains(err.Error(), "failed after 1 deliveries") || !strings.Contains(err.Error(), "missing sequence") {
		t.Fatalf("M1 of one study of the exam: %v, want it failed for good", err)
	}
	exam := viewer.Merge(members)
	var stages []string
	said, err := newClinic(e, c).RunM1OnServer(ctx, exam, "", func(stage string, _, _ int) { stages = append(stages, stage) })
	m := regexp.MustCompile(`^job (\w+) done: result (\S+),`).FindStringSubmatch(said)
	if err != nil || m == nil || !strings.Contains(strings.Join(stages, "\n"), "pulled 1 new instances of the exam's 4 studies") {
		t.Fatalf("the window's run on an exam: %q %v (steps %q)", said, err, stages)
	}
	r, err := cl.AIResult(ctx, m[2])
	own := exam.StudyOf(exam.SeriesByType(viewer.T1CE)).UID
	if err != nil || r.JobID != m[1] || r.StudyUID != own {
		t.Fatalf("the exam's result: %+v %v; want it under the T1CE series' study %s", r, err, own)
	}
	if n, err := stack.CountSOP(segUID(&api.Job{ID: m[1]}, "instance")); err != nil || n != 1 {
		t.Errorf("Orthanc holds %d SEGs of job %s (%v), want 1", n, m[1], err)
	}
	rs, err := c.StudyServerResults(ctx, own)
	n := 0
	for _, x := range rs {
		if x.JobID == m[1] {
			n++
		}
	}
	if err != nil || n != 1 {
		t.Errorf("the doctor's cache holds %d results of the exam's job %s (%v), want 1", n, m[1], err)
	}
	st, err := c.OpenStudy(ctx, own)
	if err != nil || len(st.SEGs) != 1 {
		t.Errorf("the T1CE study in the doctor's cache lists %d SEGs (%v), want the job's", len(st.SEGs), err)
	}
}

// TestServerJobsRunByWorker is issue 14's "must show" for the server's queue, against a real server, Redis
// and Orthanc and M1 on ONNX Runtime: the doctor's workstation (no model run of its own) sends M1 of its cached
// demo study with `neuronova infer --on-server`; one of two `neuronova worker` subprocesses (the RIS account)
// claims it, pulls the study through the proxy, runs M1 (longer than the 3 s visibility timeout: the lease is
// renewed, the other worker never gets the job), stores the SEG and completes the job; the doctor is notified
// (JOB_FINISHED, AI_RESULT), and the doctor's cache holds the result once, and still once after a sync round;
// the server holds one result of the job and Orthanc one SEG. An MG job (its gene CSV sent with it) and an MM
// job (its gene and protein CSVs) come back the same way. A second M1 job's worker is killed -9 right after its claim: the job stays running with no
// result, and after the visibility timeout another worker claims it (delivery 2) and completes it once — one
// result, one SEG. The window's "Run M1 on the server" path (windowRunOnServer) brings its job's result into
// the cache once, and on an exam written one study per series the worker pulls and merges its four studies
// (windowRunOnExam). SIGTERM stops a worker cleanly, idle or mid-run (the job queued again at once).
func TestServerJobsRunByWorker(t *testing.T) {
	testsvc.RequireStack(t)
	if _, closeRT, err := inferRuntime("", "cpu", 1); err != nil {
		t.Fatal(err)
	} else {
		closeRT()
	}
	t.Setenv("NEURONOVA_JOB_VISIBILITY", "3s") // the server inherits it
	stack, err := testsvc.StartStack(testsvc.StackOptions{Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.Close()
	ctx := context.Background()
	dir := t.TempDir()
	docData, workerData := filepath.Join(dir, "doctor"), filepath.Join(dir, "worker")

	// The doctor's workstation pulls the demo study through the proxy.
	dc, err := cache.Open(docData, cache.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(stack.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(dc, cl, engine.Options{Logger: discardLogger(), BcryptCost: 4, NoPrefetch: true})
	if _, err := e.Login(ctx, "doctor1", stack.Accounts["doctor1"]); err != nil {
		t.Fatal(err)
	}
	ps, err := cl.Patients(ctx, "Demo Phantom", 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("the demo patient: %+v %v", ps, err)
	}
	patient := ps[0].ID
	studies, err := cl.PatientStudies(ctx, patient)
	if err != nil || len(studies) != 1 {
		t.Fatalf("the demo patient's studies: %+v %v", studies, err)
	}
	studyUID := studies[0].StudyInstanceUID
	if sum, err := e.Prefetch(ctx, studies[0].OrthancID, nil); err != nil || sum.PullFailed > 0 {
		t.Fatalf("the doctor's pull: %+v %v", sum, err)
	}
	dc.Close()
	notes, err := cl.Notifications(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer notes.Close()
	var noteMu sync.Mutex
	var got []api.Notification
	go func() {
		for {
			n, err := notes.Next(ctx)
			if err != nil {
				return
			}
			noteMu.Lock()
			got = append(got, n)
			noteMu.Unlock()
		}
	}()

	// A job run by the worker reaches the submitter once.
	w0 := startWorker(t, stack.URL, "ris1", stack.Accounts["ris1"], workerData)
	other := startWorker(t, stack.URL, "ris1", stack.Accounts["ris1"], filepath.Join(dir, "worker2"))
	w0.waitLine(t, `waiting for M1, MG and MM jobs`, 30*time.Second)
	other.waitLine(t, `waiting for M1, MG and MM jobs`, 30*time.Second)
	t.Setenv("NEURONOVA_SERVER", stack.URL)
	t.Setenv("NEURONOVA_USER", "doctor1")
	t.Setenv("NEURONOVA_PASSWORD", stack.Accounts["doctor1"])
	start := time.Now()
	code, out, errOut := runCmd("infer", "--model", "m1", "--input", studyUID, "--on-server", "--data", docData, "--wait", "2m")
	if code != 0 {
		t.Fatalf("infer --on-server: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("infer --on-server in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	m := regexp.MustCompile(`job (\w+) done: result (\S+),`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "pulled 1 new instances") {
		t.Fatalf("infer --on-server says:\n%s", out)
	}
	job := m[1]
	// The run outlasts the 3 s visibility timeout: renewed, the lease stays with the worker that claimed it.
	if j, err := cl.Job(ctx, job); err != nil || j.Attempts != 1 {
		t.Errorf("job %s: %+v %v, want done on its first delivery", job, j, err)
	}
	if a, b := strings.Contains(w0.output(), job+" claimed"), strings.Contains(other.output(), job+" claimed"); a == b {
		t.Errorf("job %s claimed by the first worker %v, by the second %v; want exactly one", job, a, b)
	}
	if n := cachedResultsOfJob(t, docData, studyUID, job); n != 1 {
		t.Errorf("the doctor's cache holds %d results of job %s, want 1", n, job)
	}
	jobSyncRound(t, stack, docData, "doctor1")
	if n := cachedResultsOfJob(t, docData, studyUID, job); n != 1 {
		t.Errorf("after a sync round the doctor's cache holds %d results of job %s, want 1", n, job)
	}
	if n := resultsOfJob(t, cl, patient, job); n != 1 {
		t.Errorf("the server holds %d results of job %s, want 1", n, job)
	}
	if n, err := stack.CountSOP(segUID(&api.Job{ID: job}, "instance")); err != nil || n != 1 {
		t.Errorf("Orthanc holds %d SEGs of job %s (%v), want 1", n, job, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for kinds := map[string]bool{}; len(kinds) < 2; {
		noteMu.Lock()
		for _, n := range got {
			if n.JobID == job && n.Type == api.EventJobFinished || n.ResultID == m[2] && n.Type == api.EventAIResult {
				kinds[n.Type] = true
			}
		}
		noteMu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the doctor was notified of %v, want JOB_FINISHED and AI_RESULT of job %s", kinds, job)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// An MG job carries its gene CSV; its result reaches the doctor's cache once, filed with the study.
	genes := "../../assets/models/examples/mg-demo-example-1-grade4.csv"
	code, out, errOut = runCmd("infer", "--model", "mg", "--genes", genes, "--input", studyUID, "--on-server", "--data", docData, "--wait", "1m")
	m = regexp.MustCompile(`job (\w+) done: result (\S+),`).FindStringSubmatch(out)
	if code != 0 || m == nil || strings.Contains(out, "pulled") {
		t.Fatalf("infer --model mg --on-server: exit %d\n%s%s", code, out, errOut)
	}
	if n := cachedResultsOfJob(t, docData, studyUID, m[1]); n != 1 {
		t.Errorf("the doctor's cache holds %d results of MG job %s, want 1", n, m[1])
	}
	if r, err := cl.AIResult(ctx, m[2]); err != nil || r.Model != api.ModelMG || r.JobID != m[1] || !strings.Contains(string(r.Result), "tmz_response") {
		t.Errorf("the MG job's result: %+v %v", r, err)
	}
	// An MM job carries its CSVs (the doctor keeps no M1 result of its own: the MRI is stated not given).
	rppa := "../../assets/models/examples/mm-demo-example-1-grade4-rppa.csv"
	code, out, errOut = runCmd("infer", "--model", "mm", "--genes", genes, "--proteins", rppa, "--input", studyUID, "--on-server", "--data", docData, "--wait", "1m")
	m = regexp.MustCompile(`job (\w+) done: result (\S+),`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("infer --model mm --on-server: exit %d\n%s%s", code, out, errOut)
	}
	if n := cachedResultsOfJob(t, docData, studyUID, m[1]); n != 1 {
		t.Errorf("the doctor's cache holds %d results of MM job %s, want 1", n, m[1])
	}
	if r, err := cl.AIResult(ctx, m[2]); err != nil || r.Model != api.ModelMM || r.JobID != m[1] ||
		!strings.Contains(string(r.Result), `"modalities_used":["gene","protein"]`) || !strings.Contains(string(r.Provenance), "no M1 result is kept") {
		t.Errorf("the MM job's result: %+v %v", r, err)
	}
	w0.stop(t)
	other.stop(t)

	// A worker killed -9 mid-run: the job is delivered again after its lease and completed once.
	code, out, errOut = runCmd("infer", "--model", "m1", "--input", studyUID, "--on-server", "--data", docData, "--wait", "0")
	m = regexp.MustCompile(`job (\w+) queued`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("infer --on-server --wait 0: exit %d\n%s%s", code, out, errOut)
	}
	job = m[1]
	w1 := startWorker(t, stack.URL, "ris1", stack.Accounts["ris1"], workerData)
	w1.waitLine(t, `job `+job+` claimed \(attempt 1\)`, 30*time.Second)
	w1.cmd.Process.Kill()
	<-w1.done
	killed := time.Now()
	if strings.Contains(w1.output(), "job "+job+" done") {
		t.Fatalf("the worker completed the job before it was killed:\n%s", w1.output())
	}
	j, err := cl.Job(ctx, job)
	if err != nil || j.Status != api.JobRunning || j.Attempts != 1 || j.ResultID != "" {
		t.Fatalf("after the kill the job is %+v %v, want running, delivered once, no result", j, err)
	}
	w2 := startWorker(t, stack.URL, "ris1", stack.Accounts["ris1"], workerData)
	w2.waitLine(t, `job `+job+` claimed \(attempt 2\)`, 30*time.Second)
	if d := time.Since(killed); d < 2*time.Second {
		t.Errorf("the job was claimed again %v after the kill, before its 3 s lease ran out", d)
	}
	w2.waitLine(t, `job `+job+` done: result`, 90*time.Second)
	t.Logf("claimed again and completed %v after the kill", time.Since(killed).Round(time.Millisecond))
	windowRunOnServer(t, stack, docData, studyUID)
	windowRunOnExam(t, stack, docData, ps[0])

	// SIGTERM mid-run: the worker hands the job back at once (queued again, not waiting out the lease).
	code, out, errOut = runCmd("infer", "--model", "m1", "--input", studyUID, "--on-server", "--data", docData, "--wait", "0")
	m = regexp.MustCompile(`job (\w+) queued`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("infer --on-server --wait 0: exit %d\n%s%s", code, out, errOut)
	}
	w2.waitLine(t, `job `+m[1]+` claimed \(attempt 1\)`, 30*time.Second)
	w2.stop(t)
	if j, err := cl.Job(ctx, m[1]); err != nil || j.Status != api.JobQueued || j.Attempts != 1 || !strings.Contains(j.Error, "stopped") {
		t.Errorf("after SIGTERM mid-run the job is %+v %v, want queued again saying the worker stopped", j, err)
	}
	if j, err := cl.Job(ctx, job); err != nil || j.Status != api.JobDone || j.Attempts != 2 || j.ResultID == "" {
		t.Errorf("the retried job is %+v %v, want done after 2 deliveries", j, err)
	}
	if n := resultsOfJob(t, cl, patient, job); n != 1 {
		t.Errorf("the server holds %d results of the retried job %s, want 1", n, job)
	}
	if n, err := stack.CountSOP(segUID(&api.Job{ID: job}, "instance")); err != nil || n != 1 {
		t.Errorf("Orthanc holds %d SEGs of the retried job %s (%v), want 1", n, job, err)
	}
	jobSyncRound(t, stack, docData, "doctor1")
	if n := cachedResultsOfJob(t, docData, studyUID, job); n != 1 {
		t.Errorf("after a sync round the doctor's cache holds %d results of the retried job %s, want 1", n, job)
	}
}
