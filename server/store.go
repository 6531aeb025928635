package server

import (
	"context"
	"time"

	"github.com/neuronova/neuronova/api"
)

// Store is the server's own database. server/sqlite implements it; a PostgreSQL implementation would
// implement the same interface. Every write that changes patient data appends to the change feed in the same
// transaction. Errors are *Error with CodeNotFound, CodeConflict … where the caller can act on them.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	// Setting returns a stored setting, or ok=false. EnsureSetting stores value unless the key exists and
	// returns the value that is stored.
	Setting(ctx context.Context, key string) (value string, ok bool, err error)
	EnsureSetting(ctx context.Context, key, value string) (string, error)

	CreateUser(ctx context.Context, u *User) error // sets u.ID; CodeConflict if the login ID exists
	UserByID(ctx context.Context, id int64) (*User, error)
	UserByLoginID(ctx context.Context, loginID string) (*User, error)
	ListUsers(ctx context.Context, role api.Role) ([]*User, error) // role "" lists all
	// UpdateUser runs fn on the user inside a transaction and stores what fn left, unless fn fails. Moving
	// TokensValidAfter forward also revokes the sessions begun before it; unlocking forgets the failed logins.
	UpdateUser(ctx context.Context, id int64, fn func(*User) error) (*User, error)

	// CheckAccess fails with CodeUnauthorized, saying why, when the access token of p may no longer be used: its
	// account is deactivated or locked, the account's tokens were revoked after p was issued (password change,
	// deactivation, lockout), p's session was revoked, or p itself was (logout).
	CheckAccess(ctx context.Context, p Principal) error
	// RevokeAccessToken revokes one access token of userID until it expires.
	RevokeAccessToken(ctx context.Context, jti string, userID int64, expires time.Time) error
	// RevokeSession revokes a session (a refresh-token family) of userID, with the access tokens issued in it.
	RevokeSession(ctx context.Context, family string, userID int64, now time.Time) error

	// LoginFailures returns the failed logins counted for a login ID (known or not) and whether it is locked.
	LoginFailures(ctx context.Context, loginID string) (failures int, locked bool, err error)
	// AddLoginFailure counts a failed login. The count restarts when the first failure counted is older than
	// window; at MaxLoginFailures the login ID locks, and so does its account if it has one, revoking its tokens.
	AddLoginFailure(ctx context.Context, loginID string, now time.Time, window time.Duration) (failures int, locked bool, err error)
	// StartSession records a successful login of userID: its last login time, its failed logins forgotten, and
	// the first refresh token of a new session.
	StartSession(ctx context.Context, userID int64, t RefreshToken, now time.Time) (*User, error)

	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// UseRefreshToken marks the token with hash used and stores next in its family, atomically. A token that
	// was used or revoked before, or whose account is deactivated or locked, revokes its whole family and fails
	// with CodeUnauthorized, as does an expired or unknown one.
	UseRefreshToken(ctx context.Context, hash string, next RefreshToken, now time.Time) (*RefreshToken, error)
	// RevokeRefreshToken revokes the family of the token with hash, which must belong to userID.
	RevokeRefreshToken(ctx context.Context, hash string, userID int64, now time.Time) error
	RevokeUserRefreshTokens(ctx context.Context, userID int64, now time.Time) error

	CreatePatient(ctx context.Context, p *Patient) error // sets ID, and Number (P{YYYY}{00001}) unless given
	Patient(ctx context.Context, id int64) (*Patient, error)
	PatientByNumber(ctx context.Context, number string) (*Patient, error)
	ListPatients(ctx context.Context, scope Scope, f PatientFilter) ([]*Patient, error)
	UpdatePatient(ctx context.Context, id int64, fn func(*Patient) error) (*Patient, error)

	// CreateOrder stores o with a new ID (ocs_0001 …) and its CREATED history entry.
	CreateOrder(ctx context.Context, o *Order, h OrderHistory) error
	Order(ctx context.Context, id string) (*Order, error) // with its history
	ListOrders(ctx context.Context, scope Scope, f OrderFilter) ([]*Order, error)
	// UpdateOrder runs fn on the order under a write lock and stores the order and the history entry fn
	// returns, unless fn fails: then nothing changes. With an idempotency key (an action's Idempotency-Key),
	// an action whose key the order's history holds already is not run again: the order is returned as it is.
	UpdateOrder(ctx context.Context, id, key string, fn func(*Order) (OrderHistory, error)) (*Order, error)
	// PatientOwnership returns the ownership fields of a patient.
	PatientOwnership(ctx context.Context, patientID int64) (PatientOwnership, error)
	// OwnershipByNumber returns the ID and ownership of the patient whose number is a DICOM PatientID.
	OwnershipByNumber(ctx context.Context, number string) (patientID int64, o PatientOwnership, err error)

	// CreateAIResult stores r under (r.CreatedBy, key). When that key was used before with the same content
	// hash it returns the stored result and created=false; with another hash it fails with CodeConflict.
	CreateAIResult(ctx context.Context, r *AIResult, key, contentHash string) (stored *AIResult, created bool, err error)
	AIResult(ctx context.Context, id string) (*AIResult, error)
	ListAIResults(ctx context.Context, scope Scope, f AIResultFilter) ([]*AIResult, error)
	UpdateAIResult(ctx context.Context, id string, fn func(*AIResult) error) (*AIResult, error)
	// WithdrawAIResult marks a result withdrawn: it leaves the lists and the change feed's copies of it are
	// replaced by a withdrawal notice. The result itself stays stored.
	WithdrawAIResult(ctx context.Context, id string, by int64, reason string, now time.Time) (*AIResult, error)

	// CreateJob stores a job made by NewJob; CreateAIResult of a result with its JobID marks it done.
	CreateJob(ctx context.Context, j *api.Job) error
	Job(ctx context.Context, id string) (*api.Job, error)
	UnfinishedJobs(ctx context.Context, limit int) ([]*api.Job, error)
	// FinishJob records the end of a job: status done or failed.
	FinishJob(ctx context.Context, j *api.Job, at time.Time) error

	// Changes returns up to limit changes after cursor that scope sees, oldest first, and whether more follow.
	Changes(ctx context.Context, scope Scope, cursor int64, limit int) ([]Change, bool, error)

	// EventsAfter returns up to limit events of the outbox after the one numbered seq, oldest first. Writes put
	// their events there in their own transaction (server.TxAudit.Event); the store keeps the last 100,000.
	EventsAfter(ctx context.Context, seq int64, limit int) ([]Event, error)

	// AppendAudit appends records; it never updates or deletes one. Forwarded records with an EventID already
	// stored for the same user are skipped; it returns how many were new.
	AppendAudit(ctx context.Context, recs []AuditRecord) (stored int, err error)
	QueryAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
}

// PatientFilter narrows ListPatients.
type PatientFilter struct {
	Query  string // substring of name or number
	Status string
	Limit  int
}

// OrderFilter narrows ListOrders.
type OrderFilter struct {
	Status     api.OrderStatus
	JobRole    api.JobRole
	PatientID  int64
	DoctorID   int64
	WorkerID   int64
	Unassigned bool
	Limit      int
}

// AIResultFilter narrows ListAIResults.
type AIResultFilter struct {
	PatientID int64
	OrderID   string
	Model     string
	Limit     int
}

// AuditFilter narrows QueryAudit. Before is a record ID: records older than it (0: the newest).
type AuditFilter struct {
	UserID    int64
	Action    string
	PatientID int64
	ObjectID  string
	Since     time.Time
	Until     time.Time
	Before    int64
	Limit     int
}
