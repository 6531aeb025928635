package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// ErrorCode names what went wrong; the server maps each code to one HTTP status.
type ErrorCode string

const (
	CodeInvalid                ErrorCode = "INVALID"                  // 400: the request is malformed or breaks a rule
	CodeUnauthorized           ErrorCode = "UNAUTHORIZED"             // 401: no, expired or tampered token
	CodeForbidden              ErrorCode = "FORBIDDEN"                // 403: the role or the ownership rules deny it
	CodeNotFound               ErrorCode = "NOT_FOUND"                // 404
	CodeConflict               ErrorCode = "CONFLICT"                 // 409: illegal state transition, reused key
	CodeTooLarge               ErrorCode = "TOO_LARGE"                // 413
	CodeRateLimited            ErrorCode = "RATE_LIMITED"             // 429
	CodeInternal               ErrorCode = "INTERNAL"                 // 500: details only in the server log
	CodeBadGateway             ErrorCode = "BAD_GATEWAY"              // 502: Orthanc answered something unusable
	CodeUnavailable            ErrorCode = "UNAVAILABLE"              // 503: Redis, Orthanc or the database is down
	CodeLoginFail              ErrorCode = "LOGIN_FAIL"               // 401, with Remain attempts before lockout
	CodeLoginLocked            ErrorCode = "LOGIN_LOCKED"             // 423
	CodeInactiveUser           ErrorCode = "INACTIVE_USER"            // 403
	CodePasswordChangeRequired ErrorCode = "PASSWORD_CHANGE_REQUIRED" // 403 on every route but me, change-password, logout
)

// Error is the body of every non-2xx answer of the API.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	// Remain is the number of login attempts left before the account locks (LOGIN_FAIL only).
	Remain *int `json:"remain,omitempty"`
	// Status is the HTTP status the error came with (set by the client, not sent).
	Status int `json:"-"`
}

func (e *Error) Error() string {
	if e.Remain != nil {
		return fmt.Sprintf("%s: %s (%d attempts left)", e.Code, e.Message, *e.Remain)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Health is the answer of /healthz and /readyz: "ok" or the failing dependencies.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// --- auth ---

// LoginRequest is the body of POST /api/auth/login/.
type LoginRequest struct {
	LoginID  string `json:"login_id"`
	Password string `json:"password"`
}

// Tokens is the answer of login and refresh: a short-lived access JWT and a single-use opaque refresh token.
type Tokens struct {
	Access           string    `json:"access"`
	Refresh          string    `json:"refresh"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	User             User      `json:"user"`
}

// RefreshRequest is the body of POST /api/auth/refresh/ and POST /api/auth/logout/.
type RefreshRequest struct {
	Refresh string `json:"refresh"`
}

// ChangePasswordRequest is the body of POST /api/auth/change-password/.
type ChangePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// User is an account as the API shows it (never with its password hash).
type User struct {
	ID                 int64      `json:"id"`
	LoginID            string     `json:"login_id"`
	Name               string     `json:"name"`
	Email              string     `json:"email,omitempty"`
	Role               Role       `json:"role"`
	IsActive           bool       `json:"is_active"`
	IsLocked           bool       `json:"is_locked"`
	MustChangePassword bool       `json:"must_change_password"`
	LastLogin          *time.Time `json:"last_login,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
}

// CreateUserRequest is the body of POST /api/users/. The new user must change the password at first login.
type CreateUserRequest struct {
	LoginID  string `json:"login_id"`
	Name     string `json:"name"`
	Email    string `json:"email,omitempty"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}

// UpdateUserRequest is the body of PATCH /api/users/{id}/; absent fields are left as they are.
type UpdateUserRequest struct {
	Name     *string `json:"name,omitempty"`
	Email    *string `json:"email,omitempty"`
	IsActive *bool   `json:"is_active,omitempty"`
}

// --- patients ---

// Patient is a registered patient. Number is the DICOM PatientID of the patient's studies in Orthanc.
type Patient struct {
	ID        int64  `json:"id"`
	Number    string `json:"patient_number"`
	Name      string `json:"name"`
	BirthDate string `json:"birth_date"` // YYYY-MM-DD
	Gender    string `json:"gender"`     // M, F or O
	Phone     string `json:"phone,omitempty"`
	Email     string `json:"email,omitempty"`
	Address   string `json:"address,omitempty"`
	Status    string `json:"status"`   // active, discharged, transferred, deceased
	Severity  string `json:"severity"` // normal, mild, moderate, severe, critical
	// ExternalInstitutionID is the EXTERNAL user (institution) the patient belongs to, when external.
	ExternalInstitutionID *int64 `json:"external_institution_id,omitempty"`
	// PortalUserID is the PATIENT account of the patient, when it has one.
	PortalUserID *int64    `json:"portal_user_id,omitempty"`
	RegisteredBy int64     `json:"registered_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// CreatePatientRequest is the body of POST /api/patients/.
type CreatePatientRequest struct {
	Name                  string `json:"name"`
	BirthDate             string `json:"birth_date"`
	Gender                string `json:"gender"`
	Phone                 string `json:"phone,omitempty"`
	Email                 string `json:"email,omitempty"`
	Address               string `json:"address,omitempty"`
	Severity              string `json:"severity,omitempty"`
	ExternalInstitutionID *int64 `json:"external_institution_id,omitempty"`
	PortalUserID          *int64 `json:"portal_user_id,omitempty"`
}

// UpdatePatientRequest is the body of PATCH /api/patients/{id}/; absent fields are left as they are.
type UpdatePatientRequest struct {
	Name     *string `json:"name,omitempty"`
	Phone    *string `json:"phone,omitempty"`
	Email    *string `json:"email,omitempty"`
	Address  *string `json:"address,omitempty"`
	Status   *string `json:"status,omitempty"`
	Severity *string `json:"severity,omitempty"`
}

// PatientStudy is one Orthanc study of a patient (GET /api/patients/{id}/studies/).
type PatientStudy struct {
	OrthancID        string   `json:"orthanc_id"`
	StudyInstanceUID string   `json:"study_instance_uid"`
	StudyDate        string   `json:"study_date,omitempty"`
	Description      string   `json:"description,omitempty"`
	AccessionNumber  string   `json:"accession_number,omitempty"`
	Series           []string `json:"series"` // Orthanc series IDs
}

// StudyManifest lists every instance of an Orthanc study with what a workstation verifies its pulled copy
// against (GET /api/orthanc/studies/{id}/manifest).
type StudyManifest struct {
	OrthancID        string             `json:"orthanc_id"`
	StudyInstanceUID string             `json:"study_instance_uid"`
	Instances        []ManifestInstance `json:"instances"`
}

// ManifestInstance is one instance of a StudyManifest: its IDs, and the size and MD5 (hex) of the file
// Orthanc stored.
type ManifestInstance struct {
	OrthancID         string `json:"orthanc_id"`
	SOPInstanceUID    string `json:"sop_instance_uid"`
	SeriesInstanceUID string `json:"series_instance_uid"`
	Size              int64  `json:"size"`
	MD5               string `json:"md5"`
}

// --- orders (OCS) ---

// OrderStatus is a state of the order state machine:
// ORDERED → ACCEPTED → IN_PROGRESS → RESULT_READY → CONFIRMED, or CANCELLED.
type OrderStatus string

const (
	OrderOrdered     OrderStatus = "ORDERED"
	OrderAccepted    OrderStatus = "ACCEPTED"
	OrderInProgress  OrderStatus = "IN_PROGRESS"
	OrderResultReady OrderStatus = "RESULT_READY"
	OrderConfirmed   OrderStatus = "CONFIRMED"
	OrderCancelled   OrderStatus = "CANCELLED"
)

// JobRole is the department an order is for; the users of the role of the same name accept it.
type JobRole string

const (
	JobRIS       JobRole = "RIS"
	JobLIS       JobRole = "LIS"
	JobTreatment JobRole = "TREATMENT"
	JobConsult   JobRole = "CONSULT"
)

// Order is one order of the Order Communication System.
type Order struct {
	ID            string          `json:"id"` // ocs_0001
	PatientID     int64           `json:"patient_id"`
	PatientNumber string          `json:"patient_number"`
	PatientName   string          `json:"patient_name"`
	DoctorID      int64           `json:"doctor_id"`
	DoctorName    string          `json:"doctor_name"`
	WorkerID      *int64          `json:"worker_id,omitempty"`
	WorkerName    string          `json:"worker_name,omitempty"`
	JobRole       JobRole         `json:"job_role"`
	JobType       string          `json:"job_type"`
	Status        OrderStatus     `json:"status"`
	Priority      string          `json:"priority"` // urgent or normal
	DoctorRequest json.RawMessage `json:"doctor_request,omitempty"`
	WorkerResult  json.RawMessage `json:"worker_result,omitempty"`
	Attachments   json.RawMessage `json:"attachments,omitempty"`
	Result        *bool           `json:"result,omitempty"` // set at confirmation
	CancelReason  string          `json:"cancel_reason,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	AcceptedAt    *time.Time      `json:"accepted_at,omitempty"`
	InProgressAt  *time.Time      `json:"in_progress_at,omitempty"`
	ResultReadyAt *time.Time      `json:"result_ready_at,omitempty"`
	ConfirmedAt   *time.Time      `json:"confirmed_at,omitempty"`
	CancelledAt   *time.Time      `json:"cancelled_at,omitempty"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Version       int64           `json:"version"`
	History       []OrderHistory  `json:"history,omitempty"`
}

// OrderHistory is one action on an order, as the seed's ocs_history recorded it.
type OrderHistory struct {
	ID         int64       `json:"id"`
	Action     string      `json:"action"` // CREATED, ACCEPTED, STARTED, RESULT_SAVED, SUBMITTED, CONFIRMED, CANCELLED, GIVEN_BACK, UPDATED
	ActorID    int64       `json:"actor_id"`
	ActorName  string      `json:"actor_name"`
	FromStatus OrderStatus `json:"from_status,omitempty"`
	ToStatus   OrderStatus `json:"to_status"`
	FromWorker *int64      `json:"from_worker,omitempty"`
	ToWorker   *int64      `json:"to_worker,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	ClientAddr string      `json:"client_addr,omitempty"`
	At         time.Time   `json:"at"`
}

// CreateOrderRequest is the body of POST /api/ocs/.
type CreateOrderRequest struct {
	PatientID     int64           `json:"patient_id"`
	JobRole       JobRole         `json:"job_role"`
	JobType       string          `json:"job_type"`
	Priority      string          `json:"priority,omitempty"` // default normal
	DoctorRequest json.RawMessage `json:"doctor_request,omitempty"`
}

// UpdateOrderRequest is the body of PATCH /api/ocs/{id}/ (the ordering doctor, while the order is editable).
type UpdateOrderRequest struct {
	DoctorRequest json.RawMessage `json:"doctor_request,omitempty"`
	Priority      *string         `json:"priority,omitempty"`
}

// OrderResultRequest is the body of save_result and submit_result.
type OrderResultRequest struct {
	WorkerResult json.RawMessage `json:"worker_result,omitempty"`
	Attachments  json.RawMessage `json:"attachments,omitempty"`
}

// ConfirmOrderRequest is the body of confirm; Result defaults to true.
type ConfirmOrderRequest struct {
	Result       *bool           `json:"result,omitempty"`
	WorkerResult json.RawMessage `json:"worker_result,omitempty"`
}

// CancelOrderRequest is the body of cancel. The ordering doctor cancels the order; the assigned worker gives
// it back to the worklist.
type CancelOrderRequest struct {
	Reason string `json:"reason"`
}

// --- AI results ---

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

// --- change feed ---

// Kinds of objects in the change feed.
const (
	KindPatient  = "patient"
	KindOrder    = "order"
	KindAIResult = "ai_result"
)

// Change is one entry of the change feed: the object as it was right after the change.
type Change struct {
	Seq      int64           `json:"seq"`
	Kind     string          `json:"kind"`
	ObjectID string          `json:"object_id"`
	Op       string          `json:"op"` // created, updated or withdrawn
	At       time.Time       `json:"at"`
	Data     json.RawMessage `json:"data"`
}

// ChangesPage is the answer of GET /api/changes/?cursor=N: changes after N; pass NextCursor to get more.
type ChangesPage struct {
	Changes    []Change `json:"changes"`
	NextCursor int64    `json:"next_cursor"`
	HasMore    bool     `json:"has_more"`
}

// --- audit ---

// Audit outcomes.
const (
	OutcomeSuccess = "SUCCESS"
	OutcomeDenied  = "DENIED"
	OutcomeFailure = "FAILURE"
)

// AuditRecord is one append-only audit entry.
type AuditRecord struct {
	ID         int64      `json:"id"`
	At         time.Time  `json:"at"`
	UserID     *int64     `json:"user_id,omitempty"`
	LoginID    string     `json:"login_id,omitempty"`
	Role       Role       `json:"role,omitempty"`
	Action     string     `json:"action"`
	ObjectType string     `json:"object_type,omitempty"`
	ObjectID   string     `json:"object_id,omitempty"`
	PatientID  *int64     `json:"patient_id,omitempty"`
	Outcome    string     `json:"outcome"`
	Status     int        `json:"status,omitempty"`
	ClientAddr string     `json:"client_addr,omitempty"`
	Method     string     `json:"method,omitempty"`
	Path       string     `json:"path,omitempty"`
	Detail     string     `json:"detail,omitempty"`
	Source     string     `json:"source"`                // server or workstation
	EventID    string     `json:"event_id,omitempty"`    // a forwarded event's own ID
	OccurredAt *time.Time `json:"occurred_at,omitempty"` // a forwarded event's own time
}

// ForwardedAuditEvent is an audit event recorded by a workstation (for example while offline) and forwarded
// later. EventID makes forwarding idempotent: an event sent twice is stored once.
type ForwardedAuditEvent struct {
	EventID    string    `json:"event_id"`
	OccurredAt time.Time `json:"occurred_at"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type,omitempty"`
	ObjectID   string    `json:"object_id,omitempty"`
	PatientID  *int64    `json:"patient_id,omitempty"`
	Outcome    string    `json:"outcome"`
	Detail     string    `json:"detail,omitempty"`
}

// AuditBatch is the body of POST /api/audit/events/.
type AuditBatch struct {
	Events []ForwardedAuditEvent `json:"events"`
}

// AuditBatchResult says how many forwarded events were new and how many had been stored before.
type AuditBatchResult struct {
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
}

// AuditPage is the answer of GET /api/audit/: records older than the cursor, newest first.
type AuditPage struct {
	Records    []AuditRecord `json:"records"`
	NextCursor int64         `json:"next_cursor,omitempty"` // pass as before=… for the next page; 0 at the end
}

// --- job queue ---

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
	Lease    string `json:"lease,omitempty"`
	ResultID string `json:"result_id,omitempty"`
	Error    string `json:"error,omitempty"`
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

// FailJobRequest is the body of POST /api/jobs/{id}/fail/. With Retry the job is queued again until it has
// been delivered the maximum number of times, then it goes to the dead letters.
type FailJobRequest struct {
	Lease string `json:"lease"`
	Error string `json:"error"`
	Retry bool   `json:"retry"`
}

// --- notifications ---

// Notification types sent on /ws/notifications.
const (
	EventOrderCreated       = "OCS_CREATED"
	EventOrderStatusChanged = "OCS_STATUS_CHANGED"
	EventOrderCancelled     = "OCS_CANCELLED"
	EventAIResult           = "AI_RESULT"
	EventAIReviewed         = "AI_REVIEWED"
	EventJobFinished        = "JOB_FINISHED"
	EventPong               = "pong"
)

// Notification is one event pushed to the users entitled to it.
type Notification struct {
	Type       string      `json:"type"`
	At         time.Time   `json:"at"`
	OrderID    string      `json:"order_id,omitempty"`
	PatientID  int64       `json:"patient_id,omitempty"`
	JobRole    JobRole     `json:"job_role,omitempty"`
	FromStatus OrderStatus `json:"from_status,omitempty"`
	ToStatus   OrderStatus `json:"to_status,omitempty"`
	ResultID   string      `json:"result_id,omitempty"`
	JobID      string      `json:"job_id,omitempty"`
	Model      string      `json:"model,omitempty"`
	Message    string      `json:"message,omitempty"`
}
