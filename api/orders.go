package api

import (
	"encoding/json"
	"time"
)

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
	// IdempotencyKey is the key the action came with; the store applies an action with a known key once.
	IdempotencyKey string `json:"-"`
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
