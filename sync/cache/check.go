package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckReport says what Check found and repaired.
type CheckReport struct {
	Integrity     string   // PRAGMA integrity_check: "ok" or the problems
	ForeignKeys   int      // rows violating a foreign key (PRAGMA foreign_key_check)
	MissingFiles  []string // instances whose file was gone; their rows were removed
	Orphans       int      // files in objects/ no row named, removed
	OrphanBytes   int64
	UnusedFiles   int // file rows no instance used, removed with their files
	TempRemoved   int // leftovers of interrupted imports in tmp/, removed
	StudiesFixed  int // studies whose counts were recomputed
	EmptyRemoved  int // studies or series left without instances, removed
	FilesVerified int
}

// OK reports whether the index itself is sound (integrity and foreign keys); repairs of the store do not
// make it fail.
func (r *CheckReport) OK() bool { return r.Integrity == "ok" && r.ForeignKeys == 0 }

// Check verifies the index (integrity_check, foreign_key_check) and the store, and repairs the store: it
// removes leftovers in tmp/, files no row names (orphans of an interrupted import or eviction), rows of
// files no instance uses, and — should files have been deleted behind the cache's back — the rows of
// instances whose file is missing, so that the index never names a missing file. It holds the writer
// lock, so it never races an import.
func (c *Cache) Check(ctx context.Context) (*CheckReport, error) {
	rep := &CheckReport{}
	err := c.exclusive(ctx, func() error { return c.check(ctx, rep) })
	if err != nil {
		return rep, fmt.Errorf("cache check: %w", err)
	}
	return rep, nil
}

// check runs Check's stages under the writer lock: the index, tmp/, orphan files, then the repair of the
// rows in one transaction.
func (c *Cache) check(ctx context.Context, rep *CheckReport) error {
	if err := c.checkIndex(ctx, rep); err != nil {
		return err
	}
	if err := c.clearTmp(rep); err != nil {
		return err
	}
	known, err := c.knownFiles(ctx)
	if err != nil {
		return err
	}
	if err := c.removeOrphans(known, rep); err != nil {
		return err
	}
	var missing []string
	for s := range known {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := os.Stat(c.objectPath(s)); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			missing = append(missing, s)
		} else {
			rep.FilesVerified++
		}
	}
	var unused []string
	defer func() {
		for _, s := range unused {
			os.Remove(c.objectPath(s)) // after the rows are gone (or not: then Check finds it again)
		}
	}()
	return c.write(ctx, func(tx *sql.Tx) error {
		var err error
		unused, err = c.repair(ctx, tx, missing, rep)
		return err
	})
}

// queryStrings runs a query of one text column and returns its rows.
func queryStrings(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// checkIndex runs SQLite's integrity and foreign-key checks; a damaged index stops Check.
func (c *Cache) checkIndex(ctx context.Context, rep *CheckReport) error {
	lines, err := queryStrings(ctx, c.wdb, `PRAGMA integrity_check`)
	if err != nil {
		return err
	}
	rep.Integrity = strings.Join(lines, "; ")
	fk, err := c.wdb.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	for fk.Next() {
		rep.ForeignKeys++
	}
	fk.Close()
	if !rep.OK() {
		return fmt.Errorf("the index is damaged (integrity: %s; %d foreign-key violations): copy %s aside and re-import", rep.Integrity, rep.ForeignKeys, c.dir)
	}
	return nil
}

// clearTmp removes what is in tmp/: nothing there belongs to a running writer while Check holds the lock.
func (c *Cache) clearTmp(rep *CheckReport) error {
	entries, err := os.ReadDir(filepath.Join(c.dir, tmpDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(c.dir, tmpDir, e.Name())); err != nil {
			return err
		}
		rep.TempRemoved++
	}
	return nil
}

// knownFiles are the files the index knows: SHA-256 → size.
func (c *Cache) knownFiles(ctx context.Context) (map[string]int64, error) {
	known := map[string]int64{}
	rows, err := c.wdb.QueryContext(ctx, `SELECT sha256, size FROM files`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		known[s] = n
	}
	return known, rows.Err()
}

// removeOrphans removes the files under objects/ that no row names.
func (c *Cache) removeOrphans(known map[string]int64, rep *CheckReport) error {
	root := filepath.Join(c.dir, objectsDir)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := strings.ReplaceAll(filepath.ToSlash(rel), "/", "")
		if _, ok := known[sum]; ok && len(sum) == 64 && filepath.Dir(rel) == sum[:2] {
			return nil
		}
		info, _ := d.Info()
		if info != nil {
			rep.OrphanBytes += info.Size()
		}
		rep.Orphans++
		return os.Remove(p)
	})
}

// repair removes in tx the rows of instances whose file is missing, the file rows nothing uses (returned:
// their files go once the rows are gone) and series and studies left empty, recomputes the studies it
// touched and records the check.
func (c *Cache) repair(ctx context.Context, tx *sql.Tx, missing []string, rep *CheckReport) ([]string, error) {
	touched := map[string]bool{}
	for _, s := range missing {
		rows, err := tx.QueryContext(ctx, `SELECT i.sop_uid, s.study_uid FROM instances i JOIN series s ON s.uid = i.series_uid WHERE i.sha256 = ?`, s)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var sop, study string
			if err := rows.Scan(&sop, &study); err != nil {
				rows.Close()
				return nil, err
			}
			rep.MissingFiles = append(rep.MissingFiles, fmt.Sprintf("instance %s of study %s: file %s is missing", sop, study, s))
			touched[study] = true
		}
		rows.Close()
		if _, err := tx.ExecContext(ctx, `DELETE FROM instances WHERE sha256 = ?`, s); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM study_labels WHERE sha256 = ?`, s); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE sha256 = ?`, s); err != nil {
			return nil, err
		}
	}
	unused, err := queryStrings(ctx, tx, `SELECT sha256 FROM files f WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.sha256 = f.sha256)
		AND NOT EXISTS (SELECT 1 FROM study_labels l WHERE l.sha256 = f.sha256)`)
	if err != nil {
		return nil, err
	}
	for _, s := range unused {
		if _, err := tx.ExecContext(ctx, `DELETE FROM files WHERE sha256 = ?`, s); err != nil {
			return nil, err
		}
	}
	rep.UnusedFiles = len(unused)
	// Series and studies left empty (by missing files) go; the others get fresh counts.
	res, err := tx.ExecContext(ctx, `DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM instances WHERE series_uid = series.uid)`)
	if err != nil {
		return nil, err
	}
	n1, _ := res.RowsAffected()
	res, err = tx.ExecContext(ctx, `DELETE FROM studies WHERE NOT EXISTS (SELECT 1 FROM series WHERE study_uid = studies.uid)
		AND NOT EXISTS (SELECT 1 FROM results WHERE study_uid = studies.uid AND synced_at = 0)`)
	if err != nil {
		return nil, err
	}
	n2, _ := res.RowsAffected()
	rep.EmptyRemoved = int(n1 + n2)
	for study := range touched {
		if err := refreshStudy(ctx, tx, study); err != nil {
			return nil, err
		}
		rep.StudiesFixed++
	}
	detail := fmt.Sprintf("integrity %s; %d orphans, %d missing, %d unused, %d temp", rep.Integrity, rep.Orphans, len(rep.MissingFiles), len(unused), rep.TempRemoved)
	return unused, c.audit(ctx, tx, "check", c.dir, detail)
}
