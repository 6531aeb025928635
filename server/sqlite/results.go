package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

const resultColumns = `r.id, r.model, r.model_version, r.patient_id, COALESCE(r.order_id, ''), r.study_uid, r.job_id, r.result,
	r.provenance, r.created_by, r.created_at, r.review_status, r.review_comment, r.reviewed_by, r.reviewed_at,
	r.withdrawn_at, r.withdrawn_by, r.withdraw_reason`

func scanResult(r rowScanner) (*server.AIResult, error) {
	a := &server.AIResult{}
	var result, prov []byte
	err := r.Scan(&a.ID, &a.Model, &a.ModelVersion, &a.PatientID, &a.OrderID, &a.StudyUID, &a.JobID, rawJSON{&result},
		rawJSON{&prov}, &a.CreatedBy, timeCol{&a.CreatedAt}, &a.ReviewStatus, &a.ReviewComment, nullInt{&a.ReviewedBy},
		nullTimeCol{&a.ReviewedAt}, nullTimeCol{&a.WithdrawnAt}, nullInt{&a.WithdrawnBy}, &a.WithdrawReason)
	a.Result, a.Provenance = result, prov
	return a, err
}

// resultScope returns the WHERE condition (on aliases r and p) that limits AI results to those scope sees.
func resultScope(scope server.Scope) (string, []any) {
	switch scope.Role {
	case api.RolePatient:
		return "0", nil
	case api.RoleRIS, api.RoleLIS:
		return "1", nil
	}
	return patientScope(scope)
}

// CreateAIResult stores a result once per (uploader, Idempotency-Key).
func (s *Store) CreateAIResult(ctx context.Context, r *server.AIResult, key, contentHash string) (*server.AIResult, bool, error) {
	var stored *server.AIResult
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var id, hash string
		err := tx.QueryRowContext(ctx, "SELECT id, content_hash FROM ai_results WHERE created_by = ? AND idempotency_key = ?",
			r.CreatedBy, key).Scan(&id, &hash)
		switch {
		case err == nil && hash != contentHash:
			return server.Errorf(api.CodeConflict, "Idempotency-Key %q was used for a different AI result (%s)", key, id)
		case err == nil:
			if stored, err = scanResult(tx.QueryRowContext(ctx, "SELECT "+resultColumns+" FROM ai_results r WHERE r.id = ?", id)); err != nil {
				return err
			}
			return errNoWrite // a replay: the call's record is its own
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if r.OrderID != "" {
			patientID, err := orderPatient(ctx, tx, r.OrderID)
			if err != nil {
				return err
			}
			if patientID != r.PatientID {
				return server.Errorf(api.CodeInvalid, "order %s is not an order of patient %d", r.OrderID, r.PatientID)
			}
		}
		var exists int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM patients WHERE id = ?", r.PatientID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return server.Errorf(api.CodeInvalid, "patient %d does not exist", r.PatientID)
		}
		n, err := nextID(ctx, tx, "ai_req")
		if err != nil {
			return err
		}
		r.ID = fmt.Sprintf("ai_req_%04d", n)
		var orderID any
		if r.OrderID != "" {
			orderID = r.OrderID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ai_results (id, model, model_version, patient_id, order_id, study_uid,
			job_id, result, provenance, created_by, created_at, review_status, idempotency_key, content_hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Model, r.ModelVersion, r.PatientID, orderID, r.StudyUID,
			r.JobID, string(r.Result), nullJSON(r.Provenance), r.CreatedBy, ts(r.CreatedAt), r.ReviewStatus, key, contentHash); err != nil {
			return err
		}
		stored, created = r, true
		noteObject(ctx, "ai_result", r.ID, r.PatientID)
		if r.JobID != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'done', result_id = ?, error = '', finished_at = ?
				WHERE id = ? AND status = 'queued'`, r.ID, ts(r.CreatedAt), r.JobID); err != nil {
				return err
			}
		}
		return resultChange(ctx, tx, r, "created")
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

func resultChange(ctx context.Context, tx *sql.Tx, r *server.AIResult, op string) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	at := r.CreatedAt
	if r.ReviewedAt != nil {
		at = *r.ReviewedAt
	}
	return appendChange(ctx, tx, api.KindAIResult, r.ID, op, at, r.PatientID, "", data)
}

// AIResult returns a stored AI result.
func (s *Store) AIResult(ctx context.Context, id string) (*server.AIResult, error) {
	r, err := scanResult(s.read.QueryRowContext(ctx, "SELECT "+resultColumns+" FROM ai_results r WHERE r.id = ?", id))
	return r, notFound(err, "AI result %q does not exist", id)
}

// ListAIResults lists the AI results scope sees, newest first.
func (s *Store) ListAIResults(ctx context.Context, scope server.Scope, f server.AIResultFilter) ([]*server.AIResult, error) {
	cond, args := resultScope(scope)
	where := []string{cond, "r.withdrawn_at IS NULL"}
	if f.PatientID != 0 {
		where = append(where, "r.patient_id = ?")
		args = append(args, f.PatientID)
	}
	if f.OrderID != "" {
		where = append(where, "r.order_id = ?")
		args = append(args, f.OrderID)
	}
	if f.Model != "" {
		where = append(where, "r.model = ?")
		args = append(args, f.Model)
	}
	args = append(args, limitOf(f.Limit, 50, 500))
	rows, err := s.read.QueryContext(ctx, "SELECT "+resultColumns+" FROM ai_results r JOIN patients p ON p.id = r.patient_id WHERE "+
		strings.Join(where, " AND ")+" ORDER BY r.created_at DESC, r.id DESC LIMIT ?", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*server.AIResult{}
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// UpdateAIResult runs fn on a result (its review) and stores the result unless fn fails.
func (s *Store) UpdateAIResult(ctx context.Context, id string, fn func(*server.AIResult) error) (*server.AIResult, error) {
	var r *server.AIResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanResult(tx.QueryRowContext(ctx, "SELECT "+resultColumns+" FROM ai_results r WHERE r.id = ?", id))
		if err != nil {
			return notFound(err, "AI result %q does not exist", id)
		}
		if r.WithdrawnAt != nil {
			return server.Errorf(api.CodeConflict, "AI result %s was withdrawn", id)
		}
		if err := fn(r); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ai_results SET review_status = ?, review_comment = ?, reviewed_by = ?,
			reviewed_at = ? WHERE id = ?`, r.ReviewStatus, r.ReviewComment, nullID(r.ReviewedBy), nullTS(r.ReviewedAt), id); err != nil {
			return err
		}
		return resultChange(ctx, tx, r, "updated")
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// WithdrawAIResult marks a result withdrawn and replaces the change feed's copies of it by the withdrawal.
func (s *Store) WithdrawAIResult(ctx context.Context, id string, by int64, reason string, now time.Time) (*server.AIResult, error) {
	var r *server.AIResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanResult(tx.QueryRowContext(ctx, "SELECT "+resultColumns+" FROM ai_results r WHERE r.id = ?", id))
		if err != nil {
			return notFound(err, "AI result %q does not exist", id)
		}
		if r.WithdrawnAt != nil {
			return server.Errorf(api.CodeConflict, "AI result %s was withdrawn already", id)
		}
		r.WithdrawnAt, r.WithdrawnBy, r.WithdrawReason = &now, &by, reason
		if _, err := tx.ExecContext(ctx, "UPDATE ai_results SET withdrawn_at = ?, withdrawn_by = ?, withdraw_reason = ? WHERE id = ?",
			ts(now), by, reason, id); err != nil {
			return err
		}
		// What the feed carries of it is the withdrawal alone: its content (which may be what was wrong with it)
		// is no longer sent to any workstation.
		notice := *r
		notice.Result, notice.Provenance = json.RawMessage(`null`), nil
		data, err := json.Marshal(&notice)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE changes SET data = ? WHERE kind = ? AND object_id = ?", string(data),
			api.KindAIResult, id); err != nil {
			return err
		}
		return appendChange(ctx, tx, api.KindAIResult, id, "withdrawn", now, r.PatientID, "", data)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}
