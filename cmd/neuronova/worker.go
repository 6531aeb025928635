package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/inference"
	"github.com/neuronova/neuronova/inference/m1"
	"github.com/neuronova/neuronova/internal/dicomkit"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/sync/engine"
	"github.com/neuronova/neuronova/sync/m1keep"
	"github.com/neuronova/neuronova/viewer"
)

const workerUsage = `neuronova worker — run the server's queued AI jobs headless (a GPU workstation or a server).

Usage:
  neuronova worker [--server URL] [--user LOGIN] [--data DIR] [--provider auto|cuda|cpu] [--threads N]
                   [--models DIR] [--jobs m1,mg,mm] [--poll 20s] [--job-timeout 30m] [--once]

It signs in (password from $NEURONOVA_PASSWORD or the first line of stdin), then loops: claim a job of a
model of --jobs, run it, and complete the job with its result, renewing the claim's lease meanwhile; the
server stores the result once under the job's ID and announces it to the submitter. For an M1 job it pulls
the study (with the other studies of its exam that the job names, merged) through the server's Orthanc
proxy into the cache at --data, runs M1 and stores the SEG in Orthanc through the proxy (its UIDs derive
from the job ID, so a retried job stores it once). An MG job carries its gene CSV; an MM job its inputs:
the MRI embedding of the submitter's kept M1 result, and the gene (run through MG first) and protein CSVs
it was given. A failed run is failed with a retry: the server queues it again until its deliveries are
used up, then dead-letters it; a job that cannot succeed (no such study, bad inputs) is failed for good. A
worker killed mid-run leaves its job to be delivered again when the claim's visibility timeout (server
--job-visibility) runs out. SIGTERM or Ctrl-C hands the running job back for a retry and stops. The
account must be a role that may claim jobs (DOCTOR, RIS, LIS, ADMIN, SYSTEMMANAGER) and, for M1, read the
study's images.

Flags:
`

// workerOptions configure a worker.
type workerOptions struct {
	server, user, data, provider, modelsDir string
	threads                                 int
	models                                  []string // the jobs' models it runs: M1, MG, MM
	poll, jobTimeout                        time.Duration
	once                                    bool
}

// cmdWorker is `neuronova worker`.
func cmdWorker(args []string, stdout, stderr io.Writer) error {
	o, err := parseWorkerFlags(args, stderr)
	if err != nil {
		return err
	}
	password, err := readPassword(os.Getenv, os.Stdin)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, err := newWorker(ctx, o, password, stdout)
	if err != nil {
		return err
	}
	defer w.close()
	return w.loop(ctx)
}

// parseWorkerFlags reads the worker's command line.
func parseWorkerFlags(args []string, stderr io.Writer) (workerOptions, error) {
	fs := newFlags("worker", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, workerUsage); fs.PrintDefaults() }
	var o workerOptions
	fs.StringVar(&o.server, "server", os.Getenv("NEURONOVA_SERVER"), "server URL (default $NEURONOVA_SERVER, else http://127.0.0.1:8080)")
	fs.StringVar(&o.user, "user", os.Getenv("NEURONOVA_USER"), "login ID (default $NEURONOVA_USER)")
	data := dataFlag(fs)
	fs.StringVar(&o.provider, "provider", "auto", "execution provider: auto, cuda or cpu")
	fs.IntVar(&o.threads, "threads", 1, "ONNX Runtime intra-op threads")
	fs.StringVar(&o.modelsDir, "models", "", "user model directory (default: the conventional one, when it exists)")
	fs.DurationVar(&o.poll, "poll", 20*time.Second, "how long one claim waits for a job (at most 20s)")
	fs.DurationVar(&o.jobTimeout, "job-timeout", 30*time.Minute, "give up a job (failed for a retry) after this long")
	jobs := fs.String("jobs", "m1,mg,mm", "the models whose jobs it runs, of m1, mg and mm (MG and MM jobs carry their inputs)")
	fs.BoolVar(&o.once, "once", false, "handle one job, or none when none is queued within --poll, then stop")
	if err := parseNoArgs(fs, args); err != nil {
		return o, err
	}
	o.data = *data
	for _, m := range strings.Split(*jobs, ",") {
		switch m = strings.ToUpper(strings.TrimSpace(m)); m {
		case api.ModelM1, api.ModelMG, api.ModelMM:
			if !slices.Contains(o.models, m) {
				o.models = append(o.models, m)
			}
		default:
			return o, fmt.Errorf("%w: --jobs %q: want a list of m1, mg and mm", errUsage, *jobs)
		}
	}
	if o.server == "" {
		o.server = "http://127.0.0.1:8080"
	}
	switch {
	case o.user == "":
		return o, fmt.Errorf("%w: worker needs --user LOGIN (or $NEURONOVA_USER)", errUsage)
	case o.poll <= 0 || o.poll > 20*time.Second:
		return o, fmt.Errorf("%w: --poll %v: want more than 0 and at most 20s", errUsage, o.poll)
	case o.jobTimeout <= 0:
		return o, fmt.Errorf("%w: --job-timeout %v: want more than 0", errUsage, o.jobTimeout)
	}
	return o, nil
}

// readPassword reads the password from $NEURONOVA_PASSWORD, else the first line of stdin.
func readPassword(getenv func(string) string, stdin io.Reader) (string, error) {
	password := getenv("NEURONOVA_PASSWORD")
	if password == "" && stdin != nil {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return "", fmt.Errorf("%w: no password: set $NEURONOVA_PASSWORD or give it on stdin", errUsage)
	}
	return password, nil
}

// worker runs claimed jobs: its own cache (the studies it pulls), an engine for sign-in and pulls, and the
// model runtime.
type worker struct {
	o        workerOptions
	password string
	out      io.Writer
	c        *cache.Cache
	cl       *client.Client
	e        *engine.Engine
	rt       *inference.Runtime
	closeRT  func()
}

func newWorker(ctx context.Context, o workerOptions, password string, out io.Writer) (*worker, error) {
	c, err := openCacheDir(o.data, false, out)
	if err != nil {
		return nil, err
	}
	cl, err := client.New(o.server, client.Options{})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	e := engine.New(c, cl, engine.Options{NoPrefetch: true, Logger: slog.New(slog.DiscardHandler)})
	rt, closeRT, err := inferRuntime(o.modelsDir, o.provider, o.threads)
	if err != nil {
		c.Close()
		return nil, err
	}
	w := &worker{o: o, password: password, out: out, c: c, cl: cl, e: e, rt: rt, closeRT: closeRT}
	if err := w.signIn(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *worker) close() {
	w.closeRT()
	w.c.Close()
}

func (w *worker) logf(format string, args ...any) {
	fmt.Fprintf(w.out, time.Now().UTC().Format("15:04:05")+" "+format+"\n", args...)
}

// signIn signs in online, waiting while the server cannot be reached (a worker has nothing to do offline).
func (w *worker) signIn(ctx context.Context) error {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		s, err := w.e.Login(ctx, w.o.user, w.password)
		if err != nil && !client.IsOffline(err) {
			return err
		}
		if err == nil && !s.Offline {
			w.logf("signed in to %s as %s (%s)", w.cl.BaseURL(), s.User.LoginID, s.User.Role)
			return nil
		}
		w.logf("the server %s cannot be reached; signing in again in %v", w.cl.BaseURL(), wait)
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
	}
}

// loop claims and runs jobs until ctx ends (SIGTERM), or after one claim with --once.
func (w *worker) loop(ctx context.Context) error {
	w.logf("waiting for %s jobs", listed(w.o.models))
	backoff := time.Second
	for ctx.Err() == nil {
		j, err := w.cl.ClaimJob(ctx, w.o.models, w.o.poll)
		switch {
		case ctx.Err() != nil:
			return nil
		case client.StatusOf(err) == 401 || errors.Is(err, client.ErrNotLoggedIn):
			if err := w.signIn(ctx); err != nil {
				return err
			}
			continue
		case client.IsOffline(err):
			w.logf("claim: %v; again in %v", err, backoff)
			sleepCtx(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		case err != nil:
			return fmt.Errorf("claim a job: %w", err)
		}
		backoff = time.Second
		if j != nil {
			w.handle(ctx, j)
		}
		if w.o.once {
			return nil
		}
	}
	return nil
}

// errJobInvalid marks a job that cannot succeed however often it runs: it is failed without a retry.
var errJobInvalid = errors.New("the job cannot be run")

// handle runs one claimed job and completes or fails it under its lease.
func (w *worker) handle(ctx context.Context, j *api.Job) {
	w.logf("job %s claimed (attempt %d): %s of study %s for patient %d", j.ID, j.Attempts, j.Model, j.StudyUID, j.PatientID)
	jctx, cancel := context.WithTimeout(ctx, w.o.jobTimeout)
	defer cancel()
	lost := make(chan struct{})
	renewing := make(chan struct{})
	go func() {
		defer close(renewing)
		w.renew(jctx, j, cancel, lost)
	}()
	up, err := w.run(jctx, j)
	if err == nil {
		err = w.complete(jctx, j, up)
	}
	timedOut := errors.Is(jctx.Err(), context.DeadlineExceeded)
	cancel()
	<-renewing
	select {
	case <-lost:
		if err != nil {
			w.logf("job %s: the lease was lost (another worker has the job); it is left to that worker", j.ID)
			return
		}
	default:
	}
	switch {
	case err == nil:
	case client.StatusOf(err) == 409:
		w.logf("job %s: %v (the lease is no longer ours; nothing more to do)", j.ID, err)
	case ctx.Err() != nil:
		w.fail(ctx, j, "the worker was stopped before the job ended", true)
	case timedOut:
		w.fail(ctx, j, fmt.Sprintf("the job ran longer than the worker's --job-timeout %v", w.o.jobTimeout), true)
	default:
		w.fail(ctx, j, err.Error(), !errors.Is(err, errJobInvalid))
	}
}

// fail tells the server that job j failed, for a retry or for good.
func (w *worker) fail(ctx context.Context, j *api.Job, reason string, retry bool) {
	if len(reason) > 2000 {
		reason = reason[:2000]
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	f, err := w.cl.FailJob(fctx, j.ID, j.Lease, reason, retry)
	if err != nil {
		w.logf("job %s failed (%s) and the server could not be told: %v (it is delivered again after its visibility timeout)", j.ID, reason, err)
		return
	}
	w.logf("job %s failed: %s; now %s", j.ID, reason, f.Status)
}

// renew keeps the lease of job j while it runs: at a third of the time the lease has left, and more often
// while the server cannot be reached. A lease the server says is no longer held closes lost and cancels the
// run. A server that answers no lease expiry (no renewal) is not asked.
func (w *worker) renew(ctx context.Context, j *api.Job, cancel context.CancelFunc, lost chan<- struct{}) {
	expires := j.LeaseExpiresAt
	if expires == nil {
		return
	}
	for {
		wait := max(time.Until(*expires)/3, 100*time.Millisecond)
		if !sleepCtx(ctx, wait) {
			return
		}
		r, err := w.cl.RenewJob(ctx, j.ID, j.Lease)
		switch {
		case err == nil && r.LeaseExpiresAt != nil:
			expires = r.LeaseExpiresAt
		case ctx.Err() != nil:
			return
		case client.StatusOf(err) == 409 || client.StatusOf(err) == 404:
			close(lost)
			cancel()
			return
		case err != nil:
			w.logf("job %s: renew the lease: %v", j.ID, err)
		}
	}
}

// complete hands in the result, trying again while the server cannot be reached.
func (w *worker) complete(ctx context.Context, j *api.Job, up api.AIResultUpload) error {
	for attempt := 0; ; attempt++ {
		done, err := w.cl.CompleteJob(ctx, j.ID, j.Lease, up)
		if err == nil {
			w.logf("job %s done: result %s", j.ID, done.ResultID)
			return nil
		}
		if !client.IsOffline(err) || attempt >= 5 || !sleepCtx(ctx, time.Duration(1<<attempt)*time.Second) {
			return fmt.Errorf("complete: %w", err)
		}
	}
}

// m1JobInputs are the optional inputs of an M1 job (api.JobRequest.Inputs).
type m1JobInputs struct {
	ModelID   string            `json:"model_id,omitempty"`  // a model of the M1 family; "" the default
	Series    map[string]string `json:"series,omitempty"`    // sequence type → SeriesInstanceUID
	Reference string            `json:"reference,omitempty"` // the sequence whose grid the result uses; "" T1CE
	// Studies are the exam's other studies (a session written one StudyInstanceUID per series, as some
	// converters do): pulled too, and merged with the job's study.
	Studies []string `json:"studies,omitempty"`
}

// maxExamStudies bounds the studies of one M1 job's exam.
const maxExamStudies = 32

// parseM1Inputs reads an M1 job's inputs; empty inputs are the defaults.
func parseM1Inputs(raw json.RawMessage) (m1JobInputs, map[viewer.SeriesType]string, viewer.SeriesType, error) {
	var in m1JobInputs
	if len(raw) > 0 && string(raw) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return in, nil, "", fmt.Errorf("%w: its inputs are not M1 inputs (model_id, series, reference, studies): %v", errJobInvalid, err)
		}
	}
	if len(in.Studies) > maxExamStudies {
		return in, nil, "", fmt.Errorf("%w: %d studies in one exam; at most %d", errJobInvalid, len(in.Studies), maxExamStudies)
	}
	for _, uid := range in.Studies {
		if !dicomkit.ValidUID(uid) {
			return in, nil, "", fmt.Errorf("%w: input study %q is not a UID", errJobInvalid, uid)
		}
	}
	var choice map[viewer.SeriesType]string
	for k, uid := range in.Series {
		t, ok := viewer.ParseSeriesType(k)
		if !ok || strings.TrimSpace(uid) == "" {
			return in, nil, "", fmt.Errorf("%w: input series %q=%q: want a sequence type and a SeriesInstanceUID", errJobInvalid, k, uid)
		}
		if choice == nil {
			choice = map[viewer.SeriesType]string{}
		}
		choice[t] = uid
	}
	ref := viewer.SeriesType("")
	if in.Reference != "" {
		var ok bool
		if ref, ok = viewer.ParseSeriesType(in.Reference); !ok {
			return in, nil, "", fmt.Errorf("%w: input reference %q is not a sequence type", errJobInvalid, in.Reference)
		}
	}
	return in, choice, ref, nil
}

// run runs job j and returns the result to complete it with.
func (w *worker) run(ctx context.Context, j *api.Job) (api.AIResultUpload, error) {
	switch {
	case j.Model == api.ModelM1 && slices.Contains(w.o.models, api.ModelM1):
		return w.runM1(ctx, j)
	case j.Model == api.ModelMG && slices.Contains(w.o.models, api.ModelMG):
		return w.runMG(ctx, j) // workermg.go
	case j.Model == api.ModelMM && slices.Contains(w.o.models, api.ModelMM):
		return w.runMM(ctx, j) // workermm.go
	}
	return api.AIResultUpload{}, fmt.Errorf("%w: this worker does not run %s jobs", errJobInvalid, j.Model)
}

// runM1 pulls the job's study, runs M1, stores the SEG in Orthanc and returns the result.
func (w *worker) runM1(ctx context.Context, j *api.Job) (api.AIResultUpload, error) {
	var up api.AIResultUpload
	if j.StudyUID == "" {
		return up, fmt.Errorf("%w: M1 job %s names no study", errJobInvalid, j.ID)
	}
	in, choice, ref, err := parseM1Inputs(j.Inputs)
	if err != nil {
		return up, err
	}
	st, err := w.pull(ctx, j, in.Studies)
	if err != nil {
		return up, err
	}
	start := time.Now()
	res, err := m1.Run(ctx, w.rt, m1.Request{ModelID: in.ModelID, Study: st, Series: choice, Reference: ref})
	if errors.Is(err, m1.ErrMissingSequence) || errors.Is(err, m1.ErrNoBrain) {
		return up, fmt.Errorf("%w: M1: %v", errJobInvalid, err) // the study is what it is: no retry changes it
	}
	if err != nil {
		return up, fmt.Errorf("M1: %w", err)
	}
	w.logf("job %s: %s %s ran in %.1fs on %s", j.ID, res.Model.ID, res.Model.Version, time.Since(start).Seconds(), res.Runtime.Provider.Used)
	seg, own, err := w.jobSEG(ctx, j, st, res)
	if err != nil {
		return up, err
	}
	if err := w.storeSEG(ctx, j, seg); err != nil {
		return up, err
	}
	js, err := json.Marshal(res)
	if err != nil {
		return up, err
	}
	prov, err := json.Marshal(map[string]any{"model": res.Model, "runtime": res.Runtime,
		"job": map[string]any{"id": j.ID, "attempt": j.Attempts, "worker": w.o.user, "seg_sop_instance_uid": segUID(j, "instance")}})
	if err != nil {
		return up, err
	}
	return api.AIResultUpload{Model: api.ModelM1, ModelVersion: res.Model.Version, PatientID: j.PatientID, OrderID: j.OrderID,
		StudyUID: own.UID, Result: js, Provenance: prov}, nil
}

// pull brings the job's study, and the exam's other studies, into the worker's cache through the proxy and
// opens them as one exam.
func (w *worker) pull(ctx context.Context, j *api.Job, others []string) (*viewer.Study, error) {
	studies, err := w.cl.PatientStudies(ctx, j.PatientID)
	if s := client.StatusOf(err); s == 403 || s == 404 {
		return nil, fmt.Errorf("%w: the studies of patient %d: %v", errJobInvalid, j.PatientID, err)
	}
	if err != nil {
		return nil, fmt.Errorf("the studies of patient %d: %w", j.PatientID, err)
	}
	orthancIDs := map[string]string{}
	for _, s := range studies {
		orthancIDs[s.StudyInstanceUID] = s.OrthancID
	}
	uids := append([]string{j.StudyUID}, others...)
	exam := make([]*viewer.Study, 0, len(uids))
	for _, uid := range uids {
		if orthancIDs[uid] == "" {
			return nil, fmt.Errorf("%w: the archive holds no study %s of patient %d", errJobInvalid, uid, j.PatientID)
		}
		sum, err := w.e.Prefetch(ctx, orthancIDs[uid], nil)
		if err != nil {
			return nil, fmt.Errorf("pull study %s: %w", uid, err)
		}
		if sum.PullFailed > 0 {
			return nil, fmt.Errorf("pull study %s: %d instances could not be pulled", uid, sum.PullFailed)
		}
		w.logf("job %s: study %s pulled (%d instances new, %d already cached)", j.ID, uid, sum.Pulled, sum.AlreadyCached)
		st, err := w.c.OpenStudy(ctx, uid)
		if err != nil {
			return nil, err
		}
		exam = append(exam, st)
	}
	if len(exam) == 1 {
		return exam[0], nil
	}
	return viewer.Merge(exam), nil
}

// segUID is the UID of a job's SEG series or instance: the same for every attempt of the job.
func segUID(j *api.Job, what string) string {
	return dicomkit.DeterministicUID("neuronova", "job seg "+what, j.ID)
}

// jobSEG writes res's label map as the job's DICOM SEG of the reference series and returns it with the
// reference series' own study.
func (w *worker) jobSEG(ctx context.Context, j *api.Job, st *viewer.Study, res *m1.Result) ([]byte, *viewer.Study, error) {
	ref, own, err := m1keep.Reference(ctx, st, res)
	if err != nil {
		return nil, nil, err
	}
	seg, err := m1keep.SEG(own, ref, res, m1keep.SEGOptions{SeriesUID: segUID(j, "series"), InstanceUID: segUID(j, "instance")})
	return seg, own, err
}

// storeSEG stores the SEG in Orthanc through the proxy and checks that Orthanc holds it under its UID. A
// SEG of an earlier attempt of the job, stored already, is kept (Orthanc stores a SOP Instance UID once).
func (w *worker) storeSEG(ctx context.Context, j *api.Job, seg []byte) error {
	st, err := w.cl.UploadInstance(ctx, seg)
	if err != nil {
		return fmt.Errorf("store the SEG in Orthanc: %w", err)
	}
	got, err := w.cl.InstanceSOPUID(ctx, st.ID)
	if err != nil {
		return fmt.Errorf("check the stored SEG: %w", err)
	}
	if want := segUID(j, "instance"); got != want {
		return fmt.Errorf("Orthanc stored the SEG as instance %s with SOP Instance UID %q, not %q", st.ID, got, want)
	}
	w.logf("job %s: SEG %s in Orthanc (%s)", j.ID, got, st.Status)
	return nil
}

// sleepCtx waits d or until ctx ends; it reports whether the wait was whole.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// listed writes a list as a sentence does: "A", "A and B", "A, B and C".
func listed(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
