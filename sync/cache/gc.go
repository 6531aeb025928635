package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// SettingBudget is the settings key of the cache's size budget in bytes.
const SettingBudget = "budget_bytes"

// Budget returns the size budget: the stored setting, or DefaultBudget.
func (c *Cache) Budget(ctx context.Context) (int64, error) {
	v, err := c.Setting(ctx, SettingBudget, "")
	if err != nil || v == "" {
		return DefaultBudget, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return DefaultBudget, fmt.Errorf("setting %s: %q is not a positive number of bytes", SettingBudget, v)
	}
	return n, nil
}

// SetBudget stores the size budget in bytes.
func (c *Cache) SetBudget(ctx context.Context, bytes int64) error {
	if bytes <= 0 {
		return fmt.Errorf("budget must be positive, not %d", bytes)
	}
	return c.SetSetting(ctx, SettingBudget, strconv.FormatInt(bytes, 10))
}

// Eviction is one study GC removed, and why.
type Eviction struct {
	StudyUID, PatientName, PatientID, Description, Date string
	Bytes                                               int64 // bytes of files freed
	LastUsed                                            time.Time
	Reason                                              string
}

// Kept is a study GC would have evicted by age but may not.
type Kept struct {
	StudyUID, PatientName string
	Bytes                 int64
	Reason                string // "pinned" or "2 results not yet synced"
}

// GCReport says what GC did.
type GCReport struct {
	Budget, Before, After int64 // bytes
	Evicted               []Eviction
	Kept                  []Kept
}

// GC trims the cache to budget bytes (0: the stored budget, else DefaultBudget) by evicting whole
// studies, least recently opened first (never opened: by import time). Pinned studies and studies with AI
// results not yet synced are never evicted; when only they are left the cache may stay over budget, and
// the report says so. Each study's rows go in one transaction, then its files: a crash in between leaves
// orphan files (removed by Check), never rows without files.
func (c *Cache) GC(ctx context.Context, budget int64) (*GCReport, error) {
	if budget <= 0 {
		b, err := c.Budget(ctx)
		if err != nil {
			return nil, err
		}
		budget = b
	}
	rep := &GCReport{Budget: budget}
	err := c.exclusive(ctx, func() error {
		if err := c.rdb.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM files`).Scan(&rep.Before); err != nil {
			return err
		}
		rep.After = rep.Before
		if rep.Before <= budget {
			return nil
		}
		rows, err := c.rdb.QueryContext(ctx, `SELECT s.uid, s.patient_name, s.patient_id, s.description, s.study_date, s.size_bytes,
				CASE WHEN s.opened_at > 0 THEN s.opened_at ELSE s.imported_at END AS used, s.opened_at > 0, s.pinned,
				(SELECT count(*) FROM results r WHERE r.study_uid = s.uid AND r.synced_at = 0)
			FROM studies s ORDER BY used, s.uid`)
		if err != nil {
			return err
		}
		type cand struct {
			e        Eviction
			opened   bool
			pinned   bool
			unsynced int
		}
		var cands []cand
		for rows.Next() {
			var k cand
			var used int64
			if err := rows.Scan(&k.e.StudyUID, &k.e.PatientName, &k.e.PatientID, &k.e.Description, &k.e.Date, &k.e.Bytes, &used, &k.opened, &k.pinned, &k.unsynced); err != nil {
				rows.Close()
				return err
			}
			k.e.LastUsed = time.UnixMilli(used)
			cands = append(cands, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range cands {
			if rep.After <= budget {
				break
			}
			if k.pinned || k.unsynced > 0 {
				reason := "pinned"
				if !k.pinned {
					reason = fmt.Sprintf("%d results not yet synced", k.unsynced)
				}
				rep.Kept = append(rep.Kept, Kept{StudyUID: k.e.StudyUID, PatientName: k.e.PatientName, Bytes: k.e.Bytes, Reason: reason})
				continue
			}
			when := "imported " + k.e.LastUsed.Format("2006-01-02 15:04") + ", never opened"
			if k.opened {
				when = "last opened " + k.e.LastUsed.Format("2006-01-02 15:04")
			}
			freed, err := c.evict(ctx, k.e.StudyUID)
			if errors.Is(err, errNotEvictable) {
				continue // pinned or given a result since the list was read
			}
			if err != nil {
				return err
			}
			k.e.Bytes = freed
			k.e.Reason = fmt.Sprintf("least recently used (%s); cache at %s over its %s budget", when, FormatSize(rep.After), FormatSize(budget))
			rep.After -= freed
			rep.Evicted = append(rep.Evicted, k.e)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("cache gc: %w", err)
	}
	if len(rep.Evicted) > 0 {
		if err := c.write(ctx, func(tx *sql.Tx) error {
			return c.audit(ctx, tx, "evict", fmt.Sprintf("%d studies", len(rep.Evicted)),
				fmt.Sprintf("%s → %s, budget %s", FormatSize(rep.Before), FormatSize(rep.After), FormatSize(budget)))
		}); err != nil {
			return rep, err
		}
	}
	for _, e := range rep.Evicted {
		c.log.Info("evicted", "study", e.StudyUID, "bytes", e.Bytes, "reason", e.Reason)
	}
	return rep, nil
}

var errNotEvictable = errors.New("study is pinned or has unsynced results")

// evict deletes a study's rows, and the rows of files only it used, in one transaction, then those files.
// It returns the bytes freed.
func (c *Cache) evict(ctx context.Context, uid string) (int64, error) {
	var sums []string
	var freed int64
	err := c.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT f.sha256, f.size FROM instances i JOIN series s ON s.uid = i.series_uid
			JOIN files f ON f.sha256 = i.sha256 WHERE s.study_uid = ?1
			UNION SELECT f.sha256, f.size FROM study_labels l JOIN files f ON f.sha256 = l.sha256 WHERE l.study_uid = ?1`, uid)
		if err != nil {
			return err
		}
		type file struct {
			sum  string
			size int64
		}
		var files []file
		for rows.Next() {
			var f file
			if err := rows.Scan(&f.sum, &f.size); err != nil {
				rows.Close()
				return err
			}
			files = append(files, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM studies WHERE uid = ?1 AND pinned = 0
			AND NOT EXISTS (SELECT 1 FROM results WHERE study_uid = ?1 AND synced_at = 0)`, uid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotEvictable
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM patients WHERE NOT EXISTS (SELECT 1 FROM studies WHERE patient = patients.id)`); err != nil {
			return err
		}
		for _, f := range files {
			res, err := tx.ExecContext(ctx, `DELETE FROM files WHERE sha256 = ?1 AND NOT EXISTS (SELECT 1 FROM instances WHERE sha256 = ?1)
				AND NOT EXISTS (SELECT 1 FROM study_labels WHERE sha256 = ?1)`, f.sum)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				sums = append(sums, f.sum)
				freed += f.size
			}
		}
		return c.audit(ctx, tx, "evict", uid, "")
	})
	if err != nil {
		return 0, err
	}
	for _, s := range sums {
		if err := os.Remove(c.objectPath(s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("evict: remove file (Check will retry)", "file", c.objectPath(s), "err", err)
		}
	}
	return freed, nil
}

// FormatSize writes a byte count in decimal units (GB = 10⁹ bytes).
func FormatSize(n int64) string {
	switch {
	case n >= 1e12:
		return fmt.Sprintf("%.2f TB", float64(n)/1e12)
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
