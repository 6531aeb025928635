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
	"sync"

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
	type job struct{ src, name string }
	var jobs []job
	for n, se := range st.Series {
		for k, in := range se.Instances {
			jobs = append(jobs, job{in.Path, fmt.Sprintf("SE%03d/IM%04d.dcm", n+1, k+1)})
		}
	}
	rep := &ExportReport{Out: out, Series: len(st.Series), StudyUID: st.UID}
	var anon *deid.Anonymizer
	if opts.Anonymize {
		if opts.Salt != "" {
			anon = deid.New(opts.Salt)
		} else {
			anon = deid.NewRandom()
		}
		rep.StudyUID = anon.UID(st.UID)
	}
	produce := func(j job) ([]byte, error) {
		if anon != nil {
			return anon.Bytes(j.src)
		}
		return os.ReadFile(j.src)
	}

	isZip := strings.EqualFold(filepath.Ext(out), ".zip")
	var sink func(name string, data []byte) error
	var finish func() error
	var abort func()
	if isZip {
		if _, err := os.Stat(out); err == nil {
			return nil, fmt.Errorf("export: %s already exists", out)
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		tmp, err := os.CreateTemp(filepath.Dir(out), ".export-*.zip")
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		zw := zip.NewWriter(tmp)
		sink = func(name string, data []byte) error {
			w, err := zw.Create(name)
			if err == nil {
				_, err = w.Write(data)
			}
			return err
		}
		finish = func() error {
			if err := zw.Close(); err != nil {
				return err
			}
			if err := tmp.Sync(); err != nil {
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return err
			}
			return syncDir(filepath.Dir(out))
		}
		abort = func() { tmp.Close(); os.Remove(tmp.Name()) }
	} else {
		if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
			return nil, fmt.Errorf("export: folder %s is not empty", out)
		}
		dirs := map[string]bool{}
		sink = func(name string, data []byte) error {
			dst := filepath.Join(out, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			dirs[filepath.Dir(dst)] = true
			return writeFileAtomic(dst, data)
		}
		finish = func() error {
			for d := range dirs {
				if err := syncDir(d); err != nil {
					return err
				}
			}
			return nil
		}
		abort = func() {}
	}

	chunk := 4 * max(1, runtime.GOMAXPROCS(0))
	for start := 0; start < len(jobs); start += chunk {
		if err := ctx.Err(); err != nil {
			abort()
			return nil, err
		}
		part := jobs[start:min(start+chunk, len(jobs))]
		data := make([][]byte, len(part))
		errs := make([]error, len(part))
		var wg sync.WaitGroup
		for i, j := range part {
			wg.Go(func() { data[i], errs[i] = produce(j) })
		}
		wg.Wait()
		for i, j := range part {
			if errs[i] != nil {
				abort()
				return nil, fmt.Errorf("export %s: %s: %w", studyUID, j.name, errs[i])
			}
			if err := sink(j.name, data[i]); err != nil {
				abort()
				return nil, fmt.Errorf("export %s: %s: %w", studyUID, j.name, err)
			}
			rep.Files++
			if opts.Progress != nil {
				opts.Progress(rep.Files, len(jobs))
			}
		}
	}
	if err := finish(); err != nil {
		abort()
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
		if err := c.write(ctx, func(tx *sql.Tx) error { return audit(ctx, tx, "export", studyUID, detail) }); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

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
