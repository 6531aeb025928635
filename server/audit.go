package server

import (
	"context"
	"strconv"
	"sync"
)

// TxAudit is the audit record of a call that writes. A store inserts it in the transaction of the call's first
// write, so that a write never commits without its record: a crash after the commit leaves both, a crash
// before it neither. Calls that write nothing leave their record through the audit writer as before.
type TxAudit struct {
	// Record builds the record as the call knows it when its write commits. refusal is nil for the write the
	// call asked for, or the error the call fails with when the write is the store's answer to a refusal (a
	// reused refresh token revokes its session).
	Record func(refusal error) AuditRecord

	mu                   sync.Mutex
	stored               bool
	objectType, objectID string
	patientID            int64
	user                 *User // the account the write found the call to be, when the call could not know it
	events               []func() *Event
}

type txAuditKey struct{}

// WithTxAudit returns ctx carrying a; the store's writes under ctx insert its record.
func WithTxAudit(ctx context.Context, a *TxAudit) context.Context {
	return context.WithValue(ctx, txAuditKey{}, a)
}

// TxAuditOf returns the audit record ctx carries for the store's next write, or nil when there is none or it
// is already stored.
func TxAuditOf(ctx context.Context) *TxAudit {
	a, _ := ctx.Value(txAuditKey{}).(*TxAudit)
	if a == nil || a.Stored() {
		return nil
	}
	return a
}

// Object names what the write created when the call could not know it before (a new ID): the record takes it
// unless the call named an object itself.
func (a *TxAudit) Object(typ string, id any, patientID int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.objectType, a.patientID = typ, patientID
	switch v := id.(type) {
	case string:
		a.objectID = v
	case int64:
		a.objectID = strconv.FormatInt(v, 10)
	}
}

// Actor names the account a write found the call to act for (the owner of a refresh token): the record takes it
// unless the call named one itself.
func (a *TxAudit) Actor(u *User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.user = u
}

// Build returns the record to insert, completed with the object and the actor the store named.
func (a *TxAudit) Build(refusal error) AuditRecord {
	r := a.Record(refusal)
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.ObjectID == "" && a.objectID != "" {
		r.ObjectType, r.ObjectID = a.objectType, a.objectID
	}
	if r.PatientID == nil && a.patientID > 0 {
		id := a.patientID
		r.PatientID = &id
	}
	if r.UserID == nil && a.user != nil {
		id := a.user.ID
		r.UserID, r.LoginID, r.Role = &id, a.user.LoginID, a.user.Role
	}
	return r
}

// Event adds a notification the call's write announces. build runs in the write's transaction, once the write
// has been made (so it sees the IDs the store gave), and its event commits with the write — into the store's
// outbox of events, from which every server instance relays it — or not at all. build may return nil.
func (a *TxAudit) Event(build func() *Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, build)
}

// Events builds the notifications of the write.
func (a *TxAudit) Events() []Event {
	a.mu.Lock()
	builds := a.events
	a.mu.Unlock()
	var out []Event
	for _, b := range builds {
		if e := b(); e != nil {
			out = append(out, *e)
		}
	}
	return out
}

// Committed marks the record stored; the store calls it once the transaction holding it has committed.
func (a *TxAudit) Committed() {
	a.mu.Lock()
	a.stored = true
	a.mu.Unlock()
}

// Stored reports whether a committed write carried the record.
func (a *TxAudit) Stored() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stored
}
