package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// This file is the versions of results (migration 0007): a model's output is version 1 of a lineage; an
// edit of a label map records the next version as new results, never over the old ones.

// Edit says who made a new version of a result and from what (RecordVersion).
type Edit struct {
	Editor string // the user who edited
	// EditOf names what was edited: the SOP Instance UID of the SEG it came from, or the label file.
	EditOf string
	// Base is the version of the edited map when no result of this cache is its parent (a SEG pulled from
	// the PACS): the new version is Base+1. 0 counts as 1 for an edit with no parent.
	Base int
	Note string // what was done, as the editor put it
}

// ResultVersion is a result of a study with its place among the versions of its lineage.
type ResultVersion struct {
	ID        int64
	Kind      string // "m1", "seg", "sr" …
	Run       int64  // the first result recorded in the same transaction (an M1 run's JSON and its SEG share it)
	Lineage   int64  // the run of version 1
	Parent    int64  // the result this version was made from; 0 for a model's output or an edit of a map outside the cache
	Version   int
	Editor    string
	EditOf    string // "" unless an edit
	Note      string
	CreatedAt time.Time
	SyncedAt  time.Time // zero until the server confirmed it
	// Refused is the server's refusal of it (its outbox message was set aside for good); "" when not refused.
	Refused string
}

// Edited reports whether the version is an edit rather than a model's output.
func (v ResultVersion) Edited() bool { return v.EditOf != "" || v.Parent != 0 }

// RecordVersion records results of a study as a new version made by an edit: each result names its parent
// (ResultInput.Parent, the same kind of result of the version edited) or none, all parents of one
// lineage of the study; the version is one above the highest parent's (else ed.Base+1). Like RecordResults,
// the results and their outbox messages are recorded in one transaction. It returns the results' ids in order.
func (c *Cache) RecordVersion(ctx context.Context, studyUID string, ed Edit, results []ResultInput) ([]int64, error) {
	if ed.Editor == "" {
		return nil, fmt.Errorf("record a version of study %s: no editor", studyUID)
	}
	ids, _, err := c.recordRun(ctx, studyUID, "", &ed, results)
	if err != nil {
		return nil, fmt.Errorf("record a version of study %s: %w", studyUID, err)
	}
	return ids, nil
}

// runVersion returns the lineage and version of a new run: those of a model's output (lineage 0: its own
// run) without ed, else the next version of its parents' lineage.
func runVersion(ctx context.Context, tx *sql.Tx, studyUID string, ed *Edit, results []ResultInput) (lineage int64, version int, err error) {
	if ed == nil {
		for _, r := range results {
			if r.Parent != 0 {
				return 0, 0, errors.New("a result with a parent is a new version: record it with RecordVersion")
			}
		}
		return 0, 1, nil
	}
	version = max(ed.Base, 1) + 1
	first := true
	for _, r := range results {
		if r.Parent == 0 {
			continue
		}
		var study string
		var lin int64
		var v int
		err := tx.QueryRowContext(ctx, `SELECT study_uid, lineage, version FROM results WHERE id = ?`, r.Parent).Scan(&study, &lin, &v)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, 0, fmt.Errorf("parent result %d: %w", r.Parent, ErrNotFound)
		}
		if err != nil {
			return 0, 0, err
		}
		if study != studyUID {
			return 0, 0, fmt.Errorf("parent result %d belongs to study %s", r.Parent, study)
		}
		if !first && lin != lineage {
			return 0, 0, fmt.Errorf("parent results %d and others belong to different lineages", r.Parent)
		}
		if first || v+1 > version {
			version = v + 1
		}
		lineage, first = lin, false
	}
	return lineage, version, nil
}

// StudyResults lists the results of a study with their versions, latest first.
func (c *Cache) StudyResults(ctx context.Context, studyUID string) ([]ResultVersion, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT r.id, r.kind, r.run_id, r.lineage, coalesce(r.parent_id, 0), r.version, r.editor, r.edit_of,
		r.note, r.created_at, r.synced_at, coalesce((SELECT o.last_error FROM outbox o WHERE o.kind = 'result.' || r.kind
			AND o.ref = CAST(r.id AS TEXT) AND o.dead_at > 0 AND o.sent_at = 0), '')
		FROM results r WHERE r.study_uid = ? ORDER BY r.created_at DESC, r.id DESC`, studyUID)
	if err != nil {
		return nil, fmt.Errorf("results of study %s: %w", studyUID, err)
	}
	defer rows.Close()
	var out []ResultVersion
	for rows.Next() {
		var v ResultVersion
		var created, synced int64
		if err := rows.Scan(&v.ID, &v.Kind, &v.Run, &v.Lineage, &v.Parent, &v.Version, &v.Editor, &v.EditOf, &v.Note, &created, &synced, &v.Refused); err != nil {
			return nil, fmt.Errorf("results of study %s: %w", studyUID, err)
		}
		v.CreatedAt, v.SyncedAt = time.UnixMilli(created), millis(synced)
		out = append(out, v)
	}
	return out, rows.Err()
}

// ResultPayload returns a result's payload: an AI result's JSON, a SEG's DICOM bytes.
func (c *Cache) ResultPayload(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := c.rdb.QueryRowContext(ctx, `SELECT payload FROM result_payloads WHERE result_id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("result %s: %w", strconv.FormatInt(id, 10), ErrNotFound)
	}
	return b, err
}
