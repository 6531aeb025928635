package cache

import (
	"archive/zip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/sync/deid"
	"github.com/neuronova/neuronova/viewer"
)

// ExportOptions configures Export.
type ExportOptions struct {
	// Anonymize applies the Basic Application Level Confidentiality Profile (package deid) to every file.
	Anonymize bool
	// Salt fixes the UID mapping of an anonymised export (same salt, same new UIDs); empty means random.
	Salt string
	// Progress receives files written out of files to write; may be nil.
	Progress viewer.Progress
}

// ExportReport says what Export wrote.
type ExportReport struct {
	Out      string // the folder or ZIP written
	Files    int
	Series   int
	StudyUID string // the StudyInstanceUID in the output (a new one when anonymised)
	// BurnedIn lists (new) SOP Instance UIDs of images flagged BurnedInAnnotation YES: check their pixels.
	BurnedIn []string
}

// Export writes a cached study to out — a folder (created; it must not hold files already) or, when out
// ends in ".zip", a ZIP archive — as SE001/IM0001.dcm … in series and instance order. With Anonymize the
// files are de-identified (new UIDs consistent across the study, private tags removed, De-identification
// Method Code Sequence recorded); without it they are copied byte for byte. Files appear atomically (temporary
// name, fsync, rename); on error nothing partial is left under the final names.
func (c *Cache) Export(ctx context.Context, studyUID, out string, opts ExportOptions) (*ExportReport, error) {
	st, err := c.Study(ctx, studyUID)
	if err != nil {
		return nil, err
	}
	jobs, series := exportJobs(st)
	rep := &ExportReport{Out: out, Series: series, StudyUID: st.UID}
	var anon *deid.Anonymizer
	if opts.Anonymize {
		if opts.Salt != "" {
			anon = deid.New(opts.Salt)
		} else {
			anon = deid.NewRandom()
		}
		rep.StudyUID = anon.UID(st.UID)
	}
	produce := func(j exportJob) ([]byte, error) {
		if anon != nil {
			return anon.Bytes(j.src)
		}
		return os.ReadFile(j.src)
	}
	var sink exportSink
	if strings.EqualFold(filepath.Ext(out), ".zip") {
		sink, err = newZipSink(out)
	} else {
		sink, err = newDirSink(out)
	}
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := writeExport(ctx, jobs, produce, sink, rep, opts.Progress); err != nil {
		sink.abort()
		if err == ctx.Err() {
			return nil, err
		}
		return nil, fmt.Errorf("export %s: %w", studyUID, err)
	}
	if anon != nil {
		rep.BurnedIn = anon.BurnedIn
	}
	if !c.readOnly {
		detail := fmt.Sprintf("%d files to %s", rep.Files, out)
		if opts.Anonymize {
			detail += ", anonymised (PS3.15 Basic Profile)"
		}
		if err := c.write(ctx, func(tx *sql.Tx) error { return c.audit(ctx, tx, "export", studyUID, detail) }); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// exportJob is one file to export: the cached file and its name in the output.
type exportJob struct{ src, name string }

// exportJobs are the files of st in series and instance order, its SEGs' series after the image series, and
// the number of series.
func exportJobs(st *viewer.Study) ([]exportJob, int) {
	var jobs []exportJob
	for n, se := range st.Series {
		for k, in := range se.Instances {
			jobs = append(jobs, exportJob{in.Path, fmt.Sprintf("SE%03d/IM%04d.dcm", n+1, k+1)})
		}
	}
	n, k, last := len(st.Series), 0, ""
	for _, f := range st.SEGs {
		if f.SeriesUID != last || n == len(st.Series) {
			n, k, last = n+1, 0, f.SeriesUID
		}
		k++
		jobs = append(jobs, exportJob{f.Path, fmt.Sprintf("SE%03d/IM%04d.dcm", n, k)})
	}
	return jobs, n
}

// writeExport produces the files of jobs in chunks of 4 per CPU, in parallel, and writes each chunk to the
// sink in order; then it finishes the sink. A cancellation returns ctx's error as it is.
func writeExport(ctx context.Context, jobs []exportJob, produce func(exportJob) ([]byte, error), sink exportSink,
	rep *ExportReport, progress viewer.Progress) error {
	chunk := 4 * max(1, runtime.GOMAXPROCS(0))
	for start := 0; start < len(jobs); start += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		part := jobs[start:min(start+chunk, len(jobs))]
		data := make([][]byte, len(part))
		errs := make([]error, len(part))
		if err := workpool.ForEach(ctx, len(part), len(part), func(_ context.Context, _, i int) error {
			data[i], errs[i] = produce(part[i])
			return nil
		}); err != nil {
			return err
		}
		for i, j := range part {
			if errs[i] != nil {
				return fmt.Errorf("%s: %w", j.name, errs[i])
			}
			if err := sink.write(j.name, data[i]); err != nil {
				return fmt.Errorf("%s: %w", j.name, err)
			}
			rep.Files++
			if progress != nil {
				progress(rep.Files, len(jobs))
			}
		}
	}
	return sink.finish()
}

// exportSink is where Export writes: a ZIP archive or a folder.
type exportSink interface {
	write(name string, data []byte) error
	finish() error // make what was written durable under its final name
	abort()        // leave nothing under the final name
}

// zipSink writes a ZIP archive through a temporary file renamed when finished.
type zipSink struct {
	out string
	tmp *os.File
	zw  *zip.Writer
}

func newZipSink(out string) (*zipSink, error) {
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("%s already exists", out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".export-*.zip")
	if err != nil {
		return nil, err
	}
	return &zipSink{out: out, tmp: tmp, zw: zip.NewWriter(tmp)}, nil
}

func (z *zipSink) write(name string, data []byte) error {
	w, err := z.zw.Create(name)
	if err == nil {
		_, err = w.Write(data)
	}
	return err
}

func (z *zipSink) finish() error {
	if err := z.zw.Close(); err != nil {
		return err
	}
	if err := z.tmp.Sync(); err != nil {
		return err
	}
	if err := z.tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(z.tmp.Name(), z.out); err != nil {
		return err
	}
	return syncDir(filepath.Dir(z.out))
}

func (z *zipSink) abort() { z.tmp.Close(); os.Remove(z.tmp.Name()) }

// dirSink writes files into a folder, each atomically, and fsyncs the folders when finished.
type dirSink struct {
	out  string
	dirs map[string]bool
}

func newDirSink(out string) (*dirSink, error) {
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("folder %s is not empty", out)
	}
	return &dirSink{out: out, dirs: map[string]bool{}}, nil
}

func (d *dirSink) write(name string, data []byte) error {
	dst := filepath.Join(d.out, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	d.dirs[filepath.Dir(dst)] = true
	return writeFileAtomic(dst, data)
}

func (d *dirSink) finish() error {
	for dir := range d.dirs {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

func (d *dirSink) abort() {}

// writeFileAtomic writes data to path through a temporary file in the same folder, fsynced and renamed.
func writeFileAtomic(path string, data []byte) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s already exists", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
