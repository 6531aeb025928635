package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/neuronova/neuronova/server"
)

// auditInsertSQL appends one audit record; it is prepared once, when the store opens.
const auditInsertSQL = `INSERT OR IGNORE INTO audit (at, user_id, login_id, role, action, object_type,
	object_id, patient_id, outcome, status, client_addr, method, path, detail, source, event_id, occurred_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// AppendAudit appends audit records in one transaction; forwarded records already stored are skipped.
func (s *Store) AppendAudit(ctx context.Context, recs []server.AuditRecord) (int, error) {
	if len(recs) == 1 && server.TxAuditOf(ctx) == nil {
		// One record is one statement, which SQLite commits as its own transaction: no BEGIN and COMMIT
		// statements around it.
		return insertAudit(ctx, s.auditInsert, recs[0])
	}
	stored := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The writer has one connection, on which the statement is already prepared: this reuses it.
		stmt := tx.StmtContext(ctx, s.auditInsert)
		defer stmt.Close()
		stored = 0
		for _, r := range recs {
			n, err := insertAudit(ctx, stmt, r)
			if err != nil {
				return err
			}
			stored += n
		}
		return nil
	})
	return stored, err
}

// insertAudit inserts one record with the prepared statement; it returns 0 for a forwarded record already stored.
func insertAudit(ctx context.Context, stmt *sql.Stmt, r server.AuditRecord) (int, error) {
	var eventID any
	if r.EventID != "" {
		eventID = r.EventID
	}
	res, err := stmt.ExecContext(ctx, ts(r.At), nullID(r.UserID), r.LoginID, r.Role, r.Action, r.ObjectType, r.ObjectID,
		nullID(r.PatientID), r.Outcome, r.Status, r.ClientAddr, r.Method, r.Path, r.Detail, r.Source, eventID, nullTS(r.OccurredAt))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// QueryAudit returns audit records, newest first.
func (s *Store) QueryAudit(ctx context.Context, f server.AuditFilter) ([]server.AuditRecord, error) {
	where := []string{"1"}
	var args []any
	add := func(c string, v any) {
		where = append(where, c)
		args = append(args, v)
	}
	if f.UserID != 0 {
		add("user_id = ?", f.UserID)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.PatientID != 0 {
		add("patient_id = ?", f.PatientID)
	}
	if f.ObjectID != "" {
		add("object_id = ?", f.ObjectID)
	}
	if !f.Since.IsZero() {
		add("at >= ?", ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", ts(f.Until))
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	args = append(args, limitOf(f.Limit, 100, 1000))
	rows, err := s.read.QueryContext(ctx, `SELECT id, at, user_id, login_id, role, action, object_type, object_id, patient_id,
		outcome, status, client_addr, method, path, detail, source, COALESCE(event_id, ''), occurred_at FROM audit WHERE `+
		strings.Join(where, " AND ")+" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []server.AuditRecord{}
	for rows.Next() {
		var r server.AuditRecord
		if err := rows.Scan(&r.ID, timeCol{&r.At}, nullInt{&r.UserID}, &r.LoginID, &r.Role, &r.Action, &r.ObjectType, &r.ObjectID,
			nullInt{&r.PatientID}, &r.Outcome, &r.Status, &r.ClientAddr, &r.Method, &r.Path, &r.Detail, &r.Source, &r.EventID,
			nullTimeCol{&r.OccurredAt}); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
