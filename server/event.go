package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/neuronova/neuronova/api"
)

// Event is a notification and who may receive it. The seed broadcast AI results to every connected client;
// here each event reaches only the users entitled to it, a subset of those who may read its object.
type Event struct {
	api.Notification
	Audience Audience `json:"audience"`
	// Seq numbers the event in the store's outbox, in the order its writes committed; its ID is "<Seq>-0".
	Seq int64 `json:"-"`
}

// EventID is the notification ID of the event numbered seq in the outbox.
func EventID(seq int64) string { return strconv.FormatInt(seq, 10) + "-0" }

// EventsKept is how many events a store's outbox keeps: far more than a client could miss, bounded all the
// same. A store trims it when an event's Seq is a multiple of EventsTrimEvery.
const (
	EventsKept      = 100_000
	EventsTrimEvery = 1000
)

// EncodeEvent is an event as a store's outbox keeps it.
func EncodeEvent(e Event) (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("event %s: %w", e.Type, err)
	}
	return string(b), nil
}

// EventRows are the rows of an outbox query, (seq, data) each: database/sql's and pgx's.
type EventRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ReadEvents decodes the rows of an outbox query, in order.
func ReadEvents(rows EventRows) ([]Event, error) {
	var out []Event
	for rows.Next() {
		var seq int64
		var data string
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, err
		}
		e, err := DecodeEvent(seq, data)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DecodeEvent reads the event numbered seq that a store's outbox kept as data.
func DecodeEvent(seq int64, data string) (Event, error) {
	var e Event
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return e, fmt.Errorf("event %d: %w", seq, err)
	}
	e.Seq, e.ID = seq, EventID(seq)
	return e, nil
}

// Audience holds the facts entitlement is decided on.
type Audience struct {
	Owner    PatientOwnership `json:"owner"`
	JobRole  api.JobRole      `json:"job_role,omitempty"`
	DoctorID int64            `json:"doctor_id,omitempty"` // the ordering doctor
	WorkerID *int64           `json:"worker_id,omitempty"` // the assigned worker
	UserIDs  []int64          `json:"user_ids,omitempty"`  // requesters: the uploader of a result, the submitter of a job
}

// Entitled reports whether p receives e:
//
//	orders      SYSTEMMANAGER, ADMIN, NURSE: all; DOCTOR: their own orders; RIS, LIS: orders of their job role;
//	            EXTERNAL, PATIENT: orders of their own patients
//	AI results  SYSTEMMANAGER, ADMIN, NURSE: all; DOCTOR, RIS, LIS: those they requested or whose order they
//	            ordered or work on; EXTERNAL: of their own patients; PATIENT: none
//	jobs        the submitter and administrators
func (e Event) Entitled(p Principal) bool {
	a := e.Audience
	scope := ScopeOf(p)
	involved := a.DoctorID == p.UserID || (a.WorkerID != nil && *a.WorkerID == p.UserID) || slices.Contains(a.UserIDs, p.UserID)
	switch e.Type {
	case api.EventOrderCreated, api.EventOrderStatusChanged, api.EventOrderCancelled:
		switch p.Role {
		case api.RoleSystemManager, api.RoleAdmin, api.RoleNurse:
			return true
		case api.RoleDoctor:
			return a.DoctorID == p.UserID
		case api.RoleRIS, api.RoleLIS:
			return string(a.JobRole) == string(p.Role)
		}
		return scope.OwnsPatient(a.Owner)
	case api.EventAIResult, api.EventAIReviewed:
		switch p.Role {
		case api.RoleSystemManager, api.RoleAdmin, api.RoleNurse:
			return true
		case api.RoleDoctor, api.RoleRIS, api.RoleLIS:
			return involved
		case api.RoleExternal:
			return scope.OwnsPatient(a.Owner)
		}
		return false
	case api.EventJobFinished:
		return p.Role.IsAdmin() || slices.Contains(a.UserIDs, p.UserID)
	}
	return false
}

// ValidEventID reports whether s is an event ID: "<ms>-<n>", as Redis streams number their entries.
func ValidEventID(s string) bool {
	ms, n, ok := parseEventID(s)
	return ok && ms >= 0 && n >= 0
}

// EventIDLess reports whether the event a came before b.
func EventIDLess(a, b string) bool {
	ams, an, _ := parseEventID(a)
	bms, bn, _ := parseEventID(b)
	return ams < bms || (ams == bms && an < bn)
}

func parseEventID(s string) (ms, n int64, ok bool) {
	left, right, found := strings.Cut(s, "-")
	if !found || len(s) > 41 {
		return 0, 0, false
	}
	var err1, err2 error
	ms, err1 = strconv.ParseInt(left, 10, 64)
	n, err2 = strconv.ParseInt(right, 10, 64)
	return ms, n, err1 == nil && err2 == nil
}
