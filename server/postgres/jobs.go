package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

const jobColumns = `id, model, patient_id, order_id, study_uid, inputs, submitted_by, submitted_at, status, result_id, error`

func scanJob(r rowScanner) (*api.Job, error) {
	j := &api.Job{}
	var inputs []byte
	err := r.Scan(&j.ID, &j.Model, &j.PatientID, &j.OrderID, &j.StudyUID, &inputs, &j.SubmittedBy, &j.SubmittedAt,
		&j.Status, &j.ResultID, &j.Error)
	j.Inputs = inputs
	return j, err
}

// CreateJob stores a queued job.
func (s *Store) CreateJob(ctx context.Context, j *api.Job) error {
	j.SubmittedAt = usec(j.SubmittedAt)
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO jobs (id, model, patient_id, order_id, study_uid, inputs, submitted_by,
			submitted_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued')`, j.ID, j.Model, j.PatientID, j.OrderID,
			j.StudyUID, nullJSON(j.Inputs), j.SubmittedBy, j.SubmittedAt)
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
	j, err := scanJob(s.pool.QueryRow(ctx, "SELECT "+jobColumns+" FROM jobs WHERE id = $1", id))
	return j, notFound(err, "job %q does not exist", id)
}

// UnfinishedJobs returns up to limit jobs not yet ended, oldest first.
func (s *Store) UnfinishedJobs(ctx context.Context, limit int) ([]*api.Job, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+jobColumns+" FROM jobs WHERE status = 'queued' ORDER BY submitted_at, id LIMIT $1",
		limitOf(limit, 1000, 10000))
	list, err := collect(rows, err, scanJob)
	if len(list) == 0 {
		list = nil // as the SQLite store answers
	}
	return list, err
}

// FinishJob records a job's end; a job that ended already keeps its first end.
func (s *Store) FinishJob(ctx context.Context, j *api.Job, at time.Time) error {
	if !server.JobEnded(j.Status) {
		return server.Errorf(api.CodeInvalid, "job %s: %q is not an end", j.ID, j.Status)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE jobs SET status = $1, result_id = $2, error = $3, finished_at = $4
			WHERE id = $5 AND status = 'queued'`, j.Status, j.ResultID, j.Error, at, j.ID)
		return err
	})
}
