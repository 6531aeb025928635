package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
	"github.com/neuronova/neuronova/viewer"
)

var randRead = rand.Read

// feedKey is the change-feed cursor of the logged-in user (the feed is filtered per user).
func (e *Engine) feedKey() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.session == nil {
		return keyFeedCursor
	}
	return keyFeedCursor + "." + strings.ToLower(e.session.User.LoginID)
}

// pullFeed applies the change feed after the stored cursor, page by page, each page and its cursor in one
// transaction. A change that cannot be decoded is skipped: logged, counted and listed in the summary, and kept
// in the cache (SkippedChanges); the cursor goes past it, so that one bad change never stops the feed.
func (e *Engine) pullFeed(ctx context.Context, sum *Summary, p ProgressFunc) error {
	key := e.feedKey()
	for {
		v, err := e.cache.SyncValue(ctx, key, "0")
		if err != nil {
			return err
		}
		var cursor int64
		if _, err := fmt.Sscan(v, &cursor); err != nil {
			return fmt.Errorf("cursor %q: %w", v, err)
		}
		page, err := e.client.Changes(ctx, cursor, 500)
		if err != nil {
			return err
		}
		n := len(page.Changes) + len(page.Skipped)
		if n > 0 {
			skipped := make([]cache.SkippedChange, len(page.Skipped))
			for i, s := range page.Skipped {
				skipped[i] = cache.SkippedChange{Seq: s.Seq, Kind: s.Kind, ObjectID: s.ObjectID, Reason: s.Reason}
			}
			if err := e.cache.ApplyChanges(context.WithoutCancel(ctx), key, page.Changes, skipped, page.NextCursor); err != nil {
				return err
			}
		}
		for _, s := range page.Skipped {
			e.log.Warn("change feed: undecodable change skipped", "seq", s.Seq, "cursor", cursor, "kind", s.Kind, "object_id", s.ObjectID, "reason", s.Reason)
			sum.SkippedChanges++
			sum.Errors = append(sum.Errors, "change feed: "+s.String())
		}
		sum.Changes += len(page.Changes)
		p(Progress{Phase: PhaseFeed, Done: sum.Changes, Total: sum.Changes})
		if !page.HasMore || n == 0 {
			return nil
		}
	}
}

// Worklist is the server's worklist as the cache holds it: the orders the feed brought that are still open
// (not confirmed, not cancelled), urgent first, oldest first. It works offline.
func (e *Engine) Worklist(ctx context.Context) ([]api.Order, error) {
	objs, err := e.cache.RemoteObjects(ctx, api.KindOrder)
	if err != nil {
		return nil, err
	}
	var out []api.Order
	for id, raw := range objs {
		var o api.Order
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("order %s: %w", id, err)
		}
		if o.Status == api.OrderConfirmed || o.Status == api.OrderCancelled {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Priority == "urgent") != (out[j].Priority == "urgent") {
			return out[i].Priority == "urgent"
		}
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// prefetchWorklist downloads the studies of the patients of the open imaging (RIS) orders.
func (e *Engine) prefetchWorklist(ctx context.Context, sum *Summary, p ProgressFunc) error {
	orders, err := e.Worklist(ctx)
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	for _, o := range orders {
		if o.JobRole != api.JobRIS || seen[o.PatientID] {
			continue
		}
		seen[o.PatientID] = true
		studies, err := e.client.PatientStudies(ctx, o.PatientID)
		if client.StatusOf(err) == 403 || client.StatusOf(err) == 404 {
			continue // not a patient whose images this user may read
		}
		if err != nil {
			return err
		}
		for _, st := range studies {
			if err := e.prefetch(ctx, st.OrthancID, sum, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// Prefetch downloads one Orthanc study (by Orthanc ID) into the cache, as rounds do for the worklist.
func (e *Engine) Prefetch(ctx context.Context, orthancStudyID string, p ProgressFunc) (*Summary, error) {
	if p == nil {
		p = func(Progress) {}
	}
	if err := e.ensureOnline(ctx); err != nil {
		return &Summary{}, err
	}
	sum := &Summary{}
	err := e.prefetch(ctx, orthancStudyID, sum, p)
	if client.IsOffline(err) {
		e.setOnline(false, err)
	}
	return sum, err
}

// importBatch is how many verified files go into one cache import (one commit).
const importBatch = 64

// Decodable reports whether the workstation decodes a transfer syntax without the server's help: the
// viewer's own decoders and the codecs linked into the binary (viewer.CanDecode). Transcoding on the server
// stays the way for anything else.
func Decodable(ts string) bool { return viewer.CanDecode(ts) }

// streamAtLeast is how many instances of a series must be missing for the series to come in one DICOMweb
// stream rather than file by file (also at least a quarter of the series).
const streamAtLeast = 4

// prefetch pulls the instances of an Orthanc study the cache lacks. The server's manifest gives each
// instance's size and MD5; a series mostly missing comes in one DICOMweb stream of the stored files, the
// rest (and whatever a cut stream did not deliver) file by file. Workers series or files are in flight at
// once. Every file is verified against the manifest, transcoded by the server when not decodable here,
// then imported in batches (each batch one commit), so that a cancelled or killed prefetch keeps what it
// committed and the next one skips it by SOP Instance UID. The manifest takes the server a while (one MD5
// per instance from Orthanc): the series of a study the cache holds nothing of start streaming meanwhile.
func (e *Engine) prefetch(ctx context.Context, studyID string, sum *Summary, p ProgressFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		m     *api.StudyManifest
		mErr  error
		ready = make(chan struct{})
	)
	go func() {
		defer close(ready)
		m, mErr = e.client.StudyManifest(ctx, studyID)
	}()
	studyUID, early := e.uncachedSeries(ctx, studyID)

	var (
		mu        sync.Mutex // guards sum, firstErr, studies
		firstErr  error
		studies   = map[string]bool{}
		todo      int
		missing   = map[string][]api.ManifestInstance{}
		order     []string // series with missing instances, in manifest order
		perSeries = map[string]int{}
		planned   = make(chan struct{}) // closed once the above are set from the manifest
		planErr   error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	// plan reads the manifest: what the cache lacks, series by series.
	plan := func() error {
		<-ready
		if mErr != nil {
			return mErr
		}
		uids := make([]string, len(m.Instances))
		for i, in := range m.Instances {
			uids[i] = in.SOPInstanceUID
			perSeries[in.SeriesInstanceUID]++
		}
		have, err := e.cache.HaveInstances(ctx, uids)
		if err != nil {
			return err
		}
		for _, in := range m.Instances {
			if have[in.SOPInstanceUID] {
				continue
			}
			if missing[in.SeriesInstanceUID] == nil {
				order = append(order, in.SeriesInstanceUID)
			}
			missing[in.SeriesInstanceUID] = append(missing[in.SeriesInstanceUID], in)
			todo++
		}
		mu.Lock()
		sum.Studies++
		sum.AlreadyCached += len(m.Instances) - todo
		mu.Unlock()
		return nil
	}
	if early == nil {
		if err := plan(); err != nil {
			return err
		}
		close(planned)
		if todo == 0 {
			return nil
		}
		studyUID = m.StudyInstanceUID
	} else {
		go func() {
			if planErr = plan(); planErr != nil {
				fail(planErr)
				cancel()
			}
			close(planned)
		}()
	}
	work, err := os.MkdirTemp(e.cache.TmpDir(), "pull-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var done, received atomic.Int64
	// A job is a series to stream (list nil: its missing instances are known once planned), or one
	// instance to fetch.
	type job struct {
		series string
		list   []api.ManifestInstance
		one    api.ManifestInstance
	}
	jobs := make(chan job)
	verified := make(chan string, importBatch)
	deliver := func(path string, transcoded bool) {
		if transcoded {
			mu.Lock()
			sum.Transcoded++
			mu.Unlock()
		}
		select {
		case verified <- path:
		case <-ctx.Done():
			os.Remove(path)
		}
	}
	var wg sync.WaitGroup
	for range e.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				left := []api.ManifestInstance{j.one}
				if j.series != "" {
					left = e.streamSeries(ctx, work, studyUID, j.series, func() []api.ManifestInstance {
						if j.list == nil {
							<-planned
							return missing[j.series]
						}
						return j.list
					}, deliver)
				}
				for _, in := range left {
					if ctx.Err() != nil {
						break
					}
					path, transcoded, err := e.fetchVerified(ctx, work, in)
					if err != nil {
						if client.IsOffline(err) || ctx.Err() != nil {
							fail(err)
							cancel()
							break
						}
						mu.Lock()
						sum.PullFailed++
						sum.Errors = append(sum.Errors, fmt.Sprintf("instance %s: %v", in.SOPInstanceUID, err))
						mu.Unlock()
						continue
					}
					deliver(path, transcoded)
				}
			}
		})
	}
	go func() {
		defer close(jobs)
		send := func(j job) bool {
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}
		streamed := map[string]bool{}
		for _, se := range early {
			streamed[se] = true
			if !send(job{series: se}) {
				return
			}
		}
		<-planned
		if planErr != nil {
			return
		}
		for _, se := range order {
			list := missing[se]
			switch {
			case streamed[se]:
			case len(list) >= streamAtLeast && 4*len(list) >= perSeries[se]:
				if !send(job{series: se, list: list}) {
					return
				}
			default:
				for _, in := range list {
					if !send(job{one: in}) {
						return
					}
				}
			}
		}
	}()
	go func() { wg.Wait(); close(verified) }()

	// The importer: batches of verified files, one commit each.
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// A batch already downloaded is committed even when the prefetch is being cancelled. Adopt moves
		// the files it takes into the store; the rest are removed.
		res, err := e.cache.Adopt(context.WithoutCancel(ctx), batch, "server study "+studyID)
		for _, f := range batch {
			os.Remove(f)
		}
		batch = batch[:0]
		if err != nil {
			return err
		}
		mu.Lock()
		sum.Pulled += res.Imported
		sum.PulledBytes += res.Bytes
		sum.AlreadyCached += res.AlreadyPresent()
		for _, r := range res.Rejected {
			sum.PullFailed++
			sum.Errors = append(sum.Errors, fmt.Sprintf("import %s: %v", filepath.Base(r.Path), r.Err))
		}
		for _, s := range res.Studies {
			studies[s] = true
		}
		mu.Unlock()
		n := done.Add(int64(res.Imported + res.AlreadyPresent()))
		received.Add(res.Bytes)
		p(Progress{Phase: PhasePrefetch, Done: int(n), Total: todo, Bytes: received.Load()})
		return nil
	}
	var importErr error
	for path := range verified {
		batch = append(batch, path)
		if len(batch) >= importBatch && importErr == nil {
			if importErr = flush(); importErr != nil {
				cancel()
			}
		}
	}
	if importErr == nil {
		importErr = flush()
	}
	for s := range studies {
		if err := e.cache.MarkPulled(context.WithoutCancel(ctx), s); err != nil && importErr == nil {
			importErr = err
		}
	}
	if importErr != nil {
		return importErr
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return firstErr
	}
	return nil
}

// streamSeries receives the missing instances of one series in a single DICOMweb stream of the stored
// files, verifies each against the manifest and delivers it. want gives the instances wanted (it may wait
// for the manifest). It returns those it did not deliver (the stream was cut or refused, a file did not
// match): the caller fetches them one by one, which retries.
func (e *Engine) streamSeries(ctx context.Context, dir, studyUID, seriesUID string, want func() []api.ManifestInstance,
	deliver func(path string, transcoded bool)) []api.ManifestInstance {
	wanted := sync.OnceValue(func() map[string]api.ManifestInstance {
		bySOP := map[string]api.ManifestInstance{}
		for _, in := range want() {
			bySOP[in.SOPInstanceUID] = in
		}
		return bySOP
	})
	err := e.client.RetrieveSeries(ctx, studyUID, seriesUID, func(r io.Reader) error {
		path, n, sum, ts, sop, err := receivePart(dir, r)
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
		path, transcoded, err := e.decodableCopy(ctx, dir, in, path, ts)
		if err != nil {
			return nil // fetched again one by one, which reports the error
		}
		delete(bySOP, sop)
		deliver(path, transcoded)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		e.log.Info("series stream ended early; fetching the rest file by file", "series", seriesUID, "err", err)
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

// uncachedSeries returns the Study Instance UID of an Orthanc study and its Series Instance UIDs when the
// cache holds nothing of the study, so that all of it can stream before the manifest is in; nothing when
// the cache holds some of it or the server cannot say (the manifest then decides).
func (e *Engine) uncachedSeries(ctx context.Context, studyID string) (string, []string) {
	uid, series, err := e.client.StudySeries(ctx, studyID)
	if err != nil || len(series) == 0 {
		return "", nil
	}
	if _, err := e.cache.StudyInfo(ctx, uid); !errors.Is(err, cache.ErrNotFound) {
		return "", nil
	}
	return uid, series
}

// inMemoryPart is the largest part of a series stream held in memory to be checked before it is written;
// larger ones are written as they come and read back.
const inMemoryPart = 16 << 20

// partBuffers hold parts of series streams while they are checked.
var partBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// receivePart writes one part of a series stream to a new file in dir and returns its path, size, MD5
// (hex), transfer syntax and SOP Instance UID.
func receivePart(dir string, r io.Reader) (path string, n int64, sum, ts, sop string, err error) {
	buf := partBuffers.Get().(*bytes.Buffer)
	defer partBuffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(r, inMemoryPart+1)); err != nil {
		return "", 0, "", "", "", err
	}
	b := buf.Bytes()
	f, err := os.CreateTemp(dir, "part-*.dcm")
	if err != nil {
		return "", 0, "", "", "", err
	}
	path = f.Name()
	h := md5.New()
	h.Write(b)
	_, err = f.Write(b)
	if err == nil {
		var rest int64
		rest, err = io.Copy(io.MultiWriter(f, h), r)
		n = int64(len(b)) + rest
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", 0, "", "", "", err
	}
	if n > int64(len(b)) {
		ts, sop, err = fileSyntaxAndUID(path)
		if err != nil {
			os.Remove(path)
			return "", 0, "", "", "", err
		}
	} else {
		ts, sop = syntaxAndUID(b)
	}
	return path, n, hex.EncodeToString(h.Sum(nil)), ts, sop, nil
}

// fetchVerified downloads one instance into dir and verifies it against the manifest's size and MD5,
// retrying a cut download; an instance whose transfer syntax the viewer cannot decode is then fetched
// transcoded.
func (e *Engine) fetchVerified(ctx context.Context, dir string, in api.ManifestInstance) (path string, transcoded bool, err error) {
	for attempt := 0; ; attempt++ {
		path, transcoded, err = e.fetchOnce(ctx, dir, in)
		if err == nil || ctx.Err() != nil || attempt >= e.opts.RoundRetries {
			return path, transcoded, err
		}
		if !client.IsOffline(err) && !errors.Is(err, errMismatch) {
			return path, transcoded, err
		}
		select {
		case <-ctx.Done():
			return "", false, ctx.Err()
		case <-time.After(backoff(attempt+1, roundRetryBase, e.opts.RoundRetryMax)):
		}
	}
}

var errMismatch = errors.New("the file received does not match what Orthanc recorded")

func (e *Engine) fetchOnce(ctx context.Context, dir string, in api.ManifestInstance) (string, bool, error) {
	path := filepath.Join(dir, in.OrthancID+".dcm")
	f, err := os.Create(path)
	if err != nil {
		return "", false, err
	}
	got, err := e.client.DownloadInstance(ctx, in.OrthancID, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", false, err
	}
	if got.Size != in.Size || got.MD5 != in.MD5 {
		os.Remove(path)
		return "", false, fmt.Errorf("%w: %d bytes with MD5 %s, Orthanc recorded %d bytes with MD5 %s", errMismatch, got.Size, got.MD5, in.Size, in.MD5)
	}
	ts, sop, err := fileSyntaxAndUID(path)
	if err != nil {
		os.Remove(path)
		return "", false, err
	}
	if sop != "" && sop != in.SOPInstanceUID {
		os.Remove(path)
		return "", false, fmt.Errorf("file of instance %s carries SOP Instance UID %s", in.SOPInstanceUID, sop)
	}
	return e.decodableCopy(ctx, dir, in, path, ts)
}

// decodableCopy returns path when the viewer decodes its transfer syntax ts (or it is unreadable: the
// import then says why); otherwise it replaces the file by a copy the server transcoded (same SOP
// Instance UID).
func (e *Engine) decodableCopy(ctx context.Context, dir string, in api.ManifestInstance, path, ts string) (string, bool, error) {
	if ts == "" || Decodable(ts) {
		return path, false, nil
	}
	defer os.Remove(path)
	tpath := filepath.Join(dir, in.OrthancID+".ts.dcm")
	tf, err := os.Create(tpath)
	if err != nil {
		return "", false, err
	}
	_, err = e.client.TranscodeInstance(ctx, in.OrthancID, e.opts.TransferSyntax, tf)
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
	if sop2 != in.SOPInstanceUID || !Decodable(ts2) {
		os.Remove(tpath)
		return "", false, fmt.Errorf("transcoded copy of %s came back as %s in %s", in.SOPInstanceUID, sop2, ts2)
	}
	return tpath, true, nil
}

// fileSyntaxAndUID reads the transfer syntax and SOP Instance UID of a DICOM file.
func fileSyntaxAndUID(path string) (ts, sop string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	ts, sop = syntaxAndUID(b)
	return ts, sop, nil
}

// syntaxAndUID reads the transfer syntax and SOP Instance UID of a DICOM file: from its file meta
// information when it has one, else from the whole header; empty when unreadable (the import then says why).
func syntaxAndUID(b []byte) (ts, sop string) {
	if ts, sop, ok := metaSyntaxAndUID(b); ok {
		return ts, sop
	}
	ds, err := parseHeader(b)
	if err != nil {
		return "", ""
	}
	return tagString(ds, tag.TransferSyntaxUID), tagString(ds, tag.SOPInstanceUID)
}

// metaSyntaxAndUID reads Transfer Syntax UID (0002,0010) and Media Storage SOP Instance UID (0002,0003)
// from the file meta information after the preamble (group 0002, always explicit VR little endian),
// without parsing the data set. ok is false when the file has no such group or it lacks either.
func metaSyntaxAndUID(b []byte) (ts, sop string, ok bool) {
	if len(b) < 132 || string(b[128:132]) != "DICM" {
		return "", "", false
	}
	for i := 132; i+8 <= len(b) && binary.LittleEndian.Uint16(b[i:]) == 0x0002; {
		elem := binary.LittleEndian.Uint16(b[i+2:])
		n, hdr := int(binary.LittleEndian.Uint16(b[i+6:])), 8
		switch string(b[i+4 : i+6]) {
		case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
			if i+12 > len(b) {
				return "", "", false
			}
			n, hdr = int(binary.LittleEndian.Uint32(b[i+8:])), 12
		}
		if n < 0 || n > len(b)-i-hdr {
			return "", "", false
		}
		v := strings.TrimRight(string(b[i+hdr:i+hdr+n]), "\x00 ")
		switch elem {
		case 0x0003:
			sop = v
		case 0x0010:
			ts = v
		}
		i += hdr + n
	}
	return ts, sop, ts != "" && sop != ""
}
