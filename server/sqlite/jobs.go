package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

const jobColumns = `id, model, patient_id, order_id, study_uid, inputs, submitted_by, submitted_at, status, result_id, error`

func scanJob(r rowScanner) (*api.Job, error) {
	j := &api.Job{}
	var inputs []byte
	err := r.Scan(&j.ID, &j.Model, &j.PatientID, &j.OrderID, &j.StudyUID, rawJSON{&inputs}, &j.SubmittedBy,
		timeCol{&j.SubmittedAt}, &j.Status, &j.ResultID, &j.Error)
	j.Inputs = inputs
	return j, err
}

// CreateJob stores a queued job.
func (s *Store) CreateJob(ctx context.Context, j *api.Job) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, model, patient_id, order_id, study_uid, inputs, submitted_by,
			submitted_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued')`, j.ID, j.Model, j.PatientID, j.OrderID, j.StudyUID,
			nullJSON(j.Inputs), j.SubmittedBy, ts(j.SubmittedAt))
		if isUniqueViolation(err) {
			return server.Errorf(api.CodeConflict, "job %s exists", j.ID)
		}
		if err == nil {
			noteObject(ctx, "job", j.ID, j.PatientID)
		}
		return err
	})
}

// Job returns a stored job as the database knows it (queued until it ends).
func (s *Store) Job(ctx context.Context, id string) (*api.Job, error) {
	j, err := scanJob(s.read.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = ?", id))
	return j, notFound(err, "job %q does not exist", id)
}

// UnfinishedJobs returns up to limit jobs not yet ended, oldest first.
func (s *Store) UnfinishedJobs(ctx context.Context, limit int) ([]*api.Job, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+jobColumns+" FROM jobs WHERE status = 'queued' ORDER BY submitted_at LIMIT ?",
		limitOf(limit, 1000, 10000))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*api.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// FinishJob records a job's end; a job that ended already keeps its first end.
func (s *Store) FinishJob(ctx context.Context, j *api.Job, at time.Time) error {
	if !server.JobEnded(j.Status) {
		return server.Errorf(api.CodeInvalid, "job %s: %q is not an end", j.ID, j.Status)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET status = ?, result_id = ?, error = ?, finished_at = ?
			WHERE id = ? AND status = 'queued'`, j.Status, j.ResultID, j.Error, ts(at), j.ID)
		return err
	})
}
