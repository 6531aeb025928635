package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/neuronova/neuronova/viewer"
)

// labelFile is a label map found among the files of an import (viewer.LabelsFile beside DICOM, or a BraTS
// folder's segmentation once converted): it belongs to the studies imported from its folder.
type labelFile struct {
	path, dir, origin string
}

// attachLabels stores each label map found by an import and names it as the label map of the studies whose
// files came from under its folder (studyDirs: study UID → folders of its files), when those are of one
// patient; a label map that does not load, or whose folder holds no study or several patients', is
// rejected. It runs inside the import's writer lock.
func (c *Cache) attachLabels(ctx context.Context, labels []labelFile, studyDirs map[string]map[string]bool, sum *ImportSummary) error {
	for _, l := range labels {
		uids, err := c.studiesUnder(ctx, l.dir, studyDirs)
		if err == nil && len(uids) == 0 {
			err = errors.New("no study was imported from its folder")
		}
		if err == nil {
			_, err = viewer.LoadNIfTILabels(l.path)
		}
		if err != nil {
			sum.Rejected = append(sum.Rejected, viewer.Rejected{Path: l.origin, Err: fmt.Errorf("label map: %w", err)})
			continue
		}
		obj, err := c.storeFile(l.path, c.limits.MaxFileBytes)
		if err != nil {
			return fmt.Errorf("store label map %s: %w", l.origin, err)
		}
		if err := syncDir(obj.dir); err != nil {
			return err
		}
		if err := c.write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO files(sha256, size, stored_at) VALUES (?,?,?) ON CONFLICT(sha256) DO NOTHING`,
				obj.sum, obj.size, nowMillis()); err != nil {
				return err
			}
			for _, uid := range uids {
				if _, err := tx.ExecContext(ctx, `INSERT INTO study_labels(study_uid, sha256, source) VALUES (?,?,?)
					ON CONFLICT(study_uid) DO UPDATE SET sha256 = excluded.sha256, source = excluded.source`, uid, obj.sum, l.origin); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("record label map %s: %w", l.origin, err)
		}
		sum.Labels = append(sum.Labels, uids...)
	}
	return nil
}

// studiesUnder returns the studies with files under dir, failing when they are of several patients.
func (c *Cache) studiesUnder(ctx context.Context, dir string, studyDirs map[string]map[string]bool) ([]string, error) {
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	var uids []string
	patients := map[string]bool{}
	for uid, dirs := range studyDirs {
		for d := range dirs {
			if d == filepath.Clean(dir) || strings.HasPrefix(d, prefix) {
				info, err := c.StudyInfo(ctx, uid)
				if err != nil {
					return nil, err
				}
				patients[info.PatientID+"\x00"+info.PatientName] = true
				uids = append(uids, uid)
				break
			}
		}
	}
	if len(patients) > 1 {
		return nil, fmt.Errorf("its folder holds the studies of %d patients: whose is it?", len(patients))
	}
	return uids, nil
}

// studyLabels reads the label map kept for a study; nil when it has none.
func (c *Cache) studyLabels(ctx context.Context, uid string) (*viewer.LabelMap, error) {
	var sum, source string
	err := c.rdb.QueryRowContext(ctx, `SELECT sha256, source FROM study_labels WHERE study_uid = ?`, uid).Scan(&sum, &source)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := viewer.LoadNIfTILabels(c.objectPath(sum))
	if err != nil {
		return nil, fmt.Errorf("label map of study %s (imported from %s): %w", uid, source, err)
	}
	m.Source = "ground truth: " + filepath.Base(source) // the file it was imported from, not the store's name
	return m, nil
}
