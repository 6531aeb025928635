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
