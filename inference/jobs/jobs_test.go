package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neuronova/neuronova/inference/internal/testrt"
	"github.com/neuronova/neuronova/inference/mg"
)

func wait(t *testing.T, q *Queue, id string) Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := q.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
	return j
}

// A real MG run through the queue: progress per stage, the result stored, identical requests run once.
func TestQueueRunsRealMGJobOnceForIdenticalRequests(t *testing.T) {
	rt := testrt.New(t)
	csv := testrt.Example(t, "mg-demo-example-1-grade4.csv")
	var runs atomic.Int32
	runner := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		runs.Add(1)
		progress("read", 0, 2)
		data, err := os.ReadFile(req.Inputs["genes"])
		if err != nil {
			return nil, err
		}
		progress("inference", 1, 2)
		res, err := mg.RunBytes(ctx, rt, "", data, filepath.Base(req.Inputs["genes"]))
		if err != nil {
			return nil, err
		}
		progress("inference", 2, 2)
		return json.Marshal(res)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "genes.csv")
	if err := os.WriteFile(path, csv, 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var stages []string
	q, err := Open(filepath.Join(dir, "jobs"), runner, WithNotify(func(j Job) {
		mu.Lock()
		defer mu.Unlock()
		if j.Stage != "" && (len(stages) == 0 || stages[len(stages)-1] != j.Stage) {
			stages = append(stages, j.Stage)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	req := Request{Model: "mg", Inputs: map[string]string{"genes": path}}
	a, existing, err := q.Submit(req)
	if err != nil || existing {
		t.Fatalf("submit: %v existing=%v", err, existing)
	}
	b, existing, err := q.Submit(Request{Model: "mg", Inputs: map[string]string{"genes": path}})
	if err != nil || !existing || b.ID != a.ID {
		t.Fatalf("identical request: id %s (first %s), existing=%v, err %v", b.ID, a.ID, existing, err)
	}
	j := wait(t, q, a.ID)
	if j.State != Done {
		t.Fatalf("state %s, error %q", j.State, j.Error)
	}
	var res struct {
		Features []float64 `json:"features"`
		Banner   string    `json:"banner"`
	}
	if err := json.Unmarshal(j.Result, &res); err != nil || len(res.Features) != 64 || res.Banner == "" {
		t.Fatalf("result: %v, %d features, banner %q", err, len(res.Features), res.Banner)
	}
	if _, existing, _ := q.Submit(req); !existing {
		t.Error("a request identical to a finished job ran again")
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("runner ran %d times for one request", n)
	}
	mu.Lock()
	if !slices.Equal(stages, []string{"read", "inference"}) {
		t.Errorf("stages seen %v", stages)
	}
	mu.Unlock()
	// The result is on disk.
	data, err := os.ReadFile(filepath.Join(dir, "jobs", a.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := DecodeJob(data)
	if err != nil || stored.State != Done || len(stored.Result) == 0 {
		t.Fatalf("stored job: %v %+v", err, stored)
	}
}

func TestCancelPendingAndRunning(t *testing.T) {
	started := make(chan string, 4)
	runner := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		started <- req.Model
		progress("work", 0, 1)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	q, err := Open(t.TempDir(), runner, WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	a, _, _ := q.Submit(Request{Model: "a"})
	b, _, _ := q.Submit(Request{Model: "b"})
	if m := <-started; m != "a" {
		t.Fatalf("first job to run: %s", m)
	}
	if err := q.Cancel(b.ID); err != nil {
		t.Fatal(err)
	}
	if j, _ := q.Get(b.ID); j.State != Cancelled {
		t.Errorf("pending job after cancel: %s", j.State)
	}
	if err := q.Cancel(a.ID); err != nil {
		t.Fatal(err)
	}
	if j := wait(t, q, a.ID); j.State != Cancelled || j.Stage != "work" {
		t.Errorf("running job after cancel: %s at %q", j.State, j.Stage)
	}
	if err := q.Cancel(a.ID); !errors.Is(err, ErrFinished) {
		t.Errorf("cancelling a finished job: %v", err)
	}
	if err := q.Cancel("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancelling an unknown job: %v", err)
	}
	// A cancelled request may be submitted again: it runs as a new job.
	c, existing, err := q.Submit(Request{Model: "b"})
	if err != nil || existing || c.ID == b.ID {
		t.Errorf("resubmitting a cancelled request: %v existing=%v id %s", err, existing, c.ID)
	}
	q.Cancel(c.ID)
}

func TestOneGPUJobAtATime(t *testing.T) {
	var gpuNow, gpuMax, allNow, allMax atomic.Int32
	bump := func(now, most *atomic.Int32) {
		n := now.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				return
			}
		}
	}
	release := make(chan struct{})
	runner := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		bump(&allNow, &allMax)
		defer allNow.Add(-1)
		if req.GPU {
			bump(&gpuNow, &gpuMax)
			defer gpuNow.Add(-1)
		}
		select {
		case <-release:
		case <-time.After(50 * time.Millisecond):
		}
		return json.RawMessage(`{}`), nil
	}
	q, err := Open(t.TempDir(), runner, WithWorkers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var ids []string
	for _, m := range []string{"g1", "g2", "c1", "g3", "c2"} {
		j, _, err := q.Submit(Request{Model: m, GPU: m[0] == 'g'})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		if j := wait(t, q, id); j.State != Done {
			t.Fatalf("%s: %s %s", id, j.State, j.Error)
		}
	}
	if gpuMax.Load() != 1 {
		t.Errorf("%d GPU jobs ran at once", gpuMax.Load())
	}
	if allMax.Load() < 2 {
		t.Errorf("CPU jobs did not run beside the GPU job (at most %d at once)", allMax.Load())
	}
}

// After a restart, pending jobs resume and the job that was running is marked interrupted, and can be retried.
func TestRestartResumesPendingAndMarksRunningInterrupted(t *testing.T) {
	dir := t.TempDir()
	started := make(chan struct{}, 1)
	blocking := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		progress("inference", 0, 1)
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	q, err := Open(dir, blocking, WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	running, _, _ := q.Submit(Request{Model: "m1", Inputs: map[string]string{"input": "a"}})
	<-started
	pending, _, _ := q.Submit(Request{Model: "m1", Inputs: map[string]string{"input": "b"}})
	q.Close() // as if the workstation quit

	var ran []string
	var mu sync.Mutex
	done := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		mu.Lock()
		ran = append(ran, req.Inputs["input"])
		mu.Unlock()
		return json.RawMessage(`{"ok":true}`), nil
	}
	q2, err := Open(dir, done, WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if j := wait(t, q2, pending.ID); j.State != Done {
		t.Errorf("pending job after restart: %s %s", j.State, j.Error)
	}
	j, err := q2.Get(running.ID)
	if err != nil || j.State != Interrupted || j.Error == "" {
		t.Fatalf("running job after restart: %v %+v", err, j)
	}
	if err := q2.Retry(running.ID); err != nil {
		t.Fatal(err)
	}
	if j := wait(t, q2, running.ID); j.State != Done || j.Attempts != 2 {
		t.Errorf("retried job: %s after %d attempts", j.State, j.Attempts)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ran, []string{"b", "a"}) {
		t.Errorf("ran %v after the restart", ran)
	}
	if len(q2.List()) != 2 {
		t.Errorf("list: %d jobs", len(q2.List()))
	}
}

// A file of the store that is not a job is set aside (kept, renamed) and said, and the jobs beside it load;
// jobs finished more than KeepFinished ago are removed, the rest kept.
func TestOpenSetsAsideCorruptJobFileAndPrunesOldJobs(t *testing.T) {
	dir := t.TempDir()
	corrupt := []byte(`{"id":"x","state":"exploded"}`)
	if err := os.WriteFile(filepath.Join(dir, "x.json"), corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(input, state string, finished time.Time) Job {
		req := Request{Model: "m1", Inputs: map[string]string{"input": input}}
		j := Job{ID: "20260101t000000-" + input, Key: req.Key(), Request: req, State: state, Finished: finished}
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, j.ID+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return j
	}
	now := time.Now().UTC()
	old := write("old", Done, now.Add(-KeepFinished-time.Hour))
	oldFailed := write("oldfailed", Interrupted, now.Add(-KeepFinished-time.Hour))
	recent := write("recent", Done, now.Add(-time.Hour))
	pending := write("pending", Pending, time.Time{})
	runner := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	}
	q, err := Open(dir, runner)
	if err != nil {
		t.Fatalf("a store with one corrupt file: %v", err)
	}
	defer q.Close()
	if j := wait(t, q, pending.ID); j.State != Done {
		t.Errorf("the pending job beside the corrupt file: %+v", j)
	}
	var ids []string
	for _, j := range q.List() {
		ids = append(ids, j.ID)
	}
	slices.Sort(ids)
	if want := []string{pending.ID, recent.ID}; !slices.Equal(ids, want) {
		t.Errorf("jobs %v, want %v", ids, want)
	}
	for _, j := range []Job{old, oldFailed} {
		if _, err := os.Stat(filepath.Join(dir, j.ID+".json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("job %s finished long ago is still on disk: %v", j.ID, err)
		}
	}
	aside := q.SetAside()
	if len(aside) != 1 || !errors.Is(aside[0], ErrBadJobFile) || !strings.Contains(aside[0].Error(), "x.json set aside as x.json.bad") {
		t.Fatalf("set aside: %v", aside)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "x.json.bad")); err != nil || string(b) != string(corrupt) {
		t.Fatalf("the corrupt file was not kept as it was: %q %v", b, err)
	}
}

func FuzzDecodeJob(f *testing.F) {
	req := Request{Model: "m1", Inputs: map[string]string{"input": "/data/study"}}
	good, _ := json.Marshal(Job{ID: "20260101t000000-abc", Key: req.Key(), Request: req, State: Pending})
	f.Add(good)
	f.Add([]byte(`{"id":"a","state":"done"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := DecodeJob(data)
		if err != nil {
			return
		}
		if !validID(j.ID) || j.Key != j.Request.Key() || j.Request.Model == "" {
			t.Fatalf("accepted an invalid job: %+v", j)
		}
		again, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeJob(again); err != nil {
			t.Fatalf("re-encoded job refused: %v", err)
		}
	})
}

// A job whose request allows it (Resume) runs again after a restart, under the same ID and retry count (a
// runner's idempotency key stays the same); Retry counts up, so its work is named anew.
func TestRestartResumesResumableJobs(t *testing.T) {
	dir := t.TempDir()
	started := make(chan Run, 1)
	blocking := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		r, _ := Current(ctx)
		started <- r
		<-ctx.Done()
		return nil, ctx.Err()
	}
	q, err := Open(dir, blocking)
	if err != nil {
		t.Fatal(err)
	}
	j, _, _ := q.Submit(Request{Model: "m1", Inputs: map[string]string{"study": "1.2.3"}, Resume: true})
	if r := <-started; r.ID != j.ID || r.Retries != 0 || r.Attempt != 1 {
		t.Fatalf("first run: %+v", r)
	}
	q.Close()

	runs := make(chan Run, 2)
	ok := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		r, _ := Current(ctx)
		runs <- r
		return json.RawMessage(`{"ok":true}`), nil
	}
	q2, err := Open(dir, ok)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if got := wait(t, q2, j.ID); got.State != Done || got.Attempts != 2 {
		t.Fatalf("resumed job: %s after %d attempts (%s)", got.State, got.Attempts, got.Error)
	}
	if r := <-runs; r.ID != j.ID || r.Retries != 0 || r.Attempt != 2 {
		t.Fatalf("resumed run: %+v", r)
	}
	if err := q2.Retry(j.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("a done job was retried: %v", err)
	}
	if _, inRunner := Current(context.Background()); inRunner {
		t.Fatal("Current outside a runner")
	}
}

// Retry names the work anew: Retries counts up and the runner sees it.
func TestRetryCountsRetries(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	runs := make(chan Run, 4)
	runner := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		r, _ := Current(ctx)
		runs <- r
		if fail.Load() {
			return nil, errors.New("the server refused")
		}
		return json.RawMessage(`{}`), nil
	}
	q, err := Open(t.TempDir(), runner)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	j, _, _ := q.Submit(Request{Model: "m1", Inputs: map[string]string{"study": "1.2"}})
	if got := wait(t, q, j.ID); got.State != Failed {
		t.Fatalf("state %s", got.State)
	}
	fail.Store(false)
	if err := q.Retry(j.ID); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, q, j.ID); got.State != Done || got.Retries != 1 || got.Attempts != 2 {
		t.Fatalf("retried: %+v", got)
	}
	first, second := <-runs, <-runs
	if first.Retries != 0 || second.Retries != 1 || first.ID != second.ID {
		t.Fatalf("runs %+v then %+v", first, second)
	}
}

// One process at a time owns a store; WithHold leaves what it finds for the owner that runs it.
func TestStoreLockAndHold(t *testing.T) {
	dir := t.TempDir()
	never := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	q, err := Open(dir, never, WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, never); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second owner: %v", err)
	}
	a, _, _ := q.Submit(Request{Model: "m1", Inputs: map[string]string{"study": "a"}, Resume: true})
	b, _, _ := q.Submit(Request{Model: "m1", Inputs: map[string]string{"study": "b"}})
	waitState := func(id, state string) {
		deadline := time.Now().Add(time.Minute)
		for {
			if j, _ := q.Get(id); j.State == state {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never became %s", id, state)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitState(a.ID, Running)
	q.Close()

	var ran atomic.Int32
	count := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		ran.Add(1)
		return json.RawMessage(`{}`), nil
	}
	held, err := Open(dir, count, WithHold())
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ := held.Submit(Request{Model: "mg", Inputs: map[string]string{"genes": "c"}})
	if j := wait(t, held, c.ID); j.State != Done {
		t.Fatalf("own job: %s", j.State)
	}
	ja, _ := held.Get(a.ID)
	jb, _ := held.Get(b.ID)
	if ja.State != Running || jb.State != Pending || ran.Load() != 1 {
		t.Fatalf("held store ran what it found: a %s, b %s, %d runs", ja.State, jb.State, ran.Load())
	}
	// Asked for b itself, the holder runs it (rather than wait for an owner, or run it twice).
	again, existing, err := held.Submit(b.Request)
	if err != nil || !existing || again.ID != b.ID {
		t.Fatalf("b submitted again: %+v existing %v (%v)", again, existing, err)
	}
	if j := wait(t, held, b.ID); j.State != Done || ran.Load() != 2 {
		t.Fatalf("b taken over: %s, %d runs", j.State, ran.Load())
	}
	held.Close()
	owner, err := Open(dir, count)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if j := wait(t, owner, a.ID); j.State != Done {
		t.Errorf("resumable job after the holder: %s", j.State)
	}
	if j := wait(t, owner, b.ID); j.State != Done || ran.Load() != 3 {
		t.Errorf("b after the holder: %s, %d runs in all", j.State, ran.Load())
	}
}

// Cancelling a job that was running when the queue closed says the queue is closed (it used to call a
// cancel function the closing worker had removed: a nil-function panic).
func TestCancelAfterCloseSaysClosed(t *testing.T) {
	started := make(chan struct{})
	runner := func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	q, err := Open(t.TempDir(), runner)
	if err != nil {
		t.Fatal(err)
	}
	j, _, _ := q.Submit(Request{Model: "m1"})
	<-started
	q.Close()
	if err := q.Cancel(j.ID); !errors.Is(err, ErrClosed) {
		t.Fatalf("cancel after close: %v", err)
	}
	if got, _ := q.Get(j.ID); got.State != Running {
		t.Fatalf("state after close: %s (the next Open decides)", got.State)
	}
}
