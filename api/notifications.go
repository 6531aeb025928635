package api

import "time"

// Notification types sent on /ws/notifications.
const (
	EventOrderCreated       = "OCS_CREATED"
	EventOrderStatusChanged = "OCS_STATUS_CHANGED"
	EventOrderCancelled     = "OCS_CANCELLED"
	EventAIResult           = "AI_RESULT"
	EventAIReviewed         = "AI_REVIEWED"
	EventJobFinished        = "JOB_FINISHED"
	EventPong               = "pong"
	// EventResync says notifications were missed beyond what the server keeps: reread the change feed.
	EventResync = "RESYNC"
)

// LastEventIDHeader names, on a reconnect to /ws/notifications, the ID of the last notification the client
// received: the server first sends what the client is entitled to of those that came after it.
const LastEventIDHeader = "Last-Event-ID"

// Notification is one event pushed to the users entitled to it.
type Notification struct {
	// ID orders notifications ("<ms>-<n>", as Redis streams number entries); a reconnecting client sends the
	// last one it received as Last-Event-ID.
	ID         string      `json:"id,omitempty"`
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
