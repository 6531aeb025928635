package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/neuronova/neuronova/api"
)

// The clinical workflow: the password change a new account must make, user administration, patients,
// orders and their actions, the review of AI results and the audit log. Each is one call of the API; the
// server decides who may make it (api.Permissions and its ownership rules).

// ChangePassword changes the signed-in user's password. The server ends every session of the account and
// answers a new one, which the client keeps.
func (c *Client) ChangePassword(ctx context.Context, oldPassword, newPassword string) (*api.Tokens, error) {
	var t api.Tokens
	if err := c.call(ctx, http.MethodPost, "/api/auth/change-password/", nil,
		api.ChangePasswordRequest{OldPassword: oldPassword, NewPassword: newPassword}, &t, true); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tokens = &t
	c.mu.Unlock()
	return &t, nil
}

// Users lists the accounts, of one role when role is not empty.
func (c *Client) Users(ctx context.Context, role api.Role) ([]api.User, error) {
	var q url.Values
	if role != "" {
		q = url.Values{"role": {string(role)}}
	}
	var out []api.User
	err := c.call(ctx, http.MethodGet, "/api/users/", q, nil, &out, true)
	return out, err
}

// CreateUser creates an account that must change its password at its first sign-in.
func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest) (*api.User, error) {
	var out api.User
	if err := c.call(ctx, http.MethodPost, "/api/users/", nil, req, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateUser changes an account's name, e-mail or activity (deactivating ends its sessions).
func (c *Client) UpdateUser(ctx context.Context, id int64, req api.UpdateUserRequest) (*api.User, error) {
	var out api.User
	if err := c.call(ctx, http.MethodPatch, "/api/users/"+strconv.FormatInt(id, 10)+"/", nil, req, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// UnlockUser lifts the lockout of an account after failed logins.
func (c *Client) UnlockUser(ctx context.Context, id int64) (*api.User, error) {
	var out api.User
	if err := c.call(ctx, http.MethodPost, "/api/users/"+strconv.FormatInt(id, 10)+"/unlock/", nil, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResetPassword gives an account a temporary password (answered once) that must be changed at its next
// sign-in, and ends its sessions.
func (c *Client) ResetPassword(ctx context.Context, id int64) (*api.PasswordReset, error) {
	var out api.PasswordReset
	if err := c.call(ctx, http.MethodPost, "/api/users/"+strconv.FormatInt(id, 10)+"/reset-password/", nil, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Patients lists the patients the user sees whose name or number contains query (all when empty).
func (c *Client) Patients(ctx context.Context, query string, limit int) ([]api.Patient, error) {
	q := url.Values{"limit": {strconv.Itoa(max(limit, 1))}}
	if query != "" {
		q.Set("q", query)
	}
	var out []api.Patient
	err := c.call(ctx, http.MethodGet, "/api/patients/", q, nil, &out, true)
	return out, err
}

// CreatePatient registers a patient; the server gives it its number.
func (c *Client) CreatePatient(ctx context.Context, req api.CreatePatientRequest) (*api.Patient, error) {
	var out api.Patient
	if err := c.call(ctx, http.MethodPost, "/api/patients/", nil, req, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateOrder orders a job for a patient.
func (c *Client) CreateOrder(ctx context.Context, req api.CreateOrderRequest) (*api.Order, error) {
	var out api.Order
	if err := c.call(ctx, http.MethodPost, "/api/ocs/", nil, req, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Order reads one order with its history.
func (c *Client) Order(ctx context.Context, id string) (*api.Order, error) {
	var out api.Order
	if err := c.call(ctx, http.MethodGet, "/api/ocs/"+url.PathEscape(id)+"/", nil, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// Order actions (POST /api/ocs/{id}/<action>/).
const (
	ActAccept       = "accept"
	ActStart        = "start"
	ActSaveResult   = "save_result"
	ActSubmitResult = "submit_result"
	ActConfirm      = "confirm"
	ActCancel       = "cancel"
)

// OrderAction takes one action of the order state machine. body is the action's request (nil,
// api.OrderResultRequest, api.ConfirmOrderRequest or api.CancelOrderRequest); key, when not empty, is its
// Idempotency-Key: the server applies an action with a key it knows once, and answers the order as it is.
func (c *Client) OrderAction(ctx context.Context, id, action, key string, body any) (*api.Order, error) {
	var h http.Header
	if key != "" {
		h = http.Header{"Idempotency-Key": {key}}
	}
	var out api.Order
	if _, err := c.callHeader(ctx, http.MethodPost, "/api/ocs/"+url.PathEscape(id)+"/"+action+"/", nil, h, body, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// SubmitOrderResult hands in a worker's result: the order becomes RESULT_READY.
func (c *Client) SubmitOrderResult(ctx context.Context, orderID, key string, req api.OrderResultRequest) (*api.Order, error) {
	return c.OrderAction(ctx, orderID, ActSubmitResult, key, req)
}

// AIResult reads one stored AI result with its review.
func (c *Client) AIResult(ctx context.Context, id string) (*api.AIResult, error) {
	var out api.AIResult
	if err := c.call(ctx, http.MethodGet, "/api/ai/results/"+url.PathEscape(id)+"/", nil, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReviewResult approves or rejects an AI result, with a comment.
func (c *Client) ReviewResult(ctx context.Context, id string, req api.ReviewRequest) (*api.AIResult, error) {
	var out api.AIResult
	if err := c.call(ctx, http.MethodPost, "/api/ai/results/"+url.PathEscape(id)+"/review/", nil, req, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditQuery selects audit records; zero fields select everything.
type AuditQuery struct {
	UserID, PatientID int64
	Action, ObjectID  string
	Since, Until      time.Time
	Before            int64 // a record ID: records older than it (a page's NextCursor)
	Limit             int   // default 100, at most 1000
}

// Audit reads the audit log, newest first.
func (c *Client) Audit(ctx context.Context, f AuditQuery) (*api.AuditPage, error) {
	q := url.Values{}
	for name, v := range map[string]int64{"user_id": f.UserID, "patient_id": f.PatientID, "before": f.Before, "limit": int64(f.Limit)} {
		if v > 0 {
			q.Set(name, strconv.FormatInt(v, 10))
		}
	}
	for name, v := range map[string]string{"action": f.Action, "object_id": f.ObjectID} {
		if v != "" {
			q.Set(name, v)
		}
	}
	for name, v := range map[string]time.Time{"since": f.Since, "until": f.Until} {
		if !v.IsZero() {
			q.Set(name, v.UTC().Format(time.RFC3339))
		}
	}
	var out api.AuditPage
	if err := c.call(ctx, http.MethodGet, "/api/audit/", q, nil, &out, true); err != nil {
		return nil, err
	}
	return &out, nil
}
