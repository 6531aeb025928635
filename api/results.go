package api

import (
	"encoding/json"
	"time"
)

// Model names of the AI pipelines.
const (
	ModelM1 = "M1"
	ModelMG = "MG"
	ModelMM = "MM"
)

// Review states of an AI result.
const (
	ReviewPending  = "pending"
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
)

// AIResultUpload is the body of POST /api/ai/results/ (sent with an Idempotency-Key header) and the result
// carried by a completed job.
type AIResultUpload struct {
	Model        string          `json:"model"`
	ModelVersion string          `json:"model_version"`
	PatientID    int64           `json:"patient_id"`
	OrderID      string          `json:"order_id,omitempty"`
	StudyUID     string          `json:"study_uid,omitempty"`
	Result       json.RawMessage `json:"result"`               // the pipeline's JSON result
	Provenance   json.RawMessage `json:"provenance,omitempty"` // model sha256, execution provider, timings
}

// AIResult is a stored AI result and its review.
type AIResult struct {
	ID            string          `json:"id"` // ai_req_0001
	Model         string          `json:"model"`
	ModelVersion  string          `json:"model_version"`
	PatientID     int64           `json:"patient_id"`
	OrderID       string          `json:"order_id,omitempty"`
	StudyUID      string          `json:"study_uid,omitempty"`
	JobID         string          `json:"job_id,omitempty"`
	Result        json.RawMessage `json:"result"`
	Provenance    json.RawMessage `json:"provenance,omitempty"`
	CreatedBy     int64           `json:"created_by"`
	CreatedAt     time.Time       `json:"created_at"`
	ReviewStatus  string          `json:"review_status"`
	ReviewComment string          `json:"review_comment,omitempty"`
	ReviewedBy    *int64          `json:"reviewed_by,omitempty"`
	ReviewedAt    *time.Time      `json:"reviewed_at,omitempty"`
	// A withdrawn result (a bad upload an administrator took back) is kept but no longer listed or synced.
	WithdrawnAt    *time.Time `json:"withdrawn_at,omitempty"`
	WithdrawnBy    *int64     `json:"withdrawn_by,omitempty"`
	WithdrawReason string     `json:"withdraw_reason,omitempty"`
}

// WithdrawRequest is the body of POST /api/ai/results/{id}/withdraw/.
type WithdrawRequest struct {
	Reason string `json:"reason"`
}

// ReviewRequest is the body of POST /api/ai/results/{id}/review/.
type ReviewRequest struct {
	Status  string `json:"review_status"` // approved or rejected
	Comment string `json:"review_comment,omitempty"`
}
