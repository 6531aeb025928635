package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/sync/cache"
	"github.com/neuronova/neuronova/sync/client"
)

// The clinical workflow on the workstation, offline first: the orders the change feed brought are read from
// the cache; reports are drafted there and go to the server through the outbox, in order; the online actions
// (accept, start, confirm …) are the server's and refresh the cache from the feed as soon as they are taken.

// clinicState is the engine's state for the clinical workflow.
type clinicState struct {
	feed sync.Mutex // one reader of the change feed at a time (rounds, refreshes after actions and notifications)

	mu     sync.Mutex
	lastID string // the ID of the last notification received, sent back as Last-Event-ID on a reconnect
}

// Session returns who is signed in, nil when nobody is.
func (e *Engine) Session() *Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.session == nil {
		return nil
	}
	s := *e.session
	return &s
}

// ErrPasswordChange is returned by calls that need a session whose password is not temporary.
var ErrPasswordChange = errors.New("the password must be changed first")

// ChangePassword changes the signed-in user's password on the server: the must-change step of a new account
// or of a reset, or a change the user asks for. The server ends the account's other sessions and answers a new
// one; the credential cached for offline sign-in becomes the new password's.
func (e *Engine) ChangePassword(ctx context.Context, oldPassword, newPassword string) (*Session, error) {
	s := e.Session()
	if s == nil || s.Offline {
		return nil, fmt.Errorf("change the password: %w (online)", client.ErrNotLoggedIn)
	}
	tok, err := e.server.ChangePassword(ctx, oldPassword, newPassword)
	if err != nil {
		e.audit(ctx, s.User.LoginID, "password.change.denied", s.User.LoginID, err.Error())
		return nil, err
	}
	e.audit(ctx, s.User.LoginID, "password.change", s.User.LoginID, "")
	return e.loggedIn(ctx, s.User.LoginID, newPassword, tok)
}

// OrderFilter selects orders of the cache; the zero filter selects them all.
type OrderFilter struct {
	Mine       bool            // ordered by the signed-in user or assigned to them
	Unassigned bool            // no worker yet
	Open       bool            // neither confirmed nor cancelled
	Status     api.OrderStatus // one status ("" any)
}

// Orders lists the orders the change feed brought (those the user may see), as the cache holds them, so it
// works offline: RESULT_READY first (what waits for its doctor), then urgent ones, then the oldest.
func (e *Engine) Orders(ctx context.Context, f OrderFilter) ([]api.Order, error) {
	objs, err := e.cache.RemoteObjects(ctx, api.KindOrder)
	if err != nil {
		return nil, err
	}
	var me int64
	if s := e.Session(); s != nil {
		me = s.User.ID
	}
	out := []api.Order{}
	for id, raw := range objs {
		var o api.Order
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("order %s: %w", id, err)
		}
		mine := o.DoctorID == me || (o.WorkerID != nil && *o.WorkerID == me)
		closed := o.Status == api.OrderConfirmed || o.Status == api.OrderCancelled
		if (f.Mine && !mine) || (f.Unassigned && o.WorkerID != nil) || (f.Open && closed) || (f.Status != "" && o.Status != f.Status) {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Status == api.OrderResultReady) != (b.Status == api.OrderResultReady) {
			return a.Status == api.OrderResultReady
		}
		if (a.Priority == "urgent") != (b.Priority == "urgent") {
			return a.Priority == "urgent"
		}
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	return out, nil
}

// Order returns one order as the cache holds it.
func (e *Engine) Order(ctx context.Context, id string) (*api.Order, error) {
	raw, err := e.cache.RemoteObject(ctx, api.KindOrder, id)
	if err != nil {
		return nil, err
	}
	var o api.Order
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("order %s: %w", id, err)
	}
	return &o, nil
}

// OrderResults lists the AI results of an order the feed brought, newest first.
func (e *Engine) OrderResults(ctx context.Context, orderID string) ([]api.AIResult, error) {
	objs, err := e.cache.RemoteObjects(ctx, api.KindAIResult)
	if err != nil {
		return nil, err
	}
	var out []api.AIResult
	for id, raw := range objs {
		var r api.AIResult
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("AI result %s: %w", id, err)
		}
		if r.OrderID == orderID && r.WithdrawnAt == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// RefreshFeed reads the change feed now (after an action, or a notification) and says how many changes it
// applied.
func (e *Engine) RefreshFeed(ctx context.Context) (int, error) {
	if err := e.ensureOnline(ctx); err != nil {
		return 0, err
	}
	sum := &Summary{}
	err := e.pullFeed(ctx, sum, func(Progress) {})
	if client.IsOffline(err) {
		e.setOnline(false, err)
	} else if err == nil {
		e.setOnline(true, nil)
	}
	return sum.Changes, err
}

// Report is the payload of a report: a worker's result saved on an order (save_result) or, with Submit,
// handed in (submit_result: the order becomes RESULT_READY).
type Report struct {
	OrderID      string          `json:"order_id"`
	WorkerResult json.RawMessage `json:"worker_result"`
	Attachments  json.RawMessage `json:"attachments,omitempty"`
	Submit       bool            `json:"submit,omitempty"`
}

// SaveReport keeps a report of an order as the reader's draft and puts it in the outbox for the server:
// saved, or submitted with submit. Reports go in the order they were made, once the server answers; one
// the server refuses (the order was cancelled meanwhile) is set aside, shown by ReportState, and the draft
// stays.
func (e *Engine) SaveReport(ctx context.Context, orderID string, workerResult json.RawMessage, submit bool) error {
	if err := e.cache.SaveDraft(ctx, orderID, workerResult); err != nil {
		return err
	}
	b, err := json.Marshal(Report{OrderID: orderID, WorkerResult: workerResult, Submit: submit})
	if err != nil {
		return err
	}
	if _, err := ParseReport(b); err != nil {
		return err
	}
	if err := e.cache.RecordReport(ctx, b); err != nil {
		return err
	}
	action := "report.save"
	if submit {
		action = "report.submit"
	}
	e.audit(ctx, e.actor(), action, orderID, "")
	return nil
}

// Draft returns the reader's last draft of an order, or cache.ErrNotFound.
func (e *Engine) Draft(ctx context.Context, orderID string) (json.RawMessage, error) {
	return e.cache.Draft(ctx, orderID)
}

// ReportState says where an order's reports and attachments stand with the server.
type ReportState struct {
	Pending int    // waiting to be sent
	Sent    int    // confirmed by the server
	Refused string // why the server refused the latest one set aside; "" when none was
}

// ReportState reads an order's outbox items.
func (e *Engine) ReportState(ctx context.Context, orderID string) (ReportState, error) {
	items, err := e.cache.OrderOutbox(ctx, orderID)
	var st ReportState
	for _, it := range items {
		switch {
		case !it.SentAt.IsZero():
			st.Sent++
		case !it.DeadAt.IsZero():
			st.Pending++
			st.Refused = it.LastError
		default:
			st.Pending++
		}
	}
	return st, err
}

// Audit records a local audit event in the signed-in user's name (opening a study, running a model,
// exporting, printing), forwarded to the server with the rest.
func (e *Engine) Audit(ctx context.Context, action, target, detail string) {
	e.audit(ctx, e.actor(), action, target, detail)
}

// actor is the signed-in user's login ID, or the cache's actor when nobody is signed in.
func (e *Engine) actor() string {
	if s := e.Session(); s != nil {
		return s.User.LoginID
	}
	return e.cache.Actor()
}

// sendReport saves or submits a report on its order. Saving the same report again leaves the same result;
// the Idempotency-Key makes a retried submit (its answer lost) apply once.
func (e *Engine) sendReport(ctx context.Context, it cache.OutboxItem) (string, error) {
	r, err := ParseReport(it.Payload)
	if err != nil {
		return "", permanent(err)
	}
	req := api.OrderResultRequest{WorkerResult: r.WorkerResult, Attachments: r.Attachments}
	var o *api.Order
	if r.Submit {
		o, err = e.server.SubmitOrderResult(ctx, r.OrderID, it.IdempotencyKey, req)
	} else {
		o, err = e.server.SaveOrderResult(ctx, r.OrderID, it.IdempotencyKey, req)
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("order %s version %d (%s)", o.ID, o.Version, o.Status), nil
}

// ParseReport reads a report payload.
func ParseReport(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if r.OrderID == "" || len(r.OrderID) > 64 || strings.ContainsAny(r.OrderID, "/?#%") {
		return nil, fmt.Errorf("report: order_id %q is missing or malformed", r.OrderID)
	}
	if len(r.WorkerResult) == 0 || !json.Valid(r.WorkerResult) {
		return nil, fmt.Errorf("report: worker_result is missing or not JSON")
	}
	return &r, nil
}
