package cache

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
)

// This file is what the sync engine (sync/engine) needs from the cache: the outbox read and acknowledged
// item by item, several results recorded in one transaction, the local audit trail read by cursor, the
// server-authoritative objects of the change feed, and the sync engine's own state.

// ResultInput is one result to record with RecordResults.
type ResultInput struct {
	Kind    string // "m1", "seg", "report" …: the outbox message is "result."+Kind
	Payload []byte
	Parent  int64 // the result of the same kind this one is a new version of (RecordVersion); 0 for none
}

// RecordResults stores several results of one study (an AI result's JSON and its SEG, say) and their outbox
// messages in one transaction: either all are recorded, or none. They are version 1 of a new lineage, made
// by the cache's actor (RecordVersion records an edit). It returns the results' ids in order.
func (c *Cache) RecordResults(ctx context.Context, studyUID string, results []ResultInput) ([]int64, error) {
	ids, _, err := c.RecordRunOnce(ctx, studyUID, "", results)
	return ids, err
}

// RecordRunOnce is RecordResults for a run named by key (a job's run; "" none): when a run of that key is
// already recorded, nothing is, and it returns that run's ids and true.
func (c *Cache) RecordRunOnce(ctx context.Context, studyUID, key string, results []ResultInput) ([]int64, bool, error) {
	ids, had, err := c.recordRun(ctx, studyUID, key, nil, results)
	if err != nil {
		return nil, false, fmt.Errorf("record results of study %s: %w", studyUID, err)
	}
	return ids, had, nil
}

// RunRecorded reports whether a run named key (RecordRunOnce) is recorded.
func (c *Cache) RunRecorded(ctx context.Context, key string) (bool, error) {
	var n int
	if err := c.rdb.QueryRowContext(ctx, `SELECT count(*) FROM results WHERE run_key = ? AND run_key != ''`, key).Scan(&n); err != nil {
		return false, fmt.Errorf("read the results: %w", err)
	}
	return n > 0, nil
}

// keyedRun returns the ids of the run recorded under key in order, none when there is none.
func keyedRun(ctx context.Context, tx *sql.Tx, key string) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT r.id FROM results r JOIN results k ON r.run_id = k.id
		WHERE k.run_key = ? ORDER BY r.id`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// recordRun records results as one run named key ("" unnamed): a model's output without ed, else an edit
// (RecordVersion). A run already recorded under key is not recorded again: its ids come back with true.
func (c *Cache) recordRun(ctx context.Context, studyUID, key string, ed *Edit, results []ResultInput) ([]int64, bool, error) {
	if len(results) == 0 {
		return nil, false, errors.New("nothing to record")
	}
	editor, editOf, note := c.Actor(), "", ""
	if ed != nil {
		editor, editOf, note = ed.Editor, ed.EditOf, ed.Note
	}
	ids := make([]int64, 0, len(results))
	had := false
	err := c.write(ctx, func(tx *sql.Tx) error {
		if key != "" {
			prev, err := keyedRun(ctx, tx, key)
			if err != nil || len(prev) > 0 {
				ids, had = prev, len(prev) > 0
				return err
			}
		}
		lineage, version, err := runVersion(ctx, tx, studyUID, ed, results)
		if err != nil {
			return err
		}
		now := nowMillis()
		var run int64
		for _, r := range results {
			if r.Kind == "" {
				return errors.New("a result has no kind")
			}
			var parent any
			if r.Parent != 0 {
				parent = r.Parent
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO results(study_uid, kind, created_at, parent_id, version, editor, edit_of, note)
				VALUES (?,?,?,?,?,?,?,?)`, studyUID, r.Kind, now, parent, version, editor, editOf, note)
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				run = id
				if lineage == 0 {
					lineage = id // version 1: the lineage is named by its own run
				}
			}
			runKey := ""
			if id == run {
				runKey = key
			}
			if _, err := tx.ExecContext(ctx, `UPDATE results SET run_id = ?, lineage = ?, run_key = ? WHERE id = ?`, run, lineage, runKey, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO result_payloads(result_id, payload) VALUES (?,?)`, id, r.Payload); err != nil {
				return err
			}
			// The message reads the result's payload (migration 0005).
			var key [16]byte
			rand.Read(key[:])
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(idempotency_key, kind, ref, payload, created_at) VALUES (?,?,?,x'',?)`,
				hex.EncodeToString(key[:]), "result."+r.Kind, strconv.FormatInt(id, 10), now); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		_, err = tx.ExecContext(ctx, `UPDATE studies SET sync_state = 'pending' WHERE uid = ?`, studyUID)
		return err
	})
	return ids, had, err
}

// OutboxItem is one message of the outbox.
type OutboxItem struct {
	ID             int64
	IdempotencyKey string
	Kind           string // "result.m1", "result.seg", "result.report" …
	Ref            string // the result's id for result.* messages
	Payload        []byte
	CreatedAt      time.Time
	Attempts       int
	LastError      string
	NextAttemptAt  time.Time // zero: at once
	StudyUID       string    // the study of the result, for result.* messages
}

// DueOutbox returns up to limit unsent, live outbox items, oldest first. With dueOnly, items whose next
// attempt lies after now are left out.
func (c *Cache) DueOutbox(ctx context.Context, now time.Time, dueOnly bool, limit int) ([]OutboxItem, error) {
	due := int64(1<<62 - 1)
	if dueOnly {
		due = now.UnixMilli()
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT o.id, o.idempotency_key, o.kind, o.ref, coalesce(p.payload, o.payload), o.created_at, o.attempts,
		o.last_error, o.next_attempt_at, coalesce(r.study_uid, '')
		FROM outbox o LEFT JOIN results r ON o.kind LIKE 'result.%' AND r.id = CAST(o.ref AS INTEGER)
		LEFT JOIN result_payloads p ON p.result_id = r.id
		WHERE o.sent_at = 0 AND o.dead_at = 0 AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?`, due, limit)
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var created, next int64
		if err := rows.Scan(&it.ID, &it.IdempotencyKey, &it.Kind, &it.Ref, &it.Payload, &created, &it.Attempts, &it.LastError, &next, &it.StudyUID); err != nil {
			return nil, fmt.Errorf("read the outbox: %w", err)
		}
		it.CreatedAt = time.UnixMilli(created)
		if next > 0 {
			it.NextAttemptAt = time.UnixMilli(next)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// OutboxDone records that the server confirmed an item (confirmation says how: the stored object's ID,
// SOP Instance UID and MD5 …). For a result.* item the result is marked synced in the same transaction, and
// its study becomes synced when no unsynced result is left. Acknowledging an item twice changes nothing.
func (c *Cache) OutboxDone(ctx context.Context, id int64, confirmation string) error {
	return c.OutboxDoneAll(ctx, []Confirmed{{ID: id, Confirmation: confirmation}})
}

// Confirmed is an outbox item the server confirmed, and how (OutboxDone).
type Confirmed struct {
	ID           int64
	Confirmation string
}

// OutboxDoneAll records several confirmations as OutboxDone does, in one transaction (one commit, where a
// commit each made a relay of many small items wait on the disk).
func (c *Cache) OutboxDoneAll(ctx context.Context, done []Confirmed) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		for _, d := range done {
			if err := outboxDone(ctx, tx, d.ID, d.Confirmation); err != nil {
				return err
			}
		}
		return nil
	})
}

func outboxDone(ctx context.Context, tx *sql.Tx, id int64, confirmation string) error {
	var kind, ref string
	err := tx.QueryRowContext(ctx, `UPDATE outbox SET sent_at = ?, confirmation = ?, last_error = '', next_attempt_at = 0
		WHERE id = ? AND sent_at = 0 RETURNING kind, ref`, nowMillis(), confirmation, id).Scan(&kind, &ref)
	if errors.Is(err, sql.ErrNoRows) {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("outbox item %d: %w", id, ErrNotFound)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox item %d: %w", id, err)
	}
	if !strings.HasPrefix(kind, "result.") || ref == "" { // ref "": a report of an order with no cached study
		return nil
	}
	rid, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return fmt.Errorf("outbox item %d: result ref %q: %w", id, ref, err)
	}
	var study string
	err = tx.QueryRowContext(ctx, `UPDATE results SET synced_at = ? WHERE id = ? RETURNING study_uid`, nowMillis(), rid).Scan(&study)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the result was removed with its study; the server has it anyway
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE studies SET sync_state = 'synced' WHERE uid = ?1
		AND NOT EXISTS (SELECT 1 FROM results WHERE study_uid = ?1 AND synced_at = 0)`, study)
	return err
}

// OutboxRetry records a failed attempt: attempts grows by one, the error is kept and the item waits until next.
func (c *Cache) OutboxRetry(ctx context.Context, id int64, next time.Time, why string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND sent_at = 0`,
			truncate(why, 2000), next.UnixMilli(), id)
		return err
	})
}

// OutboxDead sets an item aside that the server refused for good (a conflict, a rule it breaks): it stays in
// the outbox, counted and shown, until a person decides; OutboxRevive puts it back in the queue.
func (c *Cache) OutboxDead(ctx context.Context, id int64, why string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, dead_at = ? WHERE id = ? AND sent_at = 0`,
			truncate(why, 2000), nowMillis(), id)
		return err
	})
}

// OutboxRevive puts every dead item back in the queue (after a person fixed the cause).
func (c *Cache) OutboxRevive(ctx context.Context) (int, error) {
	var n int64
	err := c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET dead_at = 0, next_attempt_at = 0 WHERE dead_at > 0 AND sent_at = 0`)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return int(n), err
}

// OutboxCounts says how many items wait to be sent (Pending, dead ones included) and how many of them the
// server refused for good (Dead).
type OutboxCounts struct {
	Pending, Dead, Sent int
}

// OutboxCounts counts the outbox.
func (c *Cache) OutboxCounts(ctx context.Context) (OutboxCounts, error) {
	var n OutboxCounts
	err := c.rdb.QueryRowContext(ctx, `SELECT coalesce(sum(sent_at = 0), 0), coalesce(sum(sent_at = 0 AND dead_at > 0), 0), coalesce(sum(sent_at > 0), 0) FROM outbox`).
		Scan(&n.Pending, &n.Dead, &n.Sent)
	return n, err
}

// OutboxEntry is an outbox item as the sync panel lists it.
type OutboxEntry struct {
	OutboxItem
	SentAt       time.Time // zero while unsent
	DeadAt       time.Time // zero unless refused for good
	Confirmation string
}

// Outbox lists the latest n outbox items, newest first, sent ones included.
func (c *Cache) Outbox(ctx context.Context, n int) ([]OutboxEntry, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT `+outboxEntryColumns+` FROM outbox ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	return scanOutboxEntries(rows)
}

// outboxEntryColumns are the columns scanOutboxEntries reads, in order.
const outboxEntryColumns = `id, idempotency_key, kind, ref, created_at, attempts, last_error, next_attempt_at, sent_at, dead_at, confirmation`

// scanOutboxEntries reads rows of outboxEntryColumns and closes them.
func scanOutboxEntries(rows *sql.Rows) ([]OutboxEntry, error) {
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		var e OutboxEntry
		var created, next, sent, dead int64
		if err := rows.Scan(&e.ID, &e.IdempotencyKey, &e.Kind, &e.Ref, &created, &e.Attempts, &e.LastError, &next, &sent, &dead, &e.Confirmation); err != nil {
			return nil, err
		}
		e.CreatedAt, e.NextAttemptAt, e.SentAt, e.DeadAt = millis(created), millis(next), millis(sent), millis(dead)
		out = append(out, e)
	}
	return out, rows.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// RecordAudit records a local audit event (a login while offline, a study opened …); the sync engine forwards
// it to the server later.
func (c *Cache) RecordAudit(ctx context.Context, actor, action, target, detail string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_events(at, actor, action, target, detail) VALUES (?,?,?,?,?)`,
			nowMillis(), actor, action, target, detail)
		return err
	})
}

// NumberedAuditEvent is a local audit event with its row id, the cursor by which it is forwarded.
type NumberedAuditEvent struct {
	ID int64
	AuditEvent
}

// AuditEventsAfter returns up to n local audit events with an id above after, oldest first.
func (c *Cache) AuditEventsAfter(ctx context.Context, after int64, n int) ([]NumberedAuditEvent, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT id, at, actor, action, target, detail FROM audit_events WHERE id > ? ORDER BY id LIMIT ?`, after, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NumberedAuditEvent
	for rows.Next() {
		var e NumberedAuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// SyncValue returns a value of the sync engine's state (cursors, last sync), or def when unset.
func (c *Cache) SyncValue(ctx context.Context, key, def string) (string, error) {
	var v string
	err := c.rdb.QueryRowContext(ctx, `SELECT value FROM sync_state WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	return v, err
}

// SetSyncValue stores a value of the sync engine's state.
func (c *Cache) SetSyncValue(ctx context.Context, key, value string) error {
	return c.write(ctx, func(tx *sql.Tx) error { return setSyncValue(ctx, tx, key, value) })
}

func setSyncValue(ctx context.Context, tx *sql.Tx, key, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sync_state(key, value, updated_at) VALUES (?,?,?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, nowMillis())
	return err
}

// SkippedChange is a change of the server's feed that the sync engine could not decode and went past (the
// cursor moved beyond it): kept so that a person can see it, and have it fixed or withdrawn on the server.
type SkippedChange struct {
	Feed      string // cursor key of the feed it came in
	Seq       int64  // 0 when it could not be read
	Kind      string // as far as they could be read
	ObjectID  string
	Reason    string
	SkippedAt time.Time
}

// ApplyChanges stores a page of the server's change feed, the changes of it that were skipped and the cursor
// after it in one transaction, so that a crash never skips or half-applies a page. Objects keep the state of
// their latest change.
func (c *Cache) ApplyChanges(ctx context.Context, cursorKey string, changes []api.Change, skipped []SkippedChange, cursor int64) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		now := nowMillis()
		for _, ch := range changes {
			if ch.Kind == "" || ch.ObjectID == "" || !json.Valid(ch.Data) {
				return fmt.Errorf("change %d: incomplete (kind %q, object %q)", ch.Seq, ch.Kind, ch.ObjectID)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO remote_objects(kind, object_id, seq, data, updated_at) VALUES (?,?,?,?,?)
				ON CONFLICT(kind, object_id) DO UPDATE SET seq = excluded.seq, data = excluded.data, updated_at = excluded.updated_at
				WHERE excluded.seq > remote_objects.seq`, ch.Kind, ch.ObjectID, ch.Seq, string(ch.Data), now); err != nil {
				return fmt.Errorf("change %d: %w", ch.Seq, err)
			}
		}
		for _, s := range skipped {
			if _, err := tx.ExecContext(ctx, `INSERT INTO skipped_changes(feed, seq, kind, object_id, reason, skipped_at) VALUES (?,?,?,?,?,?)`,
				cursorKey, s.Seq, s.Kind, s.ObjectID, s.Reason, now); err != nil {
				return fmt.Errorf("skipped change %d: %w", s.Seq, err)
			}
		}
		return setSyncValue(ctx, tx, cursorKey, strconv.FormatInt(cursor, 10))
	})
}

// SkippedChanges lists the changes of the feed that were skipped, latest first.
func (c *Cache) SkippedChanges(ctx context.Context) ([]SkippedChange, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT feed, seq, kind, object_id, reason, skipped_at FROM skipped_changes ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SkippedChange
	for rows.Next() {
		var s SkippedChange
		var at int64
		if err := rows.Scan(&s.Feed, &s.Seq, &s.Kind, &s.ObjectID, &s.Reason, &at); err != nil {
			return nil, err
		}
		s.SkippedAt = time.UnixMilli(at)
		out = append(out, s)
	}
	return out, rows.Err()
}

// RemoteObjects returns the JSON of every object of a kind copied from the change feed, by object id.
func (c *Cache) RemoteObjects(ctx context.Context, kind string) (map[string]json.RawMessage, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT object_id, data FROM remote_objects WHERE kind = ?`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var id, data string
		if err := rows.Scan(&id, &data); err != nil {
			return nil, err
		}
		out[id] = json.RawMessage(data)
	}
	return out, rows.Err()
}

// RemotePatientByNumber returns the server's id of the patient whose number (the DICOM PatientID of its
// studies) is number, as the change feed told it (through the patient or one of its orders).
func (c *Cache) RemotePatientByNumber(ctx context.Context, number string) (int64, error) {
	// Patients come in the feed of roles that may read them; orders, which every role reads, name the
	// patient too.
	var id string
	err := c.rdb.QueryRowContext(ctx, `SELECT id FROM (
			SELECT object_id AS id, 0 AS pref, seq FROM remote_objects WHERE kind = ?2 AND json_extract(data, '$.patient_number') = ?1
			UNION ALL
			SELECT CAST(json_extract(data, '$.patient_id') AS TEXT), 1, seq FROM remote_objects WHERE kind = ?3 AND json_extract(data, '$.patient_number') = ?1
		) ORDER BY pref, seq DESC LIMIT 1`, number, api.KindPatient, api.KindOrder).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("patient %s: %w", number, ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(id, 10, 64)
}

// HaveInstances returns which of the SOP Instance UIDs the cache holds.
func (c *Cache) HaveInstances(ctx context.Context, sopUIDs []string) (map[string]bool, error) {
	have := make(map[string]bool, len(sopUIDs))
	for start := 0; start < len(sopUIDs); start += 500 {
		chunk := sopUIDs[start:min(start+500, len(sopUIDs))]
		args := make([]any, len(chunk))
		for i, u := range chunk {
			args[i] = u
		}
		rows, err := c.rdb.QueryContext(ctx, `SELECT sop_uid FROM instances WHERE sop_uid IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return nil, err
			}
			have[u] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return have, nil
}

// MarkPulled sets a study that came from the server to pulled, unless it has local work (pending, conflict)
// or is synced.
func (c *Cache) MarkPulled(ctx context.Context, uid string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE studies SET sync_state = 'pulled' WHERE uid = ? AND sync_state = 'local'`, uid)
		return err
	})
}
