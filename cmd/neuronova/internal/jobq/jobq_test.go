package jobq

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/neuronova/neuronova/inference/jobs"
)

// The crash tests re-execute this test binary as the store's owner (TestMain sees childEnv) and kill it.
const (
	childEnv        = "NEURONOVA_JOBQ_CHILD"
	childDirEnv     = "NEURONOVA_JOBQ_DIR"
	childStudiesEnv = "NEURONOVA_JOBQ_STUDIES"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild owns the store and submits an M1 job for each study of childStudiesEnv in order ("cached" is
// resumable, any other is not), printing "RUNNING id study" as each starts; jobs never end.
func runChild() int {
	block := func(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
		r, _ := jobs.Current(ctx)
		p("inference", 1, 4)
		fmt.Printf("RUNNING %s %s\n", r.ID, req.Inputs["study"])
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	q, err := Open(os.Getenv(childDirEnv), block, Options{Owner: "window"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	for n, study := range strings.Split(os.Getenv(childStudiesEnv), ",") {
		req := q.Request("m1", map[string]string{"study": study}, nil, study == "cached")
		go q.Run(context.Background(), req, "attached", nil)
		for len(q.List()) <= n { // submitted in this order
			time.Sleep(time.Millisecond)
		}
		time.Sleep(2 * time.Millisecond) // a later Created time
	}
	fmt.Println("SUBMITTED")
	time.Sleep(time.Hour) // until killed (a select{} with every goroutine blocked would be a deadlock exit)
	return 0
}

// killChild starts an owner of dir submitting studies, waits until its first job runs, checks that the store
// is locked meanwhile, and kills it -9.
func killChild(t *testing.T, dir, studies string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDirEnv+"="+dir, childStudiesEnv+"="+studies)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(syscall.SIGKILL)
	sc := bufio.NewScanner(out)
	first := strings.Split(studies, ",")[0]
	running, submitted := false, false
	for !(running && submitted) && sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "RUNNING":
			if f[2] != first {
				t.Fatalf("the child ran %s first", f[2])
			}
			running = true
		case len(f) == 1 && f[0] == "SUBMITTED":
			submitted = true
		}
	}
	if !running || !submitted {
		t.Fatalf("the child did not run its first job: %s", stderr.String())
	}
	var locked *LockedError
	if q, err := Open(dir, nil, Options{Hold: true}); !errors.As(err, &locked) || locked.Owner != "window" || !IsLocked(err) {
		if err == nil {
			q.Close()
		}
		t.Fatalf("opened while the child owns it: %v", err)
	}
}

type ran struct {
	study string
	att   any
}

func recorder(ch chan ran) Runner {
	return func(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
		ch <- ran{req.Inputs["study"], att}
		return json.RawMessage(`{"ok":true}`), "value", nil
	}
}

func wait(t *testing.T, q *Queue, id string) jobs.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := q.q.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func byStudy(q *Queue) map[string]jobs.Job {
	m := map[string]jobs.Job{}
	for _, j := range q.List() {
		m[j.Request.Inputs["study"]] = j
	}
	return m
}

// A window killed -9 while a resumable model job ran (a cached study): the next owner runs it again, with no
// attachment (the study is read again), and runs the job that was waiting.
func TestKilledOwnerResumesResumableJob(t *testing.T) {
	dir := t.TempDir()
	killChild(t, dir, "cached,session")
	runs := make(chan ran, 4)
	q, err := Open(dir, recorder(runs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	found := byStudy(q)
	if len(found) != 2 {
		t.Fatalf("%d jobs after the crash", len(found))
	}
	if j := wait(t, q, found["cached"].ID); j.State != jobs.Done || j.Attempts != 2 {
		t.Fatalf("the resumable job: %s after %d attempts", j.State, j.Attempts)
	}
	if r := <-runs; r.study != "cached" || r.att != nil {
		t.Fatalf("resumed %+v", r)
	}
	if j := wait(t, q, found["session"].ID); j.State != jobs.Done || j.Attempts != 1 {
		t.Fatalf("the pending job: %s after %d attempts", j.State, j.Attempts)
	}
}

// Killed while a job that may not run again ran (its study was not in the cache): the next opener, even a
// holder, marks it interrupted and leaves the pending one for the window; Retry runs it again.
func TestKilledOwnerMarksJobInterrupted(t *testing.T) {
	dir := t.TempDir()
	killChild(t, dir, "session,cached")
	runs := make(chan ran, 4)
	held, err := Open(dir, recorder(runs), Options{Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	found := byStudy(held)
	held.Close()
	if s := found["session"]; s.State != jobs.Interrupted || !strings.Contains(s.Error, "inference") {
		t.Fatalf("the job that ran: %s %q", s.State, s.Error)
	}
	if found["cached"].State != jobs.Pending || len(runs) != 0 {
		t.Fatalf("a holder ran what it found: %s, %d runs", found["cached"].State, len(runs))
	}
	q, err := Open(dir, recorder(runs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if j := wait(t, q, found["cached"].ID); j.State != jobs.Done {
		t.Fatalf("the pending job under the window: %s", j.State)
	}
	if err := q.Retry(found["session"].ID); err != nil {
		t.Fatal(err)
	}
	if j := wait(t, q, found["session"].ID); j.State != jobs.Done || j.Attempts != 2 {
		t.Fatalf("retried: %s after %d attempts", j.State, j.Attempts)
	}
}

func waitState(t *testing.T, q *Queue, state string) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, j := range q.List() {
			if j.State == state {
				return j
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no job became %s", state)
	return jobs.Job{}
}

// Two identical requests: one run, both callers get its value; a different request waits for the GPU.
func TestIdenticalRequestsRunOnceAndJobsRunOneAtATime(t *testing.T) {
	release := make(chan struct{})
	var runs, now, most atomic.Int32
	run := func(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
		runs.Add(1)
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		p("inference", 0, 1)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		return json.RawMessage(`{"study":"` + req.Inputs["study"] + `"}`), att.(string) + " result", nil
	}
	q, err := Open(t.TempDir(), run, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	type got struct {
		job jobs.Job
		v   any
		err error
	}
	results := make(chan got, 3)
	submit := func(study, att string) {
		j, v, err := q.Run(context.Background(), q.Request("m1", map[string]string{"study": study}, nil, false), att, nil)
		results <- got{j, v, err}
	}
	go submit("a", "first")
	first := waitState(t, q, jobs.Running)
	go submit("a", "second") // identical: joins the first
	go submit("b", "other")  // waits for the GPU
	deadline := time.Now().Add(time.Minute)
	for len(q.List()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the identical caller has joined by now
	if n := len(q.List()); n != 2 {
		t.Fatalf("%d jobs for two distinct requests", n)
	}
	for _, j := range q.List() {
		if j.ID != first.ID && j.State != jobs.Pending {
			t.Fatalf("the second model job is %s while the first runs", j.State)
		}
	}
	close(release)
	var values []string
	for range 3 {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		values = append(values, fmt.Sprintf("%s=%v", r.job.Request.Inputs["study"], r.v))
		if r.job.Request.Inputs["study"] == "a" && r.job.ID != first.ID {
			t.Errorf("an identical request got job %s, not %s", r.job.ID, first.ID)
		}
	}
	slices.Sort(values)
	if want := []string{"a=first result", "a=first result", "b=other result"}; !slices.Equal(values, want) || runs.Load() != 2 || most.Load() != 1 {
		t.Fatalf("values %v (want %v), %d runs, %d at once", values, want, runs.Load(), most.Load())
	}
}

// Ending the caller's context cancels its job, unless another caller still waits on it; progress reaches
// the caller, and subscribers get coalesced events.
func TestCancelByContextAndProgress(t *testing.T) {
	started := make(chan struct{}, 2)
	run := func(ctx context.Context, req jobs.Request, att any, p jobs.Progress) (json.RawMessage, any, error) {
		for i := range 50 {
			p("inference", i, 50)
		}
		started <- struct{}{}
		<-ctx.Done()
		return nil, nil, ctx.Err()
	}
	q, err := Open(t.TempDir(), run, Options{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var mu sync.Mutex
	var events []string
	q.Subscribe(func(j jobs.Job) {
		mu.Lock()
		events = append(events, fmt.Sprintf("%s %s %d", j.State, j.Stage, j.Done))
		mu.Unlock()
	})
	req := q.Request("m1", map[string]string{"study": "x"}, nil, false)
	var stages atomic.Int32
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() {
		_, _, err := q.Run(ctx1, req, nil, func(stage string, done, total int) { stages.Add(1) })
		errs <- err
	}()
	<-started
	go func() { _, _, err := q.Run(ctx2, req, nil, nil); errs <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel1()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v", err)
	}
	j := q.List()[0]
	if j.State != jobs.Running {
		t.Fatalf("cancelled while another caller waits: %s", j.State)
	}
	cancel2()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("second caller: %v", err)
	}
	if j, _ := q.Get(j.ID); j.State != jobs.Cancelled {
		t.Fatalf("after the last caller left: %s", j.State)
	}
	if stages.Load() < 50 {
		t.Errorf("the caller heard %d progress events of 50", stages.Load())
	}
	// The store's notification of the end follows its state change: wait for it (bounded).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 4 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"pending  0", "running  0", "running inference 0", "cancelled inference 49"}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		t.Errorf("subscriber events %q, want %q (progress within a stage held back)", events, want)
	}
}

func TestFileSHA256(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genes.csv")
	os.WriteFile(path, []byte("Hugo_Symbol,Entrez_Gene_Id,Expression\n"), 0o644)
	a, err := FileSHA256(path)
	if err != nil || len(a) != 64 {
		t.Fatalf("%q %v", a, err)
	}
	os.WriteFile(path, []byte("Hugo_Symbol,Entrez_Gene_Id,Expression\nEGFR,1956,3\n"), 0o644)
	if b, _ := FileSHA256(path); b == a {
		t.Error("another content, the same hash")
	}
	if _, err := FileSHA256(path + ".missing"); err == nil {
		t.Error("no error for a missing file")
	}
}
