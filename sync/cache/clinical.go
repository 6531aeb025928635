package cache

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/neuronova/neuronova/internal/workpool"
	"github.com/neuronova/neuronova/viewer"
)

// This file is what the clinical workflow keeps on the workstation: who acts (the signed-in clinician names
// the local audit events), report drafts, reports and image attachments on their way to the server through
// the outbox, and the orders the change feed brought.

// Outbox kinds of the clinical workflow besides the results.
const (
	// KindReport is a report saved or submitted on an order (engine.Report).
	KindReport = "result.report"
	// KindAttach is a cached study's images to send to Orthanc for an order (engine.Attachment).
	KindAttach = "study.attach"
)

// SetActor makes name the actor of the local audit events recorded from now on (the cache's own: import,
// export, eviction, opening a study). The workstation sets the signed-in clinician, and the OS account again
// after sign-out.
func (c *Cache) SetActor(name string) { c.actorName.Store(&name) }

// Actor is who the local audit events name now.
func (c *Cache) Actor() string {
	if p := c.actorName.Load(); p != nil {
		return *p
	}
	return c.actor
}

// SaveDraft keeps a reader's report of an order as last typed.
func (c *Cache) SaveDraft(ctx context.Context, orderID string, workerResult json.RawMessage) error {
	if orderID == "" || !json.Valid(workerResult) {
		return fmt.Errorf("draft of order %q: no order or not JSON", orderID)
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO drafts(order_id, worker_result, updated_at) VALUES (?,?,?)
			ON CONFLICT(order_id) DO UPDATE SET worker_result = excluded.worker_result, updated_at = excluded.updated_at`,
			orderID, string(workerResult), nowMillis())
		return err
	})
}

// Draft returns the draft of an order, or ErrNotFound.
func (c *Cache) Draft(ctx context.Context, orderID string) (json.RawMessage, error) {
	var s string
	err := c.rdb.QueryRowContext(ctx, `SELECT worker_result FROM drafts WHERE order_id = ?`, orderID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("draft of order %s: %w", orderID, ErrNotFound)
	}
	return json.RawMessage(s), err
}

// RecordReport records a report of an order (payload: engine.Report, which names the order) in the outbox,
// for the server. It stands alone, not as a result of a study: a reader may report before the images are
// here.
func (c *Cache) RecordReport(ctx context.Context, payload []byte) error {
	return c.write(ctx, func(tx *sql.Tx) error { return enqueue(ctx, tx, KindReport, "", payload) })
}

// enqueue adds an outbox item in tx, with a fresh idempotency key.
func enqueue(ctx context.Context, tx *sql.Tx, kind, ref string, payload []byte) error {
	var key [16]byte
	rand.Read(key[:])
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox(idempotency_key, kind, ref, payload, created_at) VALUES (?,?,?,?,?)`,
		hex.EncodeToString(key[:]), kind, ref, payload, nowMillis())
	return err
}

// OrderOutbox lists the outbox items of an order (reports and attachments, whose payload names it in
// order_id), oldest first, sent ones included.
func (c *Cache) OrderOutbox(ctx context.Context, orderID string) ([]OutboxEntry, error) {
	// A report recorded as a study's result keeps its payload with the result (migration 0005).
	rows, err := c.rdb.QueryContext(ctx, `SELECT `+outboxEntryColumns+`
		FROM (SELECT o.*, coalesce(p.payload, o.payload) AS body FROM outbox o
			LEFT JOIN result_payloads p ON o.kind LIKE 'result.%' AND p.result_id = CAST(o.ref AS INTEGER) WHERE o.kind IN (?, ?))
		WHERE json_valid(CAST(body AS TEXT)) AND json_extract(CAST(body AS TEXT), '$.order_id') = ? ORDER BY id`,
		KindReport, KindAttach, orderID)
	if err != nil {
		return nil, err
	}
	return scanOutboxEntries(rows)
}

// UnsentAttachments returns the studies with images not yet confirmed on the server (an unsent study.attach
// item, set aside ones included): their results' SEGs wait for them.
func (c *Cache) UnsentAttachments(ctx context.Context) (map[string]bool, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT json_extract(CAST(payload AS TEXT), '$.study_uid') FROM outbox
		WHERE kind = ? AND sent_at = 0 AND json_valid(CAST(payload AS TEXT))`, KindAttach)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var uid sql.NullString
		if err := rows.Scan(&uid); err != nil {
			return nil, err
		}
		out[uid.String] = true
	}
	return out, rows.Err()
}

// RemoteObject returns the JSON of one object copied from the change feed, or ErrNotFound.
func (c *Cache) RemoteObject(ctx context.Context, kind, id string) (json.RawMessage, error) {
	var data string
	err := c.rdb.QueryRowContext(ctx, `SELECT data FROM remote_objects WHERE kind = ? AND object_id = ?`, kind, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s %s: %w", kind, id, ErrNotFound)
	}
	return json.RawMessage(data), err
}

// Owner is who a study's images belong to: the patient (ID as the hospital numbers it, name) and the
// accession.
type Owner struct {
	PatientID, PatientName, Accession string
}

// Rewrite writes the file at src given to its new owner; it returns the bytes and their transfer syntax.
type Rewrite func(src string) (data []byte, transferSyntax string, err error)

// Reassign gives a cached study to another owner — an imported study attached to an order: every instance
// file is rewritten by rewrite and stored, then, in one transaction, the instances point at the new files,
// the study at its new patient and accession, and the outbox item (kind, payload) announcing it is recorded.
// Files no instance names any more are removed afterwards. The UIDs stay: the study is the same study.
func (c *Cache) Reassign(ctx context.Context, studyUID string, to Owner, rewrite Rewrite, kind string, payload []byte, p viewer.Progress) error {
	return c.exclusive(ctx, func() error {
		files, err := c.studyFiles(ctx, studyUID)
		if err != nil {
			return err
		}
		work, err := os.MkdirTemp(filepath.Join(c.dir, tmpDir), "reassign-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		written, err := c.rewriteFiles(ctx, work, files, rewrite, p)
		if err != nil {
			return fmt.Errorf("reassign study %s: %w", studyUID, err)
		}
		var freed []string
		err = c.write(ctx, func(tx *sql.Tx) error {
			if freed, err = switchFiles(ctx, tx, files, written); err != nil {
				return err
			}
			if err := reassignStudy(ctx, tx, studyUID, to); err != nil {
				return err
			}
			if err := refreshStudy(ctx, tx, studyUID); err != nil {
				return err
			}
			if err := enqueue(ctx, tx, kind, "", payload); err != nil {
				return err
			}
			return c.audit(ctx, tx, "study.reassign", studyUID, fmt.Sprintf("to patient %s, accession %s", to.PatientID, to.Accession))
		})
		if err != nil {
			return fmt.Errorf("reassign study %s: %w", studyUID, err)
		}
		for _, s := range freed {
			if err := os.Remove(c.objectPath(s)); err != nil && !errors.Is(err, os.ErrNotExist) {
				c.log.Warn("reassign: remove a replaced file (Check will retry)", "file", c.objectPath(s), "err", err)
			}
		}
		return nil
	})
}

// studyFile is an instance of a study and the stored file that holds it.
type studyFile struct{ sop, path, sum string }

// rewritten is a study file rewritten and stored, with its transfer syntax.
type rewritten struct {
	stored
	syntax string
}

// studyFiles lists the instances of a study with their files.
func (c *Cache) studyFiles(ctx context.Context, studyUID string) ([]studyFile, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT i.sop_uid, i.sha256 FROM instances i JOIN series s ON s.uid = i.series_uid WHERE s.study_uid = ?`, studyUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var files []studyFile
	for rows.Next() {
		var f studyFile
		if err := rows.Scan(&f.sop, &f.sum); err != nil {
			return nil, err
		}
		f.path = c.objectPath(f.sum)
		files = append(files, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("study %s: %w", studyUID, ErrNotFound)
	}
	return files, nil
}

// rewriteFiles rewrites each file through work into the object store, four at a time, and syncs what it
// stored to disk.
func (c *Cache) rewriteFiles(ctx context.Context, work string, files []studyFile, rewrite Rewrite, p viewer.Progress) ([]rewritten, error) {
	written := make([]rewritten, len(files))
	var done atomic.Int64
	err := workpool.ForEach(ctx, len(files), 4, func(ctx context.Context, _, i int) error {
		b, ts, err := rewrite(files[i].path)
		if err != nil {
			return err
		}
		tmp := filepath.Join(work, fmt.Sprint(i))
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		if written[i].stored, err = c.adoptFile(tmp, c.limits.MaxFileBytes); err != nil {
			return err
		}
		written[i].syntax = ts
		if p != nil {
			p(int(done.Add(1)), len(files))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if canSyncFS {
		return written, syncFS(c.dir)
	}
	for _, w := range written {
		if err := syncDir(w.dir); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// switchFiles points each instance at its rewritten file in tx and drops the files no instance holds any
// more, which it returns for removal once tx has committed.
func switchFiles(ctx context.Context, tx *sql.Tx, files []studyFile, written []rewritten) (freed []string, err error) {
	now := nowMillis()
	for i, f := range files {
		w := written[i]
		if _, err := tx.ExecContext(ctx, `INSERT INTO files(sha256, size, stored_at) VALUES (?,?,?) ON CONFLICT(sha256) DO NOTHING`, w.sum, w.size, now); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE instances SET sha256 = ?, transfer_syntax = ? WHERE sop_uid = ?`, w.sum, w.syntax, f.sop); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		res, err := tx.ExecContext(ctx, `DELETE FROM files WHERE sha256 = ?1 AND NOT EXISTS (SELECT 1 FROM instances WHERE sha256 = ?1)`, f.sum)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			freed = append(freed, f.sum)
		}
	}
	return freed, nil
}

// reassignStudy points a study at its new patient and accession, with its search terms, in tx.
func reassignStudy(ctx context.Context, tx *sql.Tx, uid string, to Owner) error {
	var sid int64
	var birth, sex string
	if err := tx.QueryRowContext(ctx, `SELECT id, birth_date, sex FROM studies WHERE uid = ?`, uid).Scan(&sid, &birth, &sex); err != nil {
		return fmt.Errorf("study %s: %w", uid, err)
	}
	var pid int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO patients(patient_id, name, birth_date, sex) VALUES (?,?,?,?)
		ON CONFLICT(patient_id, name) DO UPDATE SET patient_id = excluded.patient_id RETURNING id`, to.PatientID, to.PatientName, birth, sex).Scan(&pid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE studies SET patient = ?, patient_id = ?, patient_name = ?, name_key = ?, accession = ? WHERE id = ?`,
		pid, to.PatientID, to.PatientName, strings.ToLower(to.PatientName), to.Accession, sid); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM patients WHERE NOT EXISTS (SELECT 1 FROM studies WHERE patient = patients.id)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM study_terms WHERE study_id = ?`, sid); err != nil {
		return err
	}
	for _, term := range searchTerms(to.PatientName, to.PatientID, to.Accession) {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO study_terms(term, study_id) VALUES (?, ?)`, term, sid); err != nil {
			return err
		}
	}
	return nil
}

// millis is a time stored in Unix milliseconds, 0 meaning none.
func millis(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
