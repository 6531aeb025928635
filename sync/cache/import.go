package cache

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/neuronova/neuronova/internal/progress"
	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

// ImportSummary says what an import did, file by file where something was not imported.
type ImportSummary struct {
	Files    int               // candidate files examined (after unpacking ZIPs and converting NIfTI)
	Imported int               // instances added to the cache
	Bytes    int64             // bytes of the files added
	Skipped  []FileNote        // files not imported on purpose: already in the cache, duplicates, DICOMDIR
	Rejected []viewer.Rejected // files and inputs that could not be imported, with the reason
	Studies  []string          // StudyInstanceUIDs that received instances or were already complete
	// Converted lists the BraTS NIfTI folders stored as DICOM MR series.
	Converted []string
	// Labels lists the studies that received a label map found beside their files (viewer.LabelsFile, or a
	// BraTS folder's segmentation).
	Labels []string
}

// AlreadyPresent counts the files skipped because their SOP Instance UID was already in the cache.
func (s *ImportSummary) AlreadyPresent() int {
	n := 0
	for _, k := range s.Skipped {
		if k.Present {
			n++
		}
	}
	return n
}

// FileNote is one file and why it was skipped.
type FileNote struct {
	Path    string
	Reason  string
	Present bool // the instance is already in the cache (re-import)
}

// candidate is a file to import and the name the user knows it by.
type candidate struct {
	path   string // readable file
	origin string // what to report: the input path, "archive.zip!entry" or "folder (converted NIfTI)"
	move   bool   // the file is the cache's own (under tmp/): move it into the store rather than copy it
}

// record is an instance parsed and stored, ready for the index.
type record struct {
	f      *viewer.File
	obj    stored
	origin string
	path   string // the file read
}

// Import adds DICOM files, folders (recursively), ZIP archives, DICOMDIR media and BraTS NIfTI folders
// (converted to DICOM MR series with dcmwrite) to the cache. Headers are parsed in parallel; instances are
// deduplicated by SOP Instance UID, so importing the same files again adds nothing and counts them as
// Skipped (Present). p, which may be nil, receives files done out of files found; it is called from
// worker goroutines (hand it to the UI with fyne.Do). Cancelling ctx stops the import: what was committed
// stays, complete; the summary so far is returned with ctx's error. Files that are not usable are listed
// in Rejected with the reason and change nothing stored; an error is returned only when the cache itself
// fails (or ctx is cancelled).
//
// Import holds the cache's writer lock for its duration: a second Import, GC or Check (in this or another
// process) waits for it.
func (c *Cache) Import(ctx context.Context, paths []string, p viewer.Progress) (*ImportSummary, error) {
	sum := &ImportSummary{}
	err := c.exclusive(ctx, func() error {
		work, err := os.MkdirTemp(filepath.Join(c.dir, tmpDir), "import-*")
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer os.RemoveAll(work)
		x, err := c.expand(ctx, paths, work, sum)
		if err != nil {
			return err
		}
		sum.Files = len(x.out)
		dirs, err := c.importFiles(ctx, x.out, sum, p)
		if err != nil {
			return err
		}
		return c.attachLabels(ctx, x.labels, dirs, sum)
	})
	sort.Strings(sum.Studies)
	sum.Studies = compactStrings(sum.Studies)
	detail := fmt.Sprintf("%d files: %d imported, %d skipped, %d rejected", sum.Files, sum.Imported, len(sum.Skipped), len(sum.Rejected))
	if err != nil {
		detail += "; stopped: " + err.Error()
	}
	actx := context.WithoutCancel(ctx) // a cancelled import is recorded too
	if aerr := c.write(actx, func(tx *sql.Tx) error {
		return c.audit(actx, tx, "import", strings.Join(paths, ", "), detail)
	}); aerr != nil && err == nil {
		err = aerr
	}
	c.log.Info("import", "dir", c.dir, "summary", detail)
	return sum, err
}

// Adopt imports DICOM files that the caller wrote under the cache's tmp/ folder (TmpDir), such as
// downloads: each new instance's file is moved into the store (hashed and fsynced, not copied). Files not
// taken (already present, duplicates, rejected) stay where they are for the caller to remove. source says
// where the files came from, in the index and the audit log. Otherwise it is Import, without unpacking.
func (c *Cache) Adopt(ctx context.Context, files []string, source string) (*ImportSummary, error) {
	sum := &ImportSummary{Files: len(files)}
	tmp, err := filepath.Abs(c.TmpDir())
	if err != nil {
		return sum, err
	}
	cands := make([]candidate, 0, len(files))
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if rel, rerr := filepath.Rel(tmp, abs); err != nil || rerr != nil || !filepath.IsLocal(rel) {
			sum.Rejected = append(sum.Rejected, viewer.Rejected{Path: f, Err: fmt.Errorf("not under the cache's tmp folder %s", tmp)})
			continue
		}
		cands = append(cands, candidate{path: abs, origin: source, move: true})
	}
	err = c.exclusive(ctx, func() error {
		_, err := c.importFiles(ctx, cands, sum, nil)
		return err
	})
	sort.Strings(sum.Studies)
	sum.Studies = compactStrings(sum.Studies)
	detail := fmt.Sprintf("%d files: %d imported, %d skipped, %d rejected", sum.Files, sum.Imported, len(sum.Skipped), len(sum.Rejected))
	if err != nil {
		detail += "; stopped: " + err.Error()
	}
	actx := context.WithoutCancel(ctx)
	if aerr := c.write(actx, func(tx *sql.Tx) error {
		return c.audit(actx, tx, "import", source, detail)
	}); aerr != nil && err == nil {
		err = aerr
	}
	return sum, err
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// expand turns the inputs into candidate files (and label maps): folders are walked, ZIPs unpacked and
// BraTS folders converted into work.
func (c *Cache) expand(ctx context.Context, paths []string, work string, sum *ImportSummary) (*expander, error) {
	x := &expander{c: c, work: work, sum: sum, seen: map[string]bool{}}
	for _, in := range paths {
		st, err := os.Stat(in)
		if err != nil {
			sum.Rejected = append(sum.Rejected, viewer.Rejected{Path: in, Err: explainPathError(err)})
			continue
		}
		root := in
		if !st.IsDir() && strings.EqualFold(filepath.Base(in), "DICOMDIR") {
			// A DICOMDIR names files relative to its own folder: import that folder.
			root = filepath.Dir(in)
		}
		if err := x.walk(ctx, root, root, false); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// expander is one expand: the candidates found so far and the sub-folders of work it unpacked into.
type expander struct {
	c      *Cache
	work   string
	sum    *ImportSummary
	out    []candidate
	labels []labelFile
	seen   map[string]bool
	nwork  int
}

func (x *expander) add(path, origin string) {
	if !x.seen[path] {
		x.seen[path] = true
		x.out = append(x.out, candidate{path: path, origin: origin})
	}
}

// subWork makes a new folder under work.
func (x *expander) subWork() (string, error) {
	x.nwork++
	d := filepath.Join(x.work, fmt.Sprint(x.nwork))
	return d, os.Mkdir(d, 0o700)
}

// walk adds the files under root; originRoot is what the user knows root by (an input path, or an archive
// when inZip).
func (x *expander) walk(ctx context.Context, root, originRoot string, inZip bool) error {
	origin := func(p string) string {
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return originRoot
		}
		if inZip {
			return originRoot + "!" + filepath.ToSlash(rel)
		}
		return filepath.Join(originRoot, rel)
	}
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			x.sum.Rejected = append(x.sum.Rejected, viewer.Rejected{Path: origin(p), Err: explainPathError(err)})
			if e != nil && e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case e.IsDir():
			if viewer.IsBraTSDir(p) {
				if err := x.convert(ctx, p, origin(p)); err != nil {
					return err
				}
				return fs.SkipDir
			}
			return nil
		case !e.Type().IsRegular():
			x.sum.Skipped = append(x.sum.Skipped, FileNote{Path: origin(p), Reason: "not a regular file (link or device)"})
			return nil
		case e.Name() == viewer.LabelsFile:
			x.labels = append(x.labels, labelFile{path: p, dir: filepath.Dir(p), origin: origin(p)})
			return nil
		case strings.EqualFold(e.Name(), "DICOMDIR"):
			x.sum.Skipped = append(x.sum.Skipped, FileNote{Path: origin(p), Reason: "DICOMDIR index: the images it lists are imported from its folder"})
			return nil
		case isZip(p):
			return x.unzip(ctx, p, origin(p), inZip)
		}
		x.add(p, origin(p))
		return nil
	})
}

// unzip unpacks the ZIP at p into a new folder under work and walks it.
func (x *expander) unzip(ctx context.Context, p, origin string, inZip bool) error {
	if inZip {
		x.sum.Rejected = append(x.sum.Rejected, viewer.Rejected{Path: origin, Err: errors.New("ZIP inside a ZIP: not unpacked (unpack the outer archive first)")})
		return nil
	}
	d, err := x.subWork()
	if err != nil {
		return err
	}
	if err := unzip(ctx, p, d, x.c.limits); err != nil {
		os.RemoveAll(d)
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		x.sum.Rejected = append(x.sum.Rejected, viewer.Rejected{Path: origin, Err: err})
		return nil
	}
	return x.walk(ctx, d, origin, true)
}

// convert writes the BraTS NIfTI folder dir as DICOM MR series into a new folder under work and adds them.
func (x *expander) convert(ctx context.Context, dir, origin string) error {
	d, err := x.subWork()
	if err != nil {
		return err
	}
	st, err := viewer.LoadBraTS(dir)
	if err == nil {
		_, err = dcmwrite.WriteStudy(d, st, dcmwrite.KeepUIDs(), dcmwrite.WithContext(ctx))
	}
	if err == nil && st.Labels != nil {
		// The segmentation becomes the study's label map, as a labels file beside its DICOM would.
		lp := filepath.Join(d, viewer.LabelsFile)
		if err = viewer.SaveNIfTILabels(lp, st.Labels); err == nil {
			x.labels = append(x.labels, labelFile{path: lp, dir: d, origin: origin + " (segmentation)"})
		}
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		x.sum.Rejected = append(x.sum.Rejected, viewer.Rejected{Path: origin, Err: fmt.Errorf("BraTS NIfTI folder: %w", err)})
		return nil
	}
	x.sum.Converted = append(x.sum.Converted, origin)
	return filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && e.Name() != viewer.LabelsFile {
			x.add(p, origin+" (converted from NIfTI)")
		}
		return err
	})
}

func explainPathError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no such file or folder: %w", err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("permission denied: %w", err)
	}
	return err
}

// importFiles imports candidates in two stages: prepare (parse each file and store a new instance's file,
// on one worker per CPU) and commit (record the stored instances in batches, from one writer). It returns the
// folders each study's files came from (new or already cached), for the label maps beside them.
func (c *Cache) importFiles(ctx context.Context, cands []candidate, sum *ImportSummary, p viewer.Progress) (map[string]map[string]bool, error) {
	present, err := c.rdb.PrepareContext(ctx, `SELECT 1 FROM instances WHERE sop_uid = ?`)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer present.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &importRun{c: c, cands: cands, sum: sum, prog: progress.New(p, len(cands)), present: present,
		claimed: map[string]string{}, cancel: cancel, dirs: map[string]map[string]bool{}}
	run.prog.Add(0)
	recs := make(chan record, 64)
	go func() {
		defer close(recs)
		run.prepareAll(wctx, recs)
	}()
	run.commitAll(ctx, recs)
	if run.storeErr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("import: %w", run.storeErr)
	}
	return run.dirs, ctx.Err()
}

// importRun is one importFiles.
type importRun struct {
	c       *Cache
	cands   []candidate
	sum     *ImportSummary // guarded by mu
	prog    *progress.Counter
	present *sql.Stmt // is a SOP Instance UID in the cache already
	cancel  context.CancelFunc

	mu      sync.Mutex
	claimed map[string]string          // SOP Instance UID → the origin that claimed it in this import; guarded by mu
	dirs    map[string]map[string]bool // study UID → folders of its files in this import; guarded by mu

	once     sync.Once
	storeErr error // the first failure of the cache itself; set once
}

// addDir notes the folder rec's file came from; the caller holds mu.
func (r *importRun) addDir(rec record) {
	d := r.dirs[rec.f.Study.UID]
	if d == nil {
		d = map[string]bool{}
		r.dirs[rec.f.Study.UID] = d
	}
	d[filepath.Dir(rec.path)] = true
}

// fail records the first failure of the cache itself and stops the import.
func (r *importRun) fail(err error) { r.once.Do(func() { r.storeErr = err; r.cancel() }) }

// prepareAll is the prepare stage: every candidate on one worker per CPU (at least 4 when adopting, which
// is mostly waiting for fsync), new instances sent to recs, skips and rejections counted at once.
func (r *importRun) prepareAll(ctx context.Context, recs chan<- record) {
	workers := max(1, runtime.GOMAXPROCS(0))
	if len(r.cands) > 0 && r.cands[0].move {
		workers = max(workers, 4)
	}
	err := workpool.ForEach(ctx, len(r.cands), workers, func(ctx context.Context, _, i int) error {
		rec, note, rej, err := r.c.prepare(ctx, r.cands[i], r.present, &r.mu, r.claimed)
		switch {
		case err != nil:
			return err
		case rej != nil:
			r.mu.Lock()
			r.sum.Rejected = append(r.sum.Rejected, *rej)
			r.mu.Unlock()
			r.prog.Add(1)
		case note != nil:
			r.mu.Lock()
			r.sum.Skipped = append(r.sum.Skipped, *note)
			r.sum.Studies = append(r.sum.Studies, rec.f.Study.UID)
			r.addDir(rec)
			r.mu.Unlock()
			r.prog.Add(1)
		default:
			select {
			case recs <- rec:
			case <-ctx.Done():
			}
		}
		return nil
	})
	if err != nil {
		r.fail(err) // a cancellation too: importFiles then returns ctx's error
	}
}

// commitAll is the commit stage: batches of stored instances (up to 128, or what came in 200 ms) recorded in
// one transaction each, after fsyncing the folders their files were renamed into. It drains recs even after
// a failure so that the workers can finish.
func (r *importRun) commitAll(ctx context.Context, recs <-chan record) {
	var batch []record
	flush := func() {
		if len(batch) == 0 {
			return
		}
		n, bytes, err := r.c.commitBatch(context.WithoutCancel(ctx), batch)
		if err != nil {
			r.fail(err)
			return
		}
		r.mu.Lock()
		r.sum.Imported += n
		r.sum.Bytes += bytes
		for _, rec := range batch {
			r.sum.Studies = append(r.sum.Studies, rec.f.Study.UID)
			r.addDir(rec)
		}
		r.mu.Unlock()
		r.prog.Add(len(batch))
		batch = batch[:0]
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case rec, ok := <-recs:
			if !ok {
				flush()
				return
			}
			batch = append(batch, rec)
			if len(batch) >= 128 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// prepare parses one candidate and, when it is a new instance, stores its file. It returns a record to
// commit, or a skip note, or a rejection; err only for failures of the cache itself.
func (c *Cache) prepare(ctx context.Context, cd candidate, present *sql.Stmt, mu *sync.Mutex, claimed map[string]string) (record, *FileNote, *viewer.Rejected, error) {
	reject := func(err error) (record, *FileNote, *viewer.Rejected, error) {
		return record{}, nil, &viewer.Rejected{Path: cd.origin, Err: err}, nil
	}
	if st, err := os.Stat(cd.path); err != nil {
		return reject(explainPathError(err))
	} else if st.Size() > c.limits.MaxFileBytes {
		return reject(fmt.Errorf("file of %d bytes is larger than the %d-byte limit for one file", st.Size(), c.limits.MaxFileBytes))
	}
	f, err := viewer.ParseFile(cd.path)
	if err != nil {
		// ParseFile names the path it read; name the one the user gave instead.
		msg := strings.TrimPrefix(err.Error(), cd.path+": ")
		return reject(fmt.Errorf("%s", msg))
	}
	inst := &f.Instance
	switch {
	case inst.SOPInstanceUID == "":
		return reject(errors.New("no SOPInstanceUID: the instance cannot be identified"))
	case f.Study.UID == "" || f.Series.UID == "":
		return reject(errors.New("no StudyInstanceUID or SeriesInstanceUID: cannot be grouped"))
	}
	rec := record{f: f, origin: cd.origin, path: cd.path}
	mu.Lock()
	first, dup := claimed[inst.SOPInstanceUID]
	if !dup {
		claimed[inst.SOPInstanceUID] = cd.origin
	}
	mu.Unlock()
	if dup {
		return rec, &FileNote{Path: cd.origin, Reason: "same SOP Instance UID as " + first + " in this import"}, nil, nil
	}
	var one int
	switch err := present.QueryRowContext(ctx, inst.SOPInstanceUID).Scan(&one); {
	case err == nil:
		return rec, &FileNote{Path: cd.origin, Reason: "already in the cache (SOP Instance UID " + inst.SOPInstanceUID + ")", Present: true}, nil, nil
	case !errors.Is(err, sql.ErrNoRows):
		return record{}, nil, nil, err
	}
	if cd.move {
		rec.obj, err = c.adoptFile(cd.path, c.limits.MaxFileBytes)
	} else {
		rec.obj, err = c.storeFile(cd.path, c.limits.MaxFileBytes)
	}
	if err != nil {
		if ctx.Err() != nil {
			return record{}, nil, nil, ctx.Err()
		}
		if errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), c.dir) {
			return reject(err)
		}
		return record{}, nil, nil, err
	}
	return rec, nil, nil, nil
}

// typeBits gives each series type a bit of studies.type_mask.
var typeBits = map[viewer.SeriesType]int64{
	viewer.T1: 1, viewer.T1CE: 2, viewer.T2: 4, viewer.FLAIR: 8, viewer.SEG: 16, viewer.DWI: 32, viewer.SWI: 64, viewer.Other: 128,
}

// commitBatch records stored instances in one transaction, after making their files durable. It returns
// how many instances were new and their bytes.
func (c *Cache) commitBatch(ctx context.Context, batch []record) (int, int64, error) {
	dirs := map[string]bool{filepath.Join(c.dir, objectsDir): true}
	whole := false
	for _, r := range batch {
		dirs[r.obj.dir] = true
		whole = whole || !r.obj.synced
	}
	if whole {
		// Files not fsynced one by one: one sync of the file system covers them and their folders.
		if err := syncFS(c.dir); err != nil {
			return 0, 0, err
		}
	} else {
		for d := range dirs {
			if err := syncDir(d); err != nil {
				return 0, 0, err
			}
		}
	}
	added, bytes := 0, int64(0)
	err := c.write(ctx, func(tx *sql.Tx) error {
		now := nowMillis()
		touched := map[string]bool{}
		knownStudy := map[string]bool{}
		knownSeries := map[string]bool{}
		for _, r := range batch {
			f := r.f
			if !knownStudy[f.Study.UID] {
				if err := upsertStudy(ctx, tx, &f.Study, now); err != nil {
					return err
				}
				knownStudy[f.Study.UID] = true
			}
			if !knownSeries[f.Series.UID] {
				hints, _ := json.Marshal(f.Series.Hints)
				if _, err := tx.ExecContext(ctx, `INSERT INTO series(uid, study_uid, number, modality, description, type, frame_of_reference, hints)
					VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(uid) DO NOTHING`,
					f.Series.UID, f.Study.UID, f.Series.Number, f.Series.Modality, f.Series.Description, string(f.Series.Type),
					f.Series.FrameOfReferenceUID, string(hints)); err != nil {
					return fmt.Errorf("record series %s: %w", f.Series.UID, err)
				}
				knownSeries[f.Series.UID] = true
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO files(sha256, size, stored_at) VALUES (?,?,?) ON CONFLICT(sha256) DO NOTHING`,
				r.obj.sum, r.obj.size, now); err != nil {
				return fmt.Errorf("record file %s: %w", r.origin, err)
			}
			in := &f.Instance
			res, err := tx.ExecContext(ctx, `INSERT INTO instances(sop_uid, series_uid, sha256, sop_class, transfer_syntax, number, rows, columns, frames, source)
				VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(sop_uid) DO NOTHING`,
				in.SOPInstanceUID, f.Series.UID, r.obj.sum, in.SOPClassUID, in.TransferSyntax, in.Number, in.Rows, in.Columns, max(in.Frames, 1), r.origin)
			if err != nil {
				return fmt.Errorf("record instance %s: %w", r.origin, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				added++
				bytes += r.obj.size
			}
			touched[f.Study.UID] = true
		}
		for uid := range touched {
			if err := refreshStudy(ctx, tx, uid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return added, bytes, nil
}

// upsertStudy makes sure the study and its patient exist; an existing study keeps its row.
func upsertStudy(ctx context.Context, tx *sql.Tx, st *viewer.Study, now int64) error {
	var exists int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM studies WHERE uid = ?`, st.UID).Scan(&exists)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var pid int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO patients(patient_id, name, birth_date, sex) VALUES (?,?,?,?)
		ON CONFLICT(patient_id, name) DO UPDATE SET
			birth_date = CASE WHEN excluded.birth_date <> '' THEN excluded.birth_date ELSE birth_date END,
			sex = CASE WHEN excluded.sex <> '' THEN excluded.sex ELSE sex END
		RETURNING id`, st.PatientID, st.PatientName, st.PatientBirthDate, st.PatientSex).Scan(&pid); err != nil {
		return fmt.Errorf("record patient of study %s: %w", st.UID, err)
	}
	var sid int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO studies(uid, patient, patient_name, patient_id, birth_date, sex, name_key, study_date, study_time, description, accession, institution, imported_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id`, st.UID, pid, st.PatientName, st.PatientID, st.PatientBirthDate, st.PatientSex,
		strings.ToLower(st.PatientName), st.StudyDate, st.StudyTime, st.Description, st.AccessionNumber, st.Institution, now).Scan(&sid); err != nil {
		return fmt.Errorf("record study %s: %w", st.UID, err)
	}
	for _, term := range searchTerms(st.PatientName, st.PatientID, st.AccessionNumber) {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO study_terms(term, study_id) VALUES (?, ?)`, term, sid); err != nil {
			return err
		}
	}
	return nil
}

// searchTerms are the lower-case words a worklist search matches by prefix.
func searchTerms(name, id, accession string) []string {
	var out []string
	for _, w := range splitWords(name) {
		out = append(out, w)
	}
	for _, s := range []string{id, accession} {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// splitWords lower-cases s and splits it at PN separators (^ =), spaces and commas.
func splitWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == '^' || r == '=' || r == ',' || r == ' ' || r == '\t'
	})
}

// refreshStudy recomputes a study's counts, size, modalities and series types.
func refreshStudy(ctx context.Context, tx *sql.Tx, uid string) error {
	rows, err := tx.QueryContext(ctx, `SELECT modality, type FROM series WHERE study_uid = ?`, uid)
	if err != nil {
		return err
	}
	mods := map[string]bool{}
	var mask int64
	nseries := 0
	for rows.Next() {
		var m, t string
		if err := rows.Scan(&m, &t); err != nil {
			rows.Close()
			return err
		}
		nseries++
		if m != "" {
			mods[m] = true
		}
		mask |= typeBits[viewer.SeriesType(t)]
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var list []string
	for m := range mods {
		list = append(list, m)
	}
	sort.Strings(list)
	_, err = tx.ExecContext(ctx, `UPDATE studies SET num_series = ?1, modalities = ?2, type_mask = ?3,
		num_instances = (SELECT count(*) FROM instances i JOIN series s ON s.uid = i.series_uid WHERE s.study_uid = ?4),
		size_bytes = (SELECT coalesce(sum(f.size), 0) FROM instances i JOIN series s ON s.uid = i.series_uid JOIN files f ON f.sha256 = i.sha256 WHERE s.study_uid = ?4)
		WHERE uid = ?4`, nseries, strings.Join(list, `\`), mask, uid)
	if err != nil {
		return fmt.Errorf("update study %s: %w", uid, err)
	}
	return nil
}
