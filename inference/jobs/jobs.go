// Package jobs is the workstation's local AI job queue: requests run in the background with per-stage progress,
// can be cancelled, at most one job that uses the GPU runs at a time, identical requests are run once, and every
// job is kept in a small file store (one JSON file per job under the caller's directory) so that after a restart
// pending jobs resume, and jobs that were running resume when their request says it is safe (Request.Resume)
// or are marked interrupted — never lost silently. One process at a time owns a store (a lock file).
//
// The queue does not know what a job does: the caller's Runner does the work (an M1, MG or MM run) and returns
// the result as JSON.
package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// States of a job.
const (
	Pending     = "pending"
	Running     = "running"
	Done        = "done"
	Failed      = "failed"
	Cancelled   = "cancelled"
	Interrupted = "interrupted" // the process ended while the job ran; Retry runs it again
)

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("jobs: no such job")
	ErrClosed     = errors.New("jobs: queue closed")
	ErrBadRequest = errors.New("jobs: invalid request")
	ErrBadJobFile = errors.New("jobs: invalid job file")
	// ErrFinished is returned when cancelling or retrying a job whose state does not allow it.
	ErrFinished = errors.New("jobs: job already finished")
	// ErrLocked is returned by Open when another process holds the store.
	ErrLocked = errors.New("jobs: the job store is in use by another process")
)

// Request says what to run. Identical requests (same fields) are the same job.
type Request struct {
	Model  string            `json:"model"`            // m1, mg, mm or a model id
	Inputs map[string]string `json:"inputs"`           // role → path, study UID or value ("input", "genes", "proteins"…)
	Params map[string]string `json:"params,omitempty"` // other settings (series choice, provider…)
	GPU    bool              `json:"gpu,omitempty"`    // the job needs the (single) GPU
	// Resume: running the job again after the process ended mid-run is safe (it repeats nothing, say it waits
	// on the server's queue under an idempotency key), so Open queues it again instead of marking it
	// interrupted.
	Resume bool `json:"resume,omitempty"`
}

// Key is the request's identity: the SHA-256 of its canonical JSON (maps are encoded with sorted keys).
func (r Request) Key() string {
	b, _ := json.Marshal(r) // maps marshal with sorted keys; strings and bools cannot fail
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Job is one request and where it stands.
type Job struct {
	ID       string          `json:"id"`
	Key      string          `json:"key"`
	Request  Request         `json:"request"`
	State    string          `json:"state"`
	Stage    string          `json:"stage,omitempty"`
	Done     int             `json:"done"`
	Total    int             `json:"total"`
	Error    string          `json:"error,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Created  time.Time       `json:"created"`
	Started  time.Time       `json:"started,omitzero"`
	Finished time.Time       `json:"finished,omitzero"`
	Attempts int             `json:"attempts"`
	// Retries counts Retry calls: a runner that names its work elsewhere (an idempotency key) names a retried
	// job's work anew, and a resumed one's as before.
	Retries int `json:"retries,omitempty"`
	// Seq orders a queue's notifications (WithNotify), which reach the callback from several goroutines: of
	// two about one job, the later change has the higher Seq. It is not stored.
	Seq uint64 `json:"-"`
}

// IsFinished reports whether the job has reached a final state (done, failed, cancelled or interrupted).
func (j Job) IsFinished() bool { return j.State != Pending && j.State != Running }

// Progress is called by a Runner as it advances.
type Progress func(stage string, done, total int)

// Runner does one job. It must honour ctx (cancel) and return the result as JSON. Current(ctx) names the job.
type Runner func(ctx context.Context, req Request, progress Progress) (json.RawMessage, error)

type currentKey struct{}

// Run identifies the job a Runner is running.
type Run struct {
	ID      string
	Retries int // Job.Retries
	Attempt int // Job.Attempts, this run included
}

// Current returns the job a Runner's ctx runs, and false outside a Runner.
func Current(ctx context.Context) (Run, bool) {
	r, ok := ctx.Value(currentKey{}).(Run)
	return r, ok
}

// Queue runs jobs. It is safe for concurrent use.
type Queue struct {
	dir    string
	run    Runner
	notify func(Job)
	unlock func()

	mu      sync.Mutex
	jobs    map[string]*Job
	cancels map[string]context.CancelFunc
	waiters map[string][]chan struct{}
	queue   []string        // pending job IDs in submission order
	held    map[string]bool // jobs found pending or resumable under WithHold, not queued here
	wake    chan struct{}
	gpu     chan struct{} // one token: one GPU job at a time
	closed  bool
	seq     uint64 // the last notification's Job.Seq
	// setAside: files Open found that were not jobs (SetAside)
	setAside []error
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// Option configures Open.
type Option func(*options)

type options struct {
	workers int
	notify  func(Job)
	hold    bool
}

// WithWorkers sets how many jobs may run at once (default 2); GPU jobs still run one at a time.
func WithWorkers(n int) Option { return func(o *options) { o.workers = max(n, 1) } }

// WithNotify calls f (from the queue's goroutines, never under its lock) with a copy of a job whenever its state
// or progress changes: what a UI binds to. Two calls about one job may overlap or arrive out of order; Job.Seq
// says which change is later.
func WithNotify(f func(Job)) Option { return func(o *options) { o.notify = f } }

// WithHold leaves the jobs found pending (or running, with Request.Resume) where they are instead of running
// them: for a short-lived process (the command line) that runs only what it submits and leaves the rest to
// the workstation.
func WithHold() Option { return func(o *options) { o.hold = true } }

// Open opens (creating it if needed) the job store in dir and starts the workers. Jobs found pending are queued
// again, and so are jobs found running whose request allows it (Request.Resume); the other jobs found running
// are marked interrupted. Jobs finished more than KeepFinished ago are removed, and a file that is not a job
// is set aside (SetAside) without stopping the others. Another process holding the store makes Open fail
// with ErrLocked.
func Open(dir string, run Runner, opts ...Option) (*Queue, error) {
	o := options{workers: 2}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := func() { cancel(); unlock() } // on the ways out of Open that fail
	q := &Queue{dir: dir, run: run, notify: o.notify, unlock: unlock, jobs: map[string]*Job{}, cancels: map[string]context.CancelFunc{},
		waiters: map[string][]chan struct{}{}, held: map[string]bool{}, wake: make(chan struct{}, 1), gpu: make(chan struct{}, 1), ctx: ctx, stop: cancel}
	pending, err := q.load(o.hold)
	if err != nil {
		stop()
		return nil, err
	}
	slices.SortFunc(pending, func(a, b *Job) int { return a.Created.Compare(b.Created) })
	for _, j := range pending {
		q.queue = append(q.queue, j.ID)
	}
	for range o.workers {
		q.wg.Add(1)
		go q.worker()
	}
	q.signal()
	return q, nil
}

// KeepFinished is how long a finished job stays in the store: Open removes older ones.
const KeepFinished = 30 * 24 * time.Hour

// badSuffix names a job file Open set aside.
const badSuffix = ".bad"

// load reads the store's jobs into q and returns those to queue: pending ones, and running ones whose
// request allows it, unless hold. Running jobs that may not resume are marked interrupted; finished jobs
// older than KeepFinished are removed; a file that is not a job is set aside (renamed *.json.bad, said by
// SetAside) and the others load.
func (q *Queue) load(hold bool) ([]*Job, error) {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, err
	}
	var pending []*Job
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(q.dir, e.Name())
		j, err := readJob(path)
		if err != nil {
			if rerr := os.Rename(path, path+badSuffix); rerr != nil {
				return nil, fmt.Errorf("%s: %w (and it could not be set aside: %v)", e.Name(), err, rerr)
			}
			q.setAside = append(q.setAside, fmt.Errorf("%s set aside as %s%s: %w", e.Name(), e.Name(), badSuffix, err))
			continue
		}
		switch {
		case j.IsFinished() && !j.Finished.IsZero() && time.Since(j.Finished) > KeepFinished:
			if err := os.Remove(path); err != nil {
				return nil, err
			}
			continue
		case j.State == Running && j.Request.Resume && !hold:
			j.State, j.Stage, j.Done, j.Total = Pending, "", 0, 0
			pending = append(pending, j)
		case j.State == Running && !j.Request.Resume:
			j.State, j.Error, j.Finished = Interrupted, fmt.Sprintf("the workstation stopped while the job was running (stage %q)", j.Stage), time.Now().UTC()
			if err := q.save(j); err != nil {
				return nil, err
			}
		case j.State == Pending && !hold:
			pending = append(pending, j)
		case j.State == Pending || j.State == Running:
			q.held[j.ID] = true
		}
		q.jobs[j.ID] = j
	}
	return pending, nil
}

// readJob reads and decodes the job file at path.
func readJob(path string) (*Job, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeJob(data)
}

// SetAside says which files Open found in the store that were not jobs, and where it put them.
func (q *Queue) SetAside() []error { return slices.Clone(q.setAside) }

// DecodeJob parses a job file; unknown fields and impossible states are errors.
func DecodeJob(data []byte) (*Job, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j Job
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadJobFile, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the job", ErrBadJobFile)
	}
	if !validID(j.ID) {
		return nil, fmt.Errorf("%w: id %q", ErrBadJobFile, j.ID)
	}
	switch j.State {
	case Pending, Running, Done, Failed, Cancelled, Interrupted:
	default:
		return nil, fmt.Errorf("%w: state %q", ErrBadJobFile, j.State)
	}
	if err := j.Request.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadJobFile, err)
	}
	if j.Key != j.Request.Key() {
		return nil, fmt.Errorf("%w: key does not match the request", ErrBadJobFile)
	}
	return &j, nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (r Request) validate() error {
	if strings.TrimSpace(r.Model) == "" {
		return fmt.Errorf("%w: no model", ErrBadRequest)
	}
	return nil
}

// Submit queues a request, or returns the job already made for an identical request unless that one failed,
// was cancelled or was interrupted (then the request runs again as a new job). existing says which happened.
// An identical job held (WithHold) is queued here.
func (q *Queue) Submit(req Request) (job Job, existing bool, err error) {
	if err := req.validate(); err != nil {
		return Job{}, false, err
	}
	key := req.Key()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return Job{}, false, ErrClosed
	}
	for _, j := range q.jobs {
		if j.Key == key && (j.State == Pending || j.State == Running || j.State == Done) {
			if q.held[j.ID] {
				delete(q.held, j.ID)
				j.State, j.Stage, j.Done, j.Total = Pending, "", 0, 0
				q.queue = append(q.queue, j.ID)
				defer q.signal()
			}
			c := *j
			q.mu.Unlock()
			return c, true, nil
		}
	}
	now := time.Now().UTC()
	j := &Job{ID: fmt.Sprintf("%s-%s", now.Format("20060102t150405"), key[:12]), Key: key, Request: req, State: Pending, Created: now}
	for n := 2; q.jobs[j.ID] != nil; n++ {
		j.ID = fmt.Sprintf("%s-%s-%d", now.Format("20060102t150405"), key[:12], n)
	}
	if err := q.save(j); err != nil {
		q.mu.Unlock()
		return Job{}, false, err
	}
	q.jobs[j.ID] = j
	q.queue = append(q.queue, j.ID)
	c := q.snapshot(j)
	q.mu.Unlock()
	q.emit(c)
	q.signal()
	return c, false, nil
}

// Get returns a copy of the job.
func (q *Queue) Get(id string) (Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.jobs[id]
	if !ok {
		return Job{}, ErrNotFound
	}
	return *j, nil
}

// List returns every job, oldest first.
func (q *Queue) List() []Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Job, 0, len(q.jobs))
	for _, j := range q.jobs {
		out = append(out, *j)
	}
	slices.SortFunc(out, func(a, b Job) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Cancel stops a pending or running job; it ends in state cancelled.
func (q *Queue) Cancel(id string) error {
	q.mu.Lock()
	j, ok := q.jobs[id]
	if !ok {
		q.mu.Unlock()
		return ErrNotFound
	}
	switch {
	case j.State == Pending || q.held[id]:
		delete(q.held, id)
		q.queue = slices.DeleteFunc(q.queue, func(x string) bool { return x == id })
		j.State, j.Finished, j.Error = Cancelled, time.Now().UTC(), "cancelled before it started"
		err := q.save(j)
		c := q.snapshot(j)
		q.finishLocked(id)
		q.mu.Unlock()
		q.emit(c)
		return err
	case j.State == Running:
		cancel := q.cancels[id]
		q.mu.Unlock()
		if cancel == nil { // the queue closed: the job stays running on disk for the next Open
			return ErrClosed
		}
		cancel()
		return nil
	}
	q.mu.Unlock()
	return fmt.Errorf("%w: %s is %s", ErrFinished, id, j.State)
}

// Retry queues an interrupted, failed or cancelled job again under the same ID.
func (q *Queue) Retry(id string) error {
	q.mu.Lock()
	j, ok := q.jobs[id]
	if !ok {
		q.mu.Unlock()
		return ErrNotFound
	}
	if j.State != Interrupted && j.State != Failed && j.State != Cancelled {
		q.mu.Unlock()
		return fmt.Errorf("%w: %s is %s", ErrFinished, id, j.State)
	}
	j.State, j.Error, j.Stage, j.Done, j.Total, j.Result = Pending, "", "", 0, 0, nil
	j.Started, j.Finished, j.Retries = time.Time{}, time.Time{}, j.Retries+1
	err := q.save(j)
	q.queue = append(q.queue, id)
	c := q.snapshot(j)
	q.mu.Unlock()
	q.emit(c)
	q.signal()
	return err
}

// Wait blocks until the job is finished or ctx ends.
func (q *Queue) Wait(ctx context.Context, id string) (Job, error) {
	q.mu.Lock()
	j, ok := q.jobs[id]
	if !ok {
		q.mu.Unlock()
		return Job{}, ErrNotFound
	}
	if j.IsFinished() {
		c := *j
		q.mu.Unlock()
		return c, nil
	}
	ch := make(chan struct{})
	q.waiters[id] = append(q.waiters[id], ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return q.Get(id)
	case <-ctx.Done():
		return Job{}, ctx.Err()
	}
}

// Close stops the workers and releases the store. Running jobs are cancelled and stay in state running on
// disk, so that the next Open marks them interrupted (or resumes them); pending jobs stay pending and resume
// then.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	q.mu.Unlock()
	q.stop()
	q.wg.Wait()
	q.unlock()
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// snapshot is a copy of j to notify, numbered in the order of the changes; q.mu is held.
func (q *Queue) snapshot(j *Job) Job {
	q.seq++
	c := *j
	c.Seq = q.seq
	return c
}

func (q *Queue) emit(j Job) {
	if q.notify != nil {
		q.notify(j)
	}
}

// finishLocked wakes the waiters of a finished job.
func (q *Queue) finishLocked(id string) {
	for _, ch := range q.waiters[id] {
		close(ch)
	}
	delete(q.waiters, id)
}

// next takes the first pending job this worker may run: a GPU job only when the GPU token is free.
func (q *Queue) next() (*Job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for n, id := range q.queue {
		j := q.jobs[id]
		gpu := false
		if j.Request.GPU {
			select {
			case q.gpu <- struct{}{}:
				gpu = true
			default:
				continue
			}
		}
		q.queue = slices.Delete(q.queue, n, n+1)
		return j, gpu
	}
	return nil, false
}

func (q *Queue) worker() {
	defer q.wg.Done()
	for {
		if q.ctx.Err() != nil {
			return
		}
		j, gpu := q.next()
		if j == nil {
			select {
			case <-q.wake:
			case <-q.ctx.Done():
				return
			}
			continue
		}
		q.execute(j)
		if gpu {
			<-q.gpu
		}
		q.signal() // another worker may take what this one skipped
	}
}

func (q *Queue) execute(j *Job) {
	ctx, cancel := context.WithCancel(q.ctx)
	defer cancel()
	q.mu.Lock()
	j.State, j.Started, j.Attempts = Running, time.Now().UTC(), j.Attempts+1
	ctx = context.WithValue(ctx, currentKey{}, Run{ID: j.ID, Retries: j.Retries, Attempt: j.Attempts})
	q.cancels[j.ID] = cancel
	saveErr := q.save(j)
	c := q.snapshot(j)
	req := j.Request
	q.mu.Unlock()
	q.emit(c)
	if saveErr != nil {
		q.finish(j, nil, saveErr, false)
		return
	}
	progress := func(stage string, done, total int) {
		q.mu.Lock()
		changed := j.Stage != stage
		j.Stage, j.Done, j.Total = stage, done, total
		var err error
		if changed { // stage changes reach the disk; finer progress only the UI
			err = q.save(j)
		}
		c := q.snapshot(j)
		q.mu.Unlock()
		_ = err // a failed progress write is not worth failing the job; the final save reports errors
		q.emit(c)
	}
	res, err := q.run(ctx, req, progress)
	if q.ctx.Err() != nil && ctx.Err() != nil {
		// The queue is closing: leave the job running on disk, so that the next Open marks it interrupted.
		q.mu.Lock()
		delete(q.cancels, j.ID)
		q.mu.Unlock()
		return
	}
	q.finish(j, res, err, ctx.Err() != nil)
}

func (q *Queue) finish(j *Job, res json.RawMessage, err error, cancelled bool) {
	q.mu.Lock()
	delete(q.cancels, j.ID)
	j.Finished = time.Now().UTC()
	switch {
	case cancelled:
		j.State, j.Error = Cancelled, "cancelled while running"
	case err != nil:
		j.State, j.Error = Failed, err.Error()
	default:
		j.State, j.Result = Done, res
	}
	if serr := q.save(j); serr != nil && j.State == Done {
		j.State, j.Error = Failed, "saving the result: "+serr.Error()
	}
	c := q.snapshot(j)
	q.finishLocked(j.ID)
	q.mu.Unlock()
	q.emit(c)
}

// save writes the job file atomically (temporary file, then rename). The caller holds q.mu.
func (q *Queue) save(j *Job) error {
	b, err := json.MarshalIndent(j, "", " ")
	if err != nil {
		return err
	}
	path := filepath.Join(q.dir, j.ID+".json")
	tmp, err := os.CreateTemp(q.dir, ".job-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
