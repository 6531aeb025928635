package ui

import (
	"context"
	"encoding/json"
	"image"
	"slices"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/viewer"
)

// Clinic is the workstation's side of the clinical workflow: the session, the orders (from the local cache,
// so they work offline), reports (drafted here, sent through the outbox), the online actions of the order
// state machine, patient registration, user administration, the audit log and notifications. sync/engine and
// sync/client implement it through an adapter in cmd/neuronova, so that this package builds without cgo.
type Clinic interface {
	// SignIn signs in online, or offline with the credential cached at the last online sign-in.
	SignIn(ctx context.Context, login, password string) (*Session, error)
	// ChangePassword changes the signed-in user's password (a new account's must-change step).
	ChangePassword(ctx context.Context, oldPassword, newPassword string) (*Session, error)
	SignOut(ctx context.Context) error

	// Orders lists the orders the cache holds; Order reads one with what the workstation knows of it.
	Orders(ctx context.Context, f OrderFilter) ([]api.Order, error)
	Order(ctx context.Context, id string) (*OrderView, error)
	// Act takes an online action of the order state machine (accept, start, confirm, cancel) with its
	// request body, and refreshes the cache.
	Act(ctx context.Context, orderID, action string, body any) error
	// Review approves or rejects an AI result.
	Review(ctx context.Context, resultID string, req api.ReviewRequest) error
	// SaveDraft keeps the report as typed; SaveReport also puts it in the outbox, saved or submitted.
	SaveDraft(ctx context.Context, orderID string, report json.RawMessage) error
	SaveReport(ctx context.Context, orderID string, report json.RawMessage, submit bool) error
	// OpenStudy returns the study of an order from the cache, fetching it from the server first (with
	// progress) when it is not there.
	OpenStudy(ctx context.Context, orderID string, p func(stage string, done, total int)) (*viewer.Study, error)
	// Attach gives a cached study to an order and queues its images for Orthanc.
	Attach(ctx context.Context, orderID, studyUID string, p func(stage string, done, total int)) error
	// Print writes the order's report as a PDF to path, with the key images.
	Print(ctx context.Context, orderID string, images []image.Image, path string) error

	Patients(ctx context.Context, query string) ([]api.Patient, error)
	RegisterPatient(ctx context.Context, req api.CreatePatientRequest) (*api.Patient, error)
	CreateOrder(ctx context.Context, req api.CreateOrderRequest) (*api.Order, error)

	Users(ctx context.Context) ([]api.User, error)
	// CreateUser creates an account with a temporary password, returned, to be changed at first sign-in.
	CreateUser(ctx context.Context, req api.CreateUserRequest) (*api.User, string, error)
	SetActive(ctx context.Context, userID int64, active bool) error
	Unlock(ctx context.Context, userID int64) error
	ResetPassword(ctx context.Context, userID int64) (string, error)
	Audit(ctx context.Context, q AuditQuery) (records []api.AuditRecord, next int64, err error)

	// Listen hands on each notification while ctx lasts, reconnecting by itself.
	Listen(ctx context.Context, on func(api.Notification))
}

// Session is who is signed in.
type Session struct {
	User    api.User
	Offline bool // on the cached credential: the server could not be reached
}

// OrderFilter selects orders: Mine (ordered by or assigned to the user), Unassigned, Open (neither confirmed
// nor cancelled), and a Status ("" any).
type OrderFilter struct {
	Mine, Unassigned, Open bool
	Status                 api.OrderStatus
}

// OrderView is an order with what the workstation knows of it.
type OrderView struct {
	Order    api.Order
	Results  []api.AIResult // its AI results, newest first
	Draft    json.RawMessage
	Pending  int    // reports and attachments waiting to be sent
	Refused  string // why the server refused the latest one set aside
	StudyUID string // its study in the local cache, "" when not there
}

// AuditQuery selects audit records; zero fields select everything.
type AuditQuery struct {
	Login, Action string
	PatientID     int64
	Since, Until  time.Time
	Before        int64 // a page's next cursor
}

// The actions the workstation offers, named as api.Permissions names them: a control for an action exists
// only for the roles the table allows it (the server stays the authority, with its ownership rules on top).
const (
	ActPatientCreate = "patient.create"
	ActOrderCreate   = "order.create"
	ActOrderAccept   = "order.accept"
	ActOrderStart    = "order.start"
	ActOrderCancel   = "order.cancel" // the ordering doctor cancels, the worker gives the order back
	ActOrderSave     = "order.save_result"
	ActOrderSubmit   = "order.submit_result"
	ActOrderConfirm  = "order.confirm"
	ActResultReview  = "ai_result.review"
	ActResultUpload  = "ai_result.upload" // run M1 for an order
	ActImagesUpload  = "orthanc.upload"   // attach a study's images to an order
	ActUserList      = "user.list"
	ActUserCreate    = "user.create"
	ActUserUpdate    = "user.update"
	ActUserUnlock    = "user.unlock"
	ActUserReset     = "user.reset_password"
	ActAuditQuery    = "audit.query"
)

// Actions lists every action the workstation has a control for.
var Actions = []string{ActPatientCreate, ActOrderCreate, ActOrderAccept, ActOrderStart, ActOrderCancel, ActOrderSave,
	ActOrderSubmit, ActOrderConfirm, ActResultReview, ActResultUpload, ActImagesUpload, ActUserList, ActUserCreate,
	ActUserUpdate, ActUserUnlock, ActUserReset, ActAuditQuery}

// Offered lists the actions the workstation offers role: those of Actions that api.Permissions allows it.
func Offered(role api.Role) []string {
	var out []string
	for _, a := range Actions {
		if api.May(role, a) {
			out = append(out, a)
		}
	}
	return out
}

// offers reports whether the workstation offers action to role.
func offers(role api.Role, action string) bool { return slices.Contains(Offered(role), action) }
