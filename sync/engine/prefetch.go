package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/viewer"
)

// importBatch is how many verified files go into one cache import (one commit).
const importBatch = 64

// streamAtLeast is how many instances of a series must be missing for the series to come in one DICOMweb
// stream rather than file by file (also at least a quarter of the series).
const streamAtLeast = 4

// pullPlan is what of a study the cache lacks, series by series: the plan stage of a prefetch.
type pullPlan struct {
	studyUID  string
	total     int                               // instances in the manifest
	todo      int                               // instances the cache lacks
	missing   map[string][]api.ManifestInstance // by Series Instance UID, in manifest order
	order     []string                          // series with missing instances, in manifest order
	perSeries map[string]int                    // instances of each series in the manifest
}

// newPullPlan compares a study's manifest with the SOP Instance UIDs the cache has.
func newPullPlan(m *api.StudyManifest, have map[string]bool) *pullPlan {
	pl := &pullPlan{studyUID: m.StudyInstanceUID, total: len(m.Instances), missing: map[string][]api.ManifestInstance{},
		perSeries: map[string]int{}}
	for _, in := range m.Instances {
		pl.perSeries[in.SeriesInstanceUID]++
	}
	for _, in := range m.Instances {
		if have[in.SOPInstanceUID] {
			continue
		}
		if pl.missing[in.SeriesInstanceUID] == nil {
			pl.order = append(pl.order, in.SeriesInstanceUID)
		}
		pl.missing[in.SeriesInstanceUID] = append(pl.missing[in.SeriesInstanceUID], in)
		pl.todo++
	}
	return pl
}

// fetchJob is a series to stream, or one instance to fetch. A series streamed before the plan is made has no
// list: its missing instances are known once planned.
type fetchJob struct {
	series string
	list   []api.ManifestInstance
	one    api.ManifestInstance
}

// jobs are the fetch jobs of the plan, in manifest order: one stream for each series mostly missing (at least
// streamAtLeast instances and a quarter of the series), one file for each missing instance of the others. A
// series in streaming streams already and gets no job.
func (pl *pullPlan) jobs(streaming map[string]bool) []fetchJob {
	var out []fetchJob
	for _, se := range pl.order {
		list := pl.missing[se]
		switch {
		case streaming[se]:
		case len(list) >= streamAtLeast && 4*len(list) >= pl.perSeries[se]:
			out = append(out, fetchJob{series: se, list: list})
		default:
			for _, in := range list {
				out = append(out, fetchJob{one: in})
			}
		}
	}
	return out
}

// prefetch is the pull of one Orthanc study into the cache, in four stages: plan (the server's manifest, with
// each instance's size and MD5, against the cache), fetch (series streams and single files, Workers at once),
// verify (each file against the manifest; a copy the server transcoded when its transfer syntax is not
// decodable here), commit (batches of importBatch files, each one cache commit). A cancelled or killed
// prefetch keeps what it committed, and the next one skips it by SOP Instance UID. The manifest takes the
// server a while (one MD5 per instance from Orthanc): the series of a study the cache holds nothing of start
// streaming meanwhile.
type prefetch struct {
	e        *Engine
	studyID  string
	studyUID string
	dir      string // where files wait for their commit
	p        ProgressFunc
	cancel   context.CancelFunc

	plan     *pullPlan     // set before planned is closed; nil when planning failed
	planned  chan struct{} // closed once planning ended
	verified chan string   // files verified, for the commit stage

	mu       sync.Mutex // guards sum and firstErr
	sum      *Summary
	firstErr error // what stopped the fetch stage
}

func (e *Engine) prefetch(ctx context.Context, studyID string, sum *Summary, p ProgressFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pf := &prefetch{e: e, studyID: studyID, sum: sum, p: p, cancel: cancel, planned: make(chan struct{}),
		verified: make(chan string, importBatch)}
	manifest := e.requestManifest(ctx, studyID)
	studyUID, early := e.uncachedSeries(ctx, studyID)
	if early == nil {
		if err := pf.makePlan(ctx, manifest); err != nil {
			return err
		}
		if pf.plan.todo == 0 {
			return nil
		}
		studyUID = pf.plan.studyUID
	} else {
		go func() {
			if err := pf.makePlan(ctx, manifest); err != nil {
				pf.fail(err)
			}
		}()
	}
	dir, err := os.MkdirTemp(e.cache.TmpDir(), "pull-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pf.dir, pf.studyUID = dir, studyUID

	jobs := make(chan fetchJob)
	go pf.sendJobs(ctx, early, jobs)
	go func() {
		defer close(pf.verified)
		// fetch stops the prefetch itself (fail) on what must stop it; a cancellation alone is the caller's.
		_ = workpool.Drain(ctx, e.opts.Workers, jobs, pf.fetch)
	}()
	return pf.commit(ctx)
}

// requestManifest asks for a study's manifest in the background; the function returned waits for it.
func (e *Engine) requestManifest(ctx context.Context, studyID string) func() (*api.StudyManifest, error) {
	var (
		m     *api.StudyManifest
		err   error
		ready = make(chan struct{})
	)
	go func() {
		defer close(ready)
		m, err = e.pacs.StudyManifest(ctx, studyID)
	}()
	return func() (*api.StudyManifest, error) {
		<-ready
		return m, err
	}
}

// uncachedSeries returns the Study Instance UID of an Orthanc study and its Series Instance UIDs when the
// cache holds nothing of the study, so that all of it can stream before the manifest is in; nothing when
// the cache holds some of it or the server cannot say (the manifest then decides).
func (e *Engine) uncachedSeries(ctx context.Context, studyID string) (string, []string) {
	uid, series, err := e.pacs.StudySeries(ctx, studyID)
	if err != nil || len(series) == 0 {
		return "", nil
	}
	if _, err := e.cache.StudyInfo(ctx, uid); !errors.Is(err, cache.ErrNotFound) {
		return "", nil
	}
	return uid, series
}

// fail records the first error that stops the prefetch, and stops it.
func (pf *prefetch) fail(err error) {
	pf.mu.Lock()
	if pf.firstErr == nil {
		pf.firstErr = err
	}
	pf.mu.Unlock()
	pf.cancel()
}

// makePlan is the plan stage: the manifest against the cache. It closes planned.
func (pf *prefetch) makePlan(ctx context.Context, manifest func() (*api.StudyManifest, error)) error {
	defer close(pf.planned)
	m, err := manifest()
	if err != nil {
		return err
	}
	uids := make([]string, len(m.Instances))
	for i, in := range m.Instances {
		uids[i] = in.SOPInstanceUID
	}
	have, err := pf.e.cache.HaveInstances(ctx, uids)
	if err != nil {
		return err
	}
	pl := newPullPlan(m, have)
	pf.mu.Lock()
	pf.sum.Studies++
	pf.sum.AlreadyCached += pl.total - pl.todo
	pf.mu.Unlock()
	pf.plan = pl
	return nil
}

// missing returns the instances of a series the plan says the cache lacks, once planned.
func (pf *prefetch) missing(series string) []api.ManifestInstance {
	<-pf.planned
	if pf.plan == nil {
		return nil
	}
	return pf.plan.missing[series]
}

// sendJobs hands the fetch stage its jobs: the series that stream before the plan is made, then the plan's.
func (pf *prefetch) sendJobs(ctx context.Context, early []string, jobs chan<- fetchJob) {
	defer close(jobs)
	send := func(j fetchJob) bool {
		select {
		case jobs <- j:
			return true
		case <-ctx.Done():
			return false
		}
	}
	streaming := map[string]bool{}
	for _, se := range early {
		streaming[se] = true
		if !send(fetchJob{series: se}) {
			return
		}
	}
	<-pf.planned
	if pf.plan == nil {
		return
	}
	for _, j := range pf.plan.jobs(streaming) {
		if !send(j) {
			return
		}
	}
}

// fetch is the fetch stage of one job: a series stream and then, one by one, what it did not deliver; or one
// file. An instance that cannot be had is counted and the prefetch goes on; losing the server stops it.
func (pf *prefetch) fetch(ctx context.Context, _ int, j fetchJob) error {
	left := []api.ManifestInstance{j.one}
	if j.series != "" {
		left = pf.streamSeries(ctx, j.series, func() []api.ManifestInstance {
			if j.list == nil {
				return pf.missing(j.series)
			}
			return j.list
		})
	}
	for _, in := range left {
		if ctx.Err() != nil {
			return nil
		}
		path, transcoded, err := pf.fetchVerified(ctx, in)
		if err != nil {
			if client.IsOffline(err) || ctx.Err() != nil {
				pf.fail(err)
				return err
			}
			pf.mu.Lock()
			pf.sum.PullFailed++
			pf.sum.Errors = append(pf.sum.Errors, fmt.Sprintf("instance %s: %v", in.SOPInstanceUID, err))
			pf.mu.Unlock()
			continue
		}
		pf.deliver(ctx, path, transcoded)
	}
	return nil
}

// deliver hands a verified file to the commit stage, or removes it when the prefetch stops.
func (pf *prefetch) deliver(ctx context.Context, path string, transcoded bool) {
	if transcoded {
		pf.mu.Lock()
		pf.sum.Transcoded++
		pf.mu.Unlock()
	}
	select {
	case pf.verified <- path:
	case <-ctx.Done():
		os.Remove(path)
	}
}

// streamSeries receives the missing instances of one series in a single DICOMweb stream of the stored
// files, verifies each against the manifest and delivers it. want gives the instances wanted (it may wait
// for the plan). It returns those it did not deliver (the stream was cut or refused, a file did not
// match): the caller fetches them one by one, which retries.
func (pf *prefetch) streamSeries(ctx context.Context, seriesUID string, want func() []api.ManifestInstance) []api.ManifestInstance {
	wanted := sync.OnceValue(func() map[string]api.ManifestInstance {
		bySOP := map[string]api.ManifestInstance{}
		for _, in := range want() {
			bySOP[in.SOPInstanceUID] = in
		}
		return bySOP
	})
	err := pf.e.pacs.RetrieveSeries(ctx, pf.studyUID, seriesUID, func(r io.Reader) error {
		path, n, sum, ts, sop, err := receivePart(pf.dir, r)
		if err != nil {
			return err
		}
		bySOP := wanted()
		in, ok := bySOP[sop]
		if !ok || n != in.Size || sum != in.MD5 {
			// Cached already, stored after the manifest was made, or not what Orthanc recorded: the file
			// path (which verifies again) has the last word on whatever stays missing.
			os.Remove(path)
			return nil
		}
		path, transcoded, err := pf.decodableCopy(ctx, in, path, ts)
		if err != nil {
			return nil // fetched again one by one, which reports the error
		}
		delete(bySOP, sop)
		pf.deliver(ctx, path, transcoded)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		pf.e.log.Info("series stream ended early; fetching the rest file by file", "series", seriesUID, "err", err)
	}
	var left []api.ManifestInstance
	bySOP := wanted()
	for _, in := range want() {
		if _, ok := bySOP[in.SOPInstanceUID]; ok {
			left = append(left, in)
		}
	}
	return left
}

// fetchVerified downloads one instance and verifies it, retrying a cut download or a file that does not
// match the manifest.
func (pf *prefetch) fetchVerified(ctx context.Context, in api.ManifestInstance) (path string, transcoded bool, err error) {
	opts := pf.e.opts
	for attempt := 0; ; attempt++ {
		path, transcoded, err = pf.fetchOnce(ctx, in)
		if err == nil || ctx.Err() != nil || attempt >= opts.RoundRetries {
			return path, transcoded, err
		}
		if !client.IsOffline(err) && !errors.Is(err, errMismatch) {
			return path, transcoded, err
		}
		select {
		case <-ctx.Done():
			return "", false, ctx.Err()
		case <-time.After(backoff(attempt+1, roundRetryBase, opts.RoundRetryMax)):
		}
	}
}

var errMismatch = errors.New("the file received does not match what Orthanc recorded")

// fetchOnce downloads one instance into the prefetch's folder and verifies it.
func (pf *prefetch) fetchOnce(ctx context.Context, in api.ManifestInstance) (string, bool, error) {
	path := filepath.Join(pf.dir, in.OrthancID+".dcm")
	f, err := os.Create(path)
	if err != nil {
		return "", false, err
	}
	got, err := pf.e.pacs.DownloadInstance(ctx, in.OrthancID, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", false, err
	}
	ts, err := verify(in, path, got)
	if err != nil {
		os.Remove(path)
		return "", false, err
	}
	return pf.decodableCopy(ctx, in, path, ts)
}

// verify is the verify stage of a downloaded file: its size and MD5 as received must be the manifest's, and
// its SOP Instance UID, when it has one, the instance's. It returns the file's transfer syntax.
func verify(in api.ManifestInstance, path string, got client.Download) (ts string, err error) {
	if got.Size != in.Size || got.MD5 != in.MD5 {
		return "", fmt.Errorf("%w: %d bytes with MD5 %s, Orthanc recorded %d bytes with MD5 %s", errMismatch, got.Size, got.MD5, in.Size, in.MD5)
	}
	ts, sop, err := fileSyntaxAndUID(path)
	if err != nil {
		return "", err
	}
	if sop != "" && sop != in.SOPInstanceUID {
		return "", fmt.Errorf("file of instance %s carries SOP Instance UID %s", in.SOPInstanceUID, sop)
	}
	return ts, nil
}

// decodableCopy returns path when the viewer decodes its transfer syntax ts (or it is unreadable: the
// import then says why); otherwise it replaces the file by a copy the server transcoded (same SOP
// Instance UID).
func (pf *prefetch) decodableCopy(ctx context.Context, in api.ManifestInstance, path, ts string) (string, bool, error) {
	if ts == "" || viewer.CanDecode(ts) {
		return path, false, nil
	}
	defer os.Remove(path)
	tpath := filepath.Join(pf.dir, in.OrthancID+".ts.dcm")
	tf, err := os.Create(tpath)
	if err != nil {
		return "", false, err
	}
	_, err = pf.e.pacs.TranscodeInstance(ctx, in.OrthancID, pf.e.opts.TransferSyntax, tf)
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tpath)
		return "", false, fmt.Errorf("transcode from %s: %w", ts, err)
	}
	ts2, sop2, err := fileSyntaxAndUID(tpath)
	if err != nil {
		os.Remove(tpath)
		return "", false, err
	}
	if sop2 != in.SOPInstanceUID || !viewer.CanDecode(ts2) {
		os.Remove(tpath)
		return "", false, fmt.Errorf("transcoded copy of %s came back as %s in %s", in.SOPInstanceUID, sop2, ts2)
	}
	return tpath, true, nil
}

// commit is the commit stage: verified files in batches of importBatch, each adopted by the cache in one
// commit (also while the prefetch is being cancelled: the files are here), then the studies marked pulled.
// It returns the first error of the cache, else what stopped the fetch stage.
func (pf *prefetch) commit(ctx context.Context) error {
	var (
		batch     []string
		importErr error
		done      int
		received  int64
		studies   = map[string]bool{}
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch = batch[:0] }()
		res, err := pf.adopt(ctx, batch)
		if err != nil {
			return err
		}
		for _, s := range res.Studies {
			studies[s] = true
		}
		done += res.Imported + res.AlreadyPresent()
		received += res.Bytes
		pf.p(Progress{Phase: PhasePrefetch, Done: done, Total: pf.plan.todo, Bytes: received}) // files come after the plan
		return nil
	}
	for path := range pf.verified {
		batch = append(batch, path)
		if len(batch) >= importBatch && importErr == nil {
			if importErr = flush(); importErr != nil {
				pf.cancel()
			}
		}
	}
	if importErr == nil {
		importErr = flush()
	}
	for s := range studies {
		if err := pf.e.cache.MarkPulled(context.WithoutCancel(ctx), s); err != nil && importErr == nil {
			importErr = err
		}
	}
	if importErr != nil {
		return importErr
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	return pf.firstErr
}

// adopt moves one batch of verified files into the cache in one commit and counts them; the files it does
// not take are removed.
func (pf *prefetch) adopt(ctx context.Context, batch []string) (*cache.ImportSummary, error) {
	res, err := pf.e.cache.Adopt(context.WithoutCancel(ctx), batch, "server study "+pf.studyID)
	for _, f := range batch {
		os.Remove(f)
	}
	if err != nil {
		return nil, err
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	pf.sum.Pulled += res.Imported
	pf.sum.PulledBytes += res.Bytes
	pf.sum.AlreadyCached += res.AlreadyPresent()
	for _, r := range res.Rejected {
		pf.sum.PullFailed++
		pf.sum.Errors = append(pf.sum.Errors, fmt.Sprintf("import %s: %v", filepath.Base(r.Path), r.Err))
	}
	return res, nil
}
