package cache

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/neuronova/neuronova/viewer"
)

// Study returns a cached study as the viewer knows it: its series (by series number) with their
// instances, each Instance.Path pointing into the content store, ready for viewer.LoadSeries (which parses
// the files and orders the slices by position). It does not count as opening the study; OpenStudy does.
func (c *Cache) Study(ctx context.Context, uid string) (*viewer.Study, error) {
	info, err := c.StudyInfo(ctx, uid)
	if err != nil {
		return nil, err
	}
	st := &viewer.Study{UID: info.UID, PatientName: info.PatientName, PatientID: info.PatientID, PatientBirthDate: info.BirthDate,
		PatientSex: info.Sex, StudyDate: info.Date, StudyTime: info.Time, Description: info.Description, AccessionNumber: info.Accession,
		Institution: info.Institution}
	rows, err := c.rdb.QueryContext(ctx, `SELECT uid, number, modality, description, type, frame_of_reference, hints
		FROM series WHERE study_uid = ? ORDER BY number, uid`, uid)
	if err != nil {
		return nil, fmt.Errorf("study %s: %w", uid, err)
	}
	bySeries := map[string]*viewer.Series{}
	for rows.Next() {
		se := &viewer.Series{StudyUID: uid}
		var typ, hints string
		if err := rows.Scan(&se.UID, &se.Number, &se.Modality, &se.Description, &typ, &se.FrameOfReferenceUID, &hints); err != nil {
			rows.Close()
			return nil, fmt.Errorf("study %s: %w", uid, err)
		}
		se.Type = viewer.SeriesType(typ)
		if err := json.Unmarshal([]byte(hints), &se.Hints); err != nil {
			rows.Close()
			return nil, fmt.Errorf("study %s: series %s: hints: %w", uid, se.UID, err)
		}
		st.Series = append(st.Series, se)
		bySeries[se.UID] = se
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("study %s: %w", uid, err)
	}
	irows, err := c.rdb.QueryContext(ctx, `SELECT i.series_uid, i.sop_uid, i.sha256, i.sop_class, i.transfer_syntax, i.number, i.rows, i.columns, i.frames
		FROM instances i JOIN series s ON s.uid = i.series_uid WHERE s.study_uid = ? ORDER BY i.series_uid, i.number, i.sop_uid`, uid)
	if err != nil {
		return nil, fmt.Errorf("study %s: %w", uid, err)
	}
	defer irows.Close()
	for irows.Next() {
		var seUID, sum string
		in := &viewer.Instance{}
		if err := irows.Scan(&seUID, &in.SOPInstanceUID, &sum, &in.SOPClassUID, &in.TransferSyntax, &in.Number, &in.Rows, &in.Columns, &in.Frames); err != nil {
			return nil, fmt.Errorf("study %s: %w", uid, err)
		}
		in.Path = c.objectPath(sum)
		switch se := bySeries[seUID]; {
		case se == nil:
		case in.IsSEG():
			st.SEGs = append(st.SEGs, viewer.SEGFileOf(se, in))
		default:
			se.Instances = append(se.Instances, in)
		}
	}
	if err := irows.Err(); err != nil {
		return nil, fmt.Errorf("study %s: %w", uid, err)
	}
	dropSEGSeries(st)
	if st.Labels, err = c.studyLabels(ctx, uid); err != nil {
		return nil, err
	}
	return st, nil
}

// dropSEGSeries removes the series whose instances all went to st.SEGs: a SEG is no image series.
func dropSEGSeries(st *viewer.Study) {
	segSeries := map[string]bool{}
	for _, f := range st.SEGs {
		segSeries[f.SeriesUID] = true
	}
	st.Series = slices.DeleteFunc(st.Series, func(se *viewer.Series) bool { return segSeries[se.UID] && len(se.Instances) == 0 })
}

// OpenStudy is Study for a reader who opens the study: it records the time, which eviction uses (least
// recently opened first), and a local audit event.
func (c *Cache) OpenStudy(ctx context.Context, uid string) (*viewer.Study, error) {
	st, err := c.Study(ctx, uid)
	if err != nil {
		return nil, err
	}
	if err := c.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE studies SET opened_at = ? WHERE uid = ?`, nowMillis(), uid); err != nil {
			return err
		}
		return c.audit(ctx, tx, "study.open", uid, "")
	}); err != nil {
		return nil, fmt.Errorf("open study %s: %w", uid, err)
	}
	return st, nil
}

// SetPinned pins a study (GC never evicts it) or unpins it.
func (c *Cache) SetPinned(ctx context.Context, uid string, pinned bool) error {
	return c.updateStudy(ctx, uid, `UPDATE studies SET pinned = ? WHERE uid = ?`, pinned)
}

// SetSyncState records where a study stands with the server.
func (c *Cache) SetSyncState(ctx context.Context, uid string, s SyncState) error {
	if _, ok := ParseSyncState(string(s)); !ok {
		return fmt.Errorf("study %s: unknown sync state %q", uid, s)
	}
	return c.updateStudy(ctx, uid, `UPDATE studies SET sync_state = ? WHERE uid = ?`, string(s))
}

func (c *Cache) updateStudy(ctx context.Context, uid, query string, v any) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, v, uid)
		if err != nil {
			return fmt.Errorf("study %s: %w", uid, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("study %s: %w", uid, ErrNotFound)
		}
		return nil
	})
}

// RecordResult stores an AI result (or SEG, report…) of a study and, in the same transaction, the outbox
// message that will send it to the server, and marks the study pending. It returns the result's id. A
// study with an unsynced result is never evicted.
func (c *Cache) RecordResult(ctx context.Context, studyUID, kind string, payload []byte) (int64, error) {
	ids, err := c.RecordResults(ctx, studyUID, []ResultInput{{Kind: kind, Payload: payload}})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// MarkResultSynced records that the server has a result. When the study has no unsynced result left it
// becomes synced.
func (c *Cache) MarkResultSynced(ctx context.Context, id int64) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		var study string
		if err := tx.QueryRowContext(ctx, `UPDATE results SET synced_at = ? WHERE id = ? RETURNING study_uid`, nowMillis(), id).Scan(&study); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("result %d: %w", id, ErrNotFound)
			}
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE studies SET sync_state = 'synced' WHERE uid = ?1
			AND NOT EXISTS (SELECT 1 FROM results WHERE study_uid = ?1 AND synced_at = 0)`, study)
		return err
	})
}

// Stats are the cache's totals.
type Stats struct {
	Patients, Studies, Series, Instances, Files int
	Bytes                                       int64 // size of the stored files
}

// Stats counts what the cache holds.
func (c *Cache) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.rdb.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM studies), (SELECT count(*) FROM series),
		(SELECT count(*) FROM instances), (SELECT count(*) FROM files), (SELECT coalesce(sum(size), 0) FROM files)`).
		Scan(&s.Patients, &s.Studies, &s.Series, &s.Instances, &s.Files, &s.Bytes)
	return s, err
}
