package api

import (
	"encoding/json"
	"time"
)

// Job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed" // failed for good (not retryable), or moved to the dead letters
)

// JobRequest is the body of POST /api/jobs/: run a model for a client that has no GPU.
type JobRequest struct {
	Model     string          `json:"model"`
	PatientID int64           `json:"patient_id"`
	OrderID   string          `json:"order_id,omitempty"`
	StudyUID  string          `json:"study_uid,omitempty"`
	Inputs    json.RawMessage `json:"inputs,omitempty"` // model-specific: series IDs, CSV order IDs …
}

// Job is a queued, running or finished job.
type Job struct {
	ID          string          `json:"id"`
	Model       string          `json:"model"`
	Status      string          `json:"status"`
	PatientID   int64           `json:"patient_id"`
	OrderID     string          `json:"order_id,omitempty"`
	StudyUID    string          `json:"study_uid,omitempty"`
	Inputs      json.RawMessage `json:"inputs,omitempty"`
	SubmittedBy int64           `json:"submitted_by"`
	SubmittedAt time.Time       `json:"submitted_at"`
	Attempts    int             `json:"attempts"`
	ClaimedBy   *int64          `json:"claimed_by,omitempty"`
	// Lease identifies one claim; complete and fail must quote it. A job claimed again after its lease
	// expired gets a new lease and the old one is refused.
	Lease string `json:"lease,omitempty"`
	// LeaseExpiresAt is when the lease runs out unless renewed (POST /api/jobs/{id}/renew/); set in the
	// answers of claim and renew only.
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
	ResultID       string     `json:"result_id,omitempty"`
	Error          string     `json:"error,omitempty"`
}

// ClaimRequest is the body of POST /api/jobs/claim/. The answer is a Job, or 204 No Content when nothing
// was queued within WaitMillis (at most 20000).
type ClaimRequest struct {
	Models     []string `json:"models"`
	WaitMillis int      `json:"wait_ms,omitempty"`
}

// CompleteJobRequest is the body of POST /api/jobs/{id}/complete/.
type CompleteJobRequest struct {
	Lease  string         `json:"lease"`
	Result AIResultUpload `json:"result"`
}

// RenewJobRequest is the body of POST /api/jobs/{id}/renew/: the worker holding the lease is still running
// the job, so the job is not delivered to another worker for another visibility timeout.
type RenewJobRequest struct {
	Lease string `json:"lease"`
}

// FailJobRequest is the body of POST /api/jobs/{id}/fail/. With Retry the job is queued again until it has
// been delivered the maximum number of times, then it goes to the dead letters.
type FailJobRequest struct {
	Lease string `json:"lease"`
	Error string `json:"error"`
	Retry bool   `json:"retry"`
}
