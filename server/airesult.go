package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"time"

	"github.com/neuronova/neuronova/api"
)

// MaxAIResultBytes bounds the JSON of one AI result (label maps go to Orthanc as DICOM SEG, not here).
const MaxAIResultBytes = 4 << 20

var (
	idempotencyKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{8,128}$`)
	studyUIDPattern       = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
)

// ValidateIdempotencyKey checks an Idempotency-Key header value.
func ValidateIdempotencyKey(key string) error {
	if !idempotencyKeyPattern.MatchString(key) {
		return Errorf(api.CodeInvalid, "Idempotency-Key header must be 8 to 128 characters of letters, digits and _.:- (got %q)", key)
	}
	return nil
}

// ValidModel reports whether m names an AI pipeline.
func ValidModel(m string) bool { return m == api.ModelM1 || m == api.ModelMG || m == api.ModelMM }

// NewAIResult checks an upload and returns the result to store (without ID), with the hash of its content
// that tells a retried upload from a different one under the same Idempotency-Key.
func NewAIResult(up api.AIResultUpload, createdBy int64, now time.Time) (*AIResult, string, error) {
	switch {
	case !ValidModel(up.Model):
		return nil, "", Errorf(api.CodeInvalid, "model %q must be M1, MG or MM", up.Model)
	case up.ModelVersion == "" || len(up.ModelVersion) > 64:
		return nil, "", Errorf(api.CodeInvalid, "model_version must be 1 to 64 characters")
	case up.PatientID <= 0:
		return nil, "", Errorf(api.CodeInvalid, "patient_id is required")
	case up.StudyUID != "" && (len(up.StudyUID) > 64 || !studyUIDPattern.MatchString(up.StudyUID)):
		return nil, "", Errorf(api.CodeInvalid, "study_uid %q is not a DICOM UID", up.StudyUID)
	case len(up.Result) == 0:
		return nil, "", Errorf(api.CodeInvalid, "result is required")
	case len(up.Result)+len(up.Provenance) > MaxAIResultBytes:
		return nil, "", Errorf(api.CodeTooLarge, "result and provenance exceed %d bytes", MaxAIResultBytes)
	}
	if err := validateObject("result", up.Result); err != nil {
		return nil, "", err
	}
	if err := validateObject("provenance", up.Provenance); err != nil {
		return nil, "", err
	}
	r := &AIResult{Model: up.Model, ModelVersion: up.ModelVersion, PatientID: up.PatientID, OrderID: up.OrderID,
		StudyUID: up.StudyUID, Result: compactJSON(up.Result), Provenance: compactJSON(up.Provenance),
		CreatedBy: createdBy, CreatedAt: now, ReviewStatus: api.ReviewPending}
	canonical, err := json.Marshal(api.AIResultUpload{Model: r.Model, ModelVersion: r.ModelVersion, PatientID: r.PatientID,
		OrderID: r.OrderID, StudyUID: r.StudyUID, Result: r.Result, Provenance: r.Provenance})
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(canonical)
	return r, hex.EncodeToString(sum[:]), nil
}

// CanRequestAI checks the seed's rule for running a model on an order: the ordering doctor, the assigned worker
// or an administrator. Without an order, any role allowed on the route may.
func CanRequestAI(actor Principal, o *Order) error {
	if o == nil || actor.Role.IsAdmin() || o.DoctorID == actor.UserID || (o.WorkerID != nil && *o.WorkerID == actor.UserID) {
		return nil
	}
	return Errorf(api.CodeForbidden, "only the ordering doctor, the assigned worker or an administrator may run AI on order %s", o.ID)
}

// ApplyReview records a doctor's review of r, or returns an error and leaves r as it was. A result is reviewed
// once; a second review is refused.
func ApplyReview(r *AIResult, req api.ReviewRequest, reviewer Principal, now time.Time) error {
	if req.Status != api.ReviewApproved && req.Status != api.ReviewRejected {
		return Errorf(api.CodeInvalid, "review_status %q must be approved or rejected", req.Status)
	}
	if err := ValidateMultilineText("review_comment", req.Comment, 0, 2000); err != nil {
		return err
	}
	if r.ReviewStatus != api.ReviewPending {
		return Errorf(api.CodeConflict, "AI result %s was already %s", r.ID, r.ReviewStatus)
	}
	id := reviewer.UserID
	r.ReviewStatus, r.ReviewComment, r.ReviewedBy, r.ReviewedAt = req.Status, req.Comment, &id, &now
	return nil
}
