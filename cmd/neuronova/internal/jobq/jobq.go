// Package jobq is the workstation's AI job queue: the store of inference/jobs in the data directory (beside the
// cache), one worker, so one model run at a time, requests keyed by model and inputs, callers that wait on a job
// with its progress and cancel it by ending their context, and coalesced change events for a jobs list.
//
// Identical requests are one job while the process that owns the store runs: every request carries the
// owner's session (Request), so that a finished job of an earlier session is not taken for a new request
// whose in-memory result (a label map) that session no longer holds. A job of an earlier session that was
// running when the process died is resumed by the next owner when its request says so (Resume), else marked
// interrupted; both show in List.
package jobq

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/neuronova/neuronova/inference/jobs"
)

// Dir is the store's folder in the data directory.
const Dir = "jobs"

// ParamSession is the request parameter that scopes identical requests to one session of the store's owner.
const ParamSession = "session"

// cancelWait bounds how long Run waits for a job it cancelled to end.
const cancelWait = 30 * time.Second

// ErrLocked: another process owns the store.
var ErrLocked = jobs.ErrLocked

// ownerFile names the store's owner (Options.Owner) while it holds the store.
const ownerFile = ".owner"

// LockedError is Open's error when another process owns the store: Owner is what that process said it is
// (Options.Owner; "" unknown).
type LockedError struct{ Dir, Owner string }

func (e *LockedError) Error() string {
	who := e.Owner
	if who == "" {
		who = "another process"
	}
	return fmt.Sprintf("the job queue in %s is in use by %s", e.Dir, who)
}

func (e *LockedError) Unwrap() error { return jobs.ErrLocked }

// Runner does one job. att is what the submitting caller attached in this process (an open study), nil for a
// job resumed or retried without one; the runner returns the job's JSON result and an in-memory value that
// the waiting callers receive.
type Runner func(ctx context.Context, req jobs.Request, att any, progress jobs.Progress) (json.RawMessage, any, error)

// Options configure Open.
type Options struct {
	// Hold: run only what this process submits, leaving the jobs it finds to the window (the command line).
	Hold bool
	// Owner says who opens the store ("window", "infer"): LockedError tells it to the next opener.
	Owner string
	// Every is the least time between two change events of one job for Subscribe (default 100 ms); state
	// changes are sent at once.
	Every time.Duration
}

// Queue is the workstation's queue. It is safe for concurrent use.
type Queue struct {
	q       *jobs.Queue
	session string
	every   time.Duration

	mu       sync.Mutex
	attach   map[string]any        // request key → what its submitter attached, until the job runs
	values   map[string]any        // job ID → the runner's in-memory value
	watchers map[string][]*watcher // request key → waiting callers' progress (attached before the job is made)
	waiting  map[string]int        // job ID → callers waiting on it
	subs     []func(jobs.Job)
	heard    map[string]uint64    // job ID → the Seq of the latest change passed on
	last     map[string]jobs.Job  // job ID → the last change event sent
	pending  map[string]*jobs.Job // job ID → the latest change not yet sent
	timer    map[string]bool      // job ID → a flush is scheduled
}

// Open opens the store in dataDir/jobs with one worker. Another process owning it gives ErrLocked.
func Open(dataDir string, run Runner, o Options) (*Queue, error) {
	if o.Every <= 0 {
		o.Every = 100 * time.Millisecond
	}
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	q := &Queue{session: hex.EncodeToString(nonce[:]), every: o.Every, attach: map[string]any{}, values: map[string]any{},
		watchers: map[string][]*watcher{}, waiting: map[string]int{}, heard: map[string]uint64{}, last: map[string]jobs.Job{},
		pending: map[string]*jobs.Job{}, timer: map[string]bool{}}
	runner := func(ctx context.Context, req jobs.Request, p jobs.Progress) (json.RawMessage, error) {
		r, _ := jobs.Current(ctx)
		q.mu.Lock()
		att := q.attach[req.Key()]
		delete(q.attach, req.Key())
		q.mu.Unlock()
		res, v, err := run(ctx, req, att, p)
		if err == nil {
			q.mu.Lock()
			q.values[r.ID] = v
			q.mu.Unlock()
		}
		return res, err
	}
	opts := []jobs.Option{jobs.WithWorkers(1), jobs.WithNotify(q.changed)}
	if o.Hold {
		opts = append(opts, jobs.WithHold())
	}
	dir := filepath.Join(dataDir, Dir)
	jq, err := jobs.Open(dir, runner, opts...)
	if errors.Is(err, jobs.ErrLocked) {
		owner, _ := os.ReadFile(filepath.Join(dir, ownerFile))
		return nil, &LockedError{Dir: dir, Owner: string(owner)}
	}
	if err != nil {
		return nil, fmt.Errorf("job queue in %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(o.Owner), 0o644); err != nil {
		jq.Close()
		return nil, fmt.Errorf("job queue in %s: %w", dir, err)
	}
	q.q = jq
	return q, nil
}

// Request makes a request of this session: model on inputs with params, on the GPU when there is one;
// resume says the job may run again after a crash (its inputs outlive the process: a study in the cache).
func (q *Queue) Request(model string, inputs, params map[string]string, resume bool) jobs.Request {
	p := map[string]string{ParamSession: q.session}
	for k, v := range params {
		if v != "" {
			p[k] = v
		}
	}
	return jobs.Request{Model: model, Inputs: inputs, Params: p, GPU: true, Resume: resume}
}

// Run submits req, or joins the identical job already there, and waits for it. att goes to the runner when
// this call makes the job. progress (nil: none) hears the job's stage while it waits and runs. ctx ending
// cancels the job unless another caller still waits on it. It returns the finished job and the runner's
// in-memory value (nil when the job did not run in this process); a job that did not end done is an error.
func (q *Queue) Run(ctx context.Context, req jobs.Request, att any, progress jobs.Progress) (jobs.Job, any, error) {
	key := req.Key()
	q.mu.Lock()
	_, had := q.attach[key] // a job of this key waits to run with its maker's attachment
	if !had {
		q.attach[key] = att
	}
	q.mu.Unlock()
	// The caller hears the job from its first event: the watch is attached before the job can run.
	w := &watcher{progress: progress}
	if progress != nil {
		q.mu.Lock()
		q.watchers[key] = append(q.watchers[key], w)
		q.mu.Unlock()
	}
	j, existing, err := q.q.Submit(req)
	if !had && (err != nil || existing && j.State != jobs.Pending) {
		q.mu.Lock()
		delete(q.attach, key)
		q.mu.Unlock()
	}
	if err != nil {
		q.mu.Lock()
		q.dropWatch(key, w)
		q.mu.Unlock()
		return jobs.Job{}, nil, err
	}
	q.mu.Lock()
	q.waiting[j.ID]++
	q.mu.Unlock()
	if progress != nil {
		if cur, err := q.q.Get(j.ID); err == nil {
			w.hear(cur)
		}
	}
	done, err := q.q.Wait(ctx, j.ID)
	q.mu.Lock()
	q.waiting[j.ID]--
	last := q.waiting[j.ID] == 0
	if last {
		delete(q.waiting, j.ID)
	}
	q.dropWatch(key, w)
	v := q.values[j.ID]
	q.mu.Unlock()
	if err != nil {
		if last && q.q.Cancel(j.ID) == nil {
			// The runner honours cancel: the job ends before the caller may ask again (bounded, should the
			// queue close meanwhile).
			wctx, cancel := context.WithTimeout(context.Background(), cancelWait)
			done, _ = q.q.Wait(wctx, j.ID)
			cancel()
		}
		return done, nil, err
	}
	switch done.State {
	case jobs.Done:
		return done, v, nil
	case jobs.Cancelled:
		return done, nil, fmt.Errorf("job %s: %w", done.ID, context.Canceled)
	default:
		return done, nil, fmt.Errorf("job %s %s: %s", done.ID, done.State, done.Error)
	}
}

// watcher passes a job's changes to one waiting caller's progress.
type watcher struct{ progress jobs.Progress }

func (w *watcher) hear(j jobs.Job) {
	if j.State == jobs.Pending {
		w.progress("waiting for the model run before it", 0, 0)
	} else if j.State == jobs.Running && j.Stage != "" {
		w.progress(j.Stage, j.Done, j.Total)
	}
}

// dropWatch detaches w from the jobs of key; q.mu is held.
func (q *Queue) dropWatch(key string, w *watcher) {
	ws := slices.DeleteFunc(q.watchers[key], func(x *watcher) bool { return x == w })
	if len(ws) == 0 {
		delete(q.watchers, key)
	} else {
		q.watchers[key] = ws
	}
}

// changed is the store's notification: waiting callers hear every change, subscribers a coalesced stream.
func (q *Queue) changed(j jobs.Job) {
	q.mu.Lock()
	if j.Seq != 0 && j.Seq <= q.heard[j.ID] {
		q.mu.Unlock()
		return // overtaken by a later change already passed on
	}
	q.heard[j.ID] = j.Seq
	watchers := append([]*watcher{}, q.watchers[j.Key]...)
	prev, seen := q.last[j.ID]
	now := !seen || prev.State != j.State || prev.Stage != j.Stage
	var send []func(jobs.Job)
	if now {
		q.last[j.ID] = j
		delete(q.pending, j.ID)
		send = append(send, q.subs...)
	} else {
		c := j
		q.pending[j.ID] = &c
		if !q.timer[j.ID] {
			q.timer[j.ID] = true
			time.AfterFunc(q.every, func() { q.flush(j.ID) })
		}
	}
	q.mu.Unlock()
	for _, w := range watchers {
		w.hear(j)
	}
	for _, s := range send {
		s(j)
	}
}

// flush sends the latest change of job id held back by changed.
func (q *Queue) flush(id string) {
	q.mu.Lock()
	delete(q.timer, id)
	p := q.pending[id]
	delete(q.pending, id)
	if p == nil {
		q.mu.Unlock()
		return
	}
	q.last[id] = *p
	subs := append([]func(jobs.Job){}, q.subs...)
	q.mu.Unlock()
	for _, s := range subs {
		s(*p)
	}
}

// Subscribe calls f (from the queue's goroutines) with a job when its state or stage changes, and with its
// latest progress at most once per Options.Every.
func (q *Queue) Subscribe(f func(jobs.Job)) {
	q.mu.Lock()
	q.subs = append(q.subs, f)
	q.mu.Unlock()
}

// List returns every job, oldest first.
func (q *Queue) List() []jobs.Job { return q.q.List() }

// Get returns a job.
func (q *Queue) Get(id string) (jobs.Job, error) { return q.q.Get(id) }

// Cancel stops a pending or running job.
func (q *Queue) Cancel(id string) error { return q.q.Cancel(id) }

// Retry runs an interrupted, failed or cancelled job again, without an attachment.
func (q *Queue) Retry(id string) error { return q.q.Retry(id) }

// SetAside says which files of the store Open set aside, not being jobs.
func (q *Queue) SetAside() []error { return q.q.SetAside() }

// Close stops the worker and releases the store: a running job stays running on disk for the next owner.
func (q *Queue) Close() { q.q.Close() }

// FileSHA256 is the hex SHA-256 of the file at path: a request naming a file names its content too.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// IsLocked reports whether err says another process owns the store.
func IsLocked(err error) bool { return errors.Is(err, jobs.ErrLocked) }
