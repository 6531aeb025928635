package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

const resultColumns = `r.id, r.model, r.model_version, r.patient_id, COALESCE(r.order_id, ''), r.study_uid, r.job_id, r.result,
	r.provenance, r.created_by, r.created_at, r.review_status, r.review_comment, r.reviewed_by, r.reviewed_at,
	r.withdrawn_at, r.withdrawn_by, r.withdraw_reason`

func scanResult(r rowScanner) (*server.AIResult, error) {
	a := &server.AIResult{}
	var result, prov []byte
	err := r.Scan(&a.ID, &a.Model, &a.ModelVersion, &a.PatientID, &a.OrderID, &a.StudyUID, &a.JobID, &result, &prov,
		&a.CreatedBy, &a.CreatedAt, &a.ReviewStatus, &a.ReviewComment, &a.ReviewedBy, &a.ReviewedAt, &a.WithdrawnAt,
		&a.WithdrawnBy, &a.WithdrawReason)
	a.Result, a.Provenance = result, prov
	return a, err
}

// resultScope returns the WHERE condition (on aliases r and p) that limits AI results to those scope sees.
func resultScope(scope server.Scope, p *params) string {
	switch scope.Role {
	case api.RolePatient:
		return "FALSE"
	case api.RoleRIS, api.RoleLIS:
		return "TRUE"
	}
	return patientScope(scope, p)
}

// storedResult looks up the result uploaded by createdBy under key. found is false when there is none; a
// result stored with another content hash is a conflict.
func storedResult(ctx context.Context, tx pgx.Tx, createdBy int64, key, contentHash string) (r *server.AIResult, found bool, err error) {
	var id, hash string
	err = tx.QueryRow(ctx, "SELECT id, content_hash FROM ai_results WHERE created_by = $1 AND idempotency_key = $2",
		createdBy, key).Scan(&id, &hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case hash != contentHash:
		return nil, true, server.Errorf(api.CodeConflict, "Idempotency-Key %q was used for a different AI result (%s)", key, id)
	}
	r, err = scanResult(tx.QueryRow(ctx, "SELECT "+resultColumns+" FROM ai_results r WHERE r.id = $1", id))
	return r, true, err
}

// CreateAIResult stores a result once per (uploader, Idempotency-Key). Of two servers storing the same upload
// at once, the second finds the first's when its insert meets the key, and answers with it.
func (s *Store) CreateAIResult(ctx context.Context, r *server.AIResult, key, contentHash string) (*server.AIResult, bool, error) {
	var stored *server.AIResult
	created := false
	r.CreatedAt, r.ReviewedAt = usec(r.CreatedAt), usecPtr(r.ReviewedAt)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		replay := func() error {
			var found bool
			var err error
			if stored, found, err = storedResult(ctx, tx, r.CreatedBy, key, contentHash); err != nil {
				return err
			}
			if !found {
				return nil
			}
			return errNoWrite // a replay: the call's record is its own
		}
		if err := replay(); err != nil {
			return err
		}
		if err := checkResultTarget(ctx, tx, r); err != nil {
			return err
		}
		n, err := nextID(ctx, tx, "ai_req")
		if err != nil {
			return err
		}
		id := fmt.Sprintf("ai_req_%04d", n)
		var orderID any
		if r.OrderID != "" {
			orderID = r.OrderID
		}
		// ON CONFLICT waits for a concurrent insert of the same key and then skips: the statement after it sees
		// that upload, committed.
		tag, err := tx.Exec(ctx, `INSERT INTO ai_results (id, model, model_version, patient_id, order_id, study_uid,
			job_id, result, provenance, created_by, created_at, review_status, idempotency_key, content_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (created_by, idempotency_key) DO NOTHING`, id, r.Model, r.ModelVersion, r.PatientID, orderID,
			r.StudyUID, r.JobID, string(r.Result), nullJSON(r.Provenance), r.CreatedBy, r.CreatedAt, r.ReviewStatus, key, contentHash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if err := replay(); err != nil {
				return err
			}
			return fmt.Errorf("AI result of key %q neither inserted nor found", key)
		}
		r.ID = id
		stored, created = r, true
		noteObject(ctx, "ai_result", r.ID, r.PatientID)
		if r.JobID != "" {
			if _, err := tx.Exec(ctx, `UPDATE jobs SET status = 'done', result_id = $1, error = '', finished_at = $2
				WHERE id = $3 AND status = 'queued'`, r.ID, r.CreatedAt, r.JobID); err != nil {
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

// checkResultTarget checks that a result's patient exists and that its order, if any, is of that patient.
func checkResultTarget(ctx context.Context, tx pgx.Tx, r *server.AIResult) error {
	if r.OrderID != "" {
		patientID, err := orderPatient(ctx, tx, r.OrderID)
		if err != nil {
			return err
		}
		if patientID != r.PatientID {
			return server.Errorf(api.CodeInvalid, "order %s is not an order of patient %d", r.OrderID, r.PatientID)
		}
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1)", r.PatientID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return server.Errorf(api.CodeInvalid, "patient %d does not exist", r.PatientID)
	}
	return nil
}

func resultChange(ctx context.Context, tx pgx.Tx, r *server.AIResult, op string) error {
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
	r, err := scanResult(s.pool.QueryRow(ctx, "SELECT "+resultColumns+" FROM ai_results r WHERE r.id = $1", id))
	return r, notFound(err, "AI result %q does not exist", id)
}

// ListAIResults lists the AI results scope sees, newest first.
func (s *Store) ListAIResults(ctx context.Context, scope server.Scope, f server.AIResultFilter) ([]*server.AIResult, error) {
	var args params
	where := []string{resultScope(scope, &args), "r.withdrawn_at IS NULL"}
	if f.PatientID != 0 {
		where = append(where, "r.patient_id = "+args.add(f.PatientID))
	}
	if f.OrderID != "" {
		where = append(where, "r.order_id = "+args.add(f.OrderID))
	}
	if f.Model != "" {
		where = append(where, "r.model = "+args.add(f.Model))
	}
	limit := args.add(limitOf(f.Limit, 50, 500))
	rows, err := s.pool.Query(ctx, "SELECT "+resultColumns+" FROM ai_results r JOIN patients p ON p.id = r.patient_id WHERE "+
		strings.Join(where, " AND ")+" ORDER BY r.created_at DESC, r.id DESC LIMIT "+limit, args...)
	return collect(rows, err, scanResult)
}

// lockResult reads a result for a write, its row locked until the transaction ends.
func lockResult(ctx context.Context, tx pgx.Tx, id string) (*server.AIResult, error) {
	r, err := scanResult(tx.QueryRow(ctx, "SELECT "+resultColumns+" FROM ai_results r WHERE r.id = $1 FOR NO KEY UPDATE", id))
	return r, notFound(err, "AI result %q does not exist", id)
}

// UpdateAIResult runs fn on a result (its review) and stores the result unless fn fails.
func (s *Store) UpdateAIResult(ctx context.Context, id string, fn func(*server.AIResult) error) (*server.AIResult, error) {
	var r *server.AIResult
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if r, err = lockResult(ctx, tx, id); err != nil {
			return err
		}
		if r.WithdrawnAt != nil {
			return server.Errorf(api.CodeConflict, "AI result %s was withdrawn", id)
		}
		if err := fn(r); err != nil {
			return err
		}
		r.ReviewedAt = usecPtr(r.ReviewedAt)
		if _, err := tx.Exec(ctx, `UPDATE ai_results SET review_status = $1, review_comment = $2, reviewed_by = $3,
			reviewed_at = $4 WHERE id = $5`, r.ReviewStatus, r.ReviewComment, r.ReviewedBy, r.ReviewedAt, id); err != nil {
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
	now = usec(now)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if r, err = lockResult(ctx, tx, id); err != nil {
			return err
		}
		if r.WithdrawnAt != nil {
			return server.Errorf(api.CodeConflict, "AI result %s was withdrawn already", id)
		}
		r.WithdrawnAt, r.WithdrawnBy, r.WithdrawReason = &now, &by, reason
		if _, err := tx.Exec(ctx, "UPDATE ai_results SET withdrawn_at = $1, withdrawn_by = $2, withdraw_reason = $3 WHERE id = $4",
			now, by, reason, id); err != nil {
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
		if _, err := tx.Exec(ctx, "UPDATE changes SET data = $1 WHERE kind = $2 AND object_id = $3", string(data),
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
