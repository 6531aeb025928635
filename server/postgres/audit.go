package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/server"
)

// auditInsertSQL appends one audit record; a forwarded record whose (user, event ID) is stored already is
// skipped.
const auditInsertSQL = `INSERT INTO audit (at, user_id, login_id, role, action, object_type, object_id, patient_id,
	outcome, status, client_addr, method, path, detail, source, event_id, occurred_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
	ON CONFLICT (user_id, event_id) WHERE event_id IS NOT NULL DO NOTHING`

// auditArgs are the arguments of auditInsertSQL for r. Its texts are made storable: a path or detail taken
// from a request may hold bytes that are not UTF-8, or NUL, which PostgreSQL refuses; the record must be
// stored all the same.
func auditArgs(r server.AuditRecord) []any {
	var eventID any
	if r.EventID != "" {
		eventID = storable(r.EventID)
	}
	return []any{r.At, r.UserID, storable(r.LoginID), storable(string(r.Role)), storable(r.Action), storable(r.ObjectType),
		storable(r.ObjectID), r.PatientID, storable(r.Outcome), r.Status, storable(r.ClientAddr), storable(r.Method),
		storable(r.Path), storable(r.Detail), storable(r.Source), eventID, r.OccurredAt}
}

// storable replaces what a PostgreSQL text cannot hold (invalid UTF-8, NUL) by U+FFFD.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// AppendAudit appends audit records in one transaction; forwarded records already stored are skipped.
func (s *Store) AppendAudit(ctx context.Context, recs []server.AuditRecord) (int, error) {
	if len(recs) == 1 && server.TxAuditOf(ctx) == nil {
		// One statement is its own transaction: no BEGIN and COMMIT around it.
		tag, err := s.pool.Exec(ctx, auditInsertSQL, auditArgs(recs[0])...)
		return int(tag.RowsAffected()), err
	}
	stored := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// One round trip for the whole group.
		b := &pgx.Batch{}
		for _, r := range recs {
			b.Queue(auditInsertSQL, auditArgs(r)...)
		}
		res := tx.SendBatch(ctx, b)
		stored = 0
		for range recs {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			stored += int(tag.RowsAffected())
		}
		return res.Close()
	})
	return stored, err
}

// QueryAudit returns audit records, newest first.
func (s *Store) QueryAudit(ctx context.Context, f server.AuditFilter) ([]server.AuditRecord, error) {
	var p params
	where := []string{"TRUE"}
	if f.UserID != 0 {
		where = append(where, "user_id = "+p.add(f.UserID))
	}
	if f.Action != "" {
		where = append(where, "action = "+p.add(f.Action))
	}
	if f.PatientID != 0 {
		where = append(where, "patient_id = "+p.add(f.PatientID))
	}
	if f.ObjectID != "" {
		where = append(where, "object_id = "+p.add(f.ObjectID))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+p.add(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+p.add(f.Until))
	}
	if f.Before > 0 {
		where = append(where, "id < "+p.add(f.Before))
	}
	limit := p.add(limitOf(f.Limit, 100, 1000))
	rows, err := s.pool.Query(ctx, `SELECT id, at, user_id, login_id, role, action, object_type, object_id, patient_id,
		outcome, status, client_addr, method, path, detail, source, COALESCE(event_id, ''), occurred_at FROM audit WHERE `+
		strings.Join(where, " AND ")+" ORDER BY id DESC LIMIT "+limit, p...)
	return collect(rows, err, func(row rowScanner) (server.AuditRecord, error) {
		var r server.AuditRecord
		err := row.Scan(&r.ID, &r.At, &r.UserID, &r.LoginID, &r.Role, &r.Action, &r.ObjectType, &r.ObjectID, &r.PatientID,
			&r.Outcome, &r.Status, &r.ClientAddr, &r.Method, &r.Path, &r.Detail, &r.Source, &r.EventID, &r.OccurredAt)
		return r, err
	})
}
