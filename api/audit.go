package api

import "time"

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
