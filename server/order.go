package server

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/neuronova/neuronova/api"
)

// OrderAction is one action of the order state machine.
type OrderAction string

const (
	ActAccept       OrderAction = "accept"
	ActStart        OrderAction = "start"
	ActSaveResult   OrderAction = "save_result"
	ActSubmitResult OrderAction = "submit_result"
	ActConfirm      OrderAction = "confirm"
	ActCancel       OrderAction = "cancel"
	ActUpdate       OrderAction = "update"
)

// OrderInput is what an action carries; each action reads only its own fields.
type OrderInput struct {
	WorkerResult  json.RawMessage
	Attachments   json.RawMessage
	DoctorRequest json.RawMessage
	Priority      *string
	Result        *bool
	Reason        string
}

// Actor is who acts on an order.
type Actor struct {
	ID         int64
	Name       string
	Role       api.Role
	ClientAddr string
}

// ActorOf returns p as an actor.
func ActorOf(p Principal) Actor {
	return Actor{ID: p.UserID, Name: p.Name, Role: p.Role, ClientAddr: p.ClientAddr}
}

// JobTypes lists the job types of each job role (the seed's lists).
var JobTypes = map[api.JobRole][]string{
	api.JobRIS:       {"MRI", "CT", "PET"},
	api.JobLIS:       {"CBC", "CMP", "Coagulation", "Tumor Markers", "GENE_PANEL", "RNA_SEQ", "DNA_SEQ", "BIOMARKER"},
	api.JobTreatment: {"SURGERY", "RADIATION", "CHEMOTHERAPY"},
	api.JobConsult:   {"NEUROLOGY", "NEUROSURGERY", "ONCOLOGY", "RADIOLOGY"},
}

// workerResultTemplates is the empty worker_result each job role starts from when an order is accepted.
var workerResultTemplates = map[api.JobRole]string{
	api.JobRIS: `{"_template":"RIS","_version":"1.1","dicom":{"study_uid":"","series":[],"accession_number":"",` +
		`"series_count":0,"instance_count":0},"impression":"","findings":"","recommendation":"",` +
		`"tumor":{"detected":null,"location":{"lobe":"","hemisphere":""},"size":{"max_diameter_cm":null,"volume_cc":null}},` +
		`"work_notes":[],"_confirmed":false}`,
	api.JobLIS:       `{"_template":"LIS","_version":"1.0","test_results":[],"summary":"","interpretation":"","_confirmed":false}`,
	api.JobTreatment: `{"_template":"TREATMENT","_version":"1.0","procedure":"","duration_minutes":null,"anesthesia":"","outcome":"","complications":"","_confirmed":false}`,
	api.JobConsult:   `{"_template":"CONSULT","_version":"1.0","opinion":"","_confirmed":false}`,
}

// NewOrder checks a creation request by actor for a patient and returns the order to store (without its ID).
func NewOrder(req api.CreateOrderRequest, patient *Patient, actor Actor, now time.Time) (*Order, error) {
	switch actor.Role {
	case api.RoleDoctor, api.RoleAdmin, api.RoleSystemManager:
	default:
		return nil, Errorf(api.CodeForbidden, "only DOCTOR, ADMIN and SYSTEMMANAGER create orders")
	}
	types, ok := JobTypes[req.JobRole]
	if !ok {
		return nil, Errorf(api.CodeInvalid, "job_role %q is not one of RIS, LIS, TREATMENT, CONSULT", req.JobRole)
	}
	if !slices.Contains(types, req.JobType) {
		return nil, Errorf(api.CodeInvalid, "job_type %q is not a %s job type (want one of %v)", req.JobType, req.JobRole, types)
	}
	priority := req.Priority
	if priority == "" {
		priority = "normal"
	}
	if err := validatePriority(priority); err != nil {
		return nil, err
	}
	if err := validateObject("doctor_request", req.DoctorRequest); err != nil {
		return nil, err
	}
	return &Order{
		PatientID: patient.ID, PatientNumber: patient.Number, PatientName: patient.Name,
		DoctorID: actor.ID, DoctorName: actor.Name,
		JobRole: req.JobRole, JobType: req.JobType, Status: api.OrderOrdered, Priority: priority,
		DoctorRequest: compactJSON(req.DoctorRequest), CreatedAt: now, UpdatedAt: now, Version: 1,
	}, nil
}

// CreatedHistory is the history entry of a new order.
func CreatedHistory(o *Order, actor Actor, now time.Time) OrderHistory {
	return OrderHistory{Action: "CREATED", ActorID: actor.ID, ActorName: actor.Name, ToStatus: o.Status,
		ClientAddr: actor.ClientAddr, At: now}
}

// Editable reports whether an order may still change (the seed's is_editable).
func Editable(o *Order) bool { return o.Status != api.OrderConfirmed && o.Status != api.OrderCancelled }

// ApplyOrderAction runs one action of the state machine on o. On success o holds the new state and the
// history entry to record is returned; on error o is left exactly as it was. The rules are the seed's:
//
//	accept         ORDERED, no worker          a user whose role is the order's job role, or an administrator
//	start          ACCEPTED                    the assigned worker
//	save_result    IN_PROGRESS, RESULT_READY   the assigned worker (draft)
//	submit_result  IN_PROGRESS                 the assigned worker → RESULT_READY
//	confirm        RESULT_READY                the ordering doctor
//	               IN_PROGRESS, RESULT_READY   the assigned worker of a RIS or LIS order
//	cancel         not CONFIRMED or CANCELLED  the ordering doctor → CANCELLED;
//	               ACCEPTED, IN_PROGRESS       the assigned worker → gives it back: ORDERED, no worker
//	update         not CONFIRMED or CANCELLED  the ordering doctor (doctor_request, priority)
func ApplyOrderAction(o *Order, act OrderAction, actor Actor, in OrderInput, now time.Time) (OrderHistory, error) {
	next := *o
	h := OrderHistory{ActorID: actor.ID, ActorName: actor.Name, FromStatus: o.Status, ClientAddr: actor.ClientAddr, At: now,
		FromWorker: o.WorkerID}
	isWorker := o.WorkerID != nil && *o.WorkerID == actor.ID
	isDoctor := o.DoctorID == actor.ID
	need := func(states ...api.OrderStatus) error {
		if slices.Contains(states, o.Status) {
			return nil
		}
		return Errorf(api.CodeConflict, "order %s is %s; %s needs %v", o.ID, o.Status, act, states)
	}
	onlyWorker := func() error {
		if !isWorker {
			return Errorf(api.CodeForbidden, "only the assigned worker may %s order %s", act, o.ID)
		}
		return nil
	}
	switch act {
	case ActAccept:
		if string(actor.Role) != string(o.JobRole) && !actor.Role.IsAdmin() {
			return h, Errorf(api.CodeForbidden, "only %s users accept %s order %s", o.JobRole, o.JobRole, o.ID)
		}
		if err := need(api.OrderOrdered); err != nil {
			return h, err
		}
		if o.WorkerID != nil {
			return h, Errorf(api.CodeConflict, "order %s already has a worker", o.ID)
		}
		id := actor.ID
		next.WorkerID, next.WorkerName = &id, actor.Name
		next.Status, next.AcceptedAt = api.OrderAccepted, &now
		next.WorkerResult = json.RawMessage(workerResultTemplates[o.JobRole])
		h.Action = "ACCEPTED"
	case ActStart:
		if err := onlyWorker(); err != nil {
			return h, err
		}
		if err := need(api.OrderAccepted); err != nil {
			return h, err
		}
		next.Status, next.InProgressAt = api.OrderInProgress, &now
		h.Action = "STARTED"
	case ActSaveResult, ActSubmitResult:
		if err := onlyWorker(); err != nil {
			return h, err
		}
		states := []api.OrderStatus{api.OrderInProgress, api.OrderResultReady}
		if act == ActSubmitResult {
			states = states[:1]
		}
		if err := need(states...); err != nil {
			return h, err
		}
		if err := setResult(&next, in); err != nil {
			return h, err
		}
		h.Action = "RESULT_SAVED"
		if act == ActSubmitResult {
			next.Status, next.ResultReadyAt = api.OrderResultReady, &now
			h.Action = "SUBMITTED"
		}
	case ActConfirm:
		workerMayConfirm := isWorker && (o.JobRole == api.JobRIS || o.JobRole == api.JobLIS)
		if !isDoctor && !workerMayConfirm {
			return h, Errorf(api.CodeForbidden, "only the ordering doctor or the assigned RIS/LIS worker may confirm order %s", o.ID)
		}
		states := []api.OrderStatus{api.OrderResultReady}
		if workerMayConfirm {
			states = append(states, api.OrderInProgress)
		}
		if err := need(states...); err != nil {
			return h, err
		}
		if err := setResult(&next, OrderInput{WorkerResult: in.WorkerResult}); err != nil {
			return h, err
		}
		confirmed, err := withConfirmedFlag(next.WorkerResult)
		if err != nil {
			return h, err
		}
		result := true
		if in.Result != nil {
			result = *in.Result
		}
		next.WorkerResult, next.Result = confirmed, &result
		next.Status, next.ConfirmedAt = api.OrderConfirmed, &now
		h.Action = "CONFIRMED"
	case ActCancel:
		if err := ValidateMultilineText("reason", in.Reason, 1, 500); err != nil {
			return h, err
		}
		switch {
		case isDoctor:
			if !Editable(o) {
				return h, Errorf(api.CodeConflict, "order %s is %s and can no longer be cancelled", o.ID, o.Status)
			}
			next.Status, next.CancelledAt, next.CancelReason = api.OrderCancelled, &now, in.Reason
			h.Action = "CANCELLED"
		case isWorker:
			if err := need(api.OrderAccepted, api.OrderInProgress); err != nil {
				return h, err
			}
			next.WorkerID, next.WorkerName = nil, ""
			next.Status, next.AcceptedAt, next.InProgressAt = api.OrderOrdered, nil, nil
			next.WorkerResult = nil
			h.Action = "GIVEN_BACK"
		default:
			return h, Errorf(api.CodeForbidden, "only the ordering doctor or the assigned worker may cancel order %s", o.ID)
		}
		h.Reason = in.Reason
	case ActUpdate:
		if !isDoctor {
			return h, Errorf(api.CodeForbidden, "only the ordering doctor may edit order %s", o.ID)
		}
		if !Editable(o) {
			return h, Errorf(api.CodeConflict, "order %s is %s and can no longer be edited", o.ID, o.Status)
		}
		if in.DoctorRequest == nil && in.Priority == nil {
			return h, Errorf(api.CodeInvalid, "nothing to update: give doctor_request or priority")
		}
		if in.DoctorRequest != nil {
			if err := validateObject("doctor_request", in.DoctorRequest); err != nil {
				return h, err
			}
			next.DoctorRequest = compactJSON(in.DoctorRequest)
		}
		if in.Priority != nil {
			if err := validatePriority(*in.Priority); err != nil {
				return h, err
			}
			next.Priority = *in.Priority
		}
		h.Action = "UPDATED"
	default:
		return h, Errorf(api.CodeInvalid, "unknown order action %q", act)
	}
	next.UpdatedAt = now
	next.Version = o.Version + 1
	next.History = nil
	h.ToStatus = next.Status
	h.ToWorker = next.WorkerID
	*o = next
	return h, nil
}

func setResult(o *Order, in OrderInput) error {
	if in.WorkerResult != nil {
		if err := validateObject("worker_result", in.WorkerResult); err != nil {
			return err
		}
		o.WorkerResult = compactJSON(in.WorkerResult)
	}
	if in.Attachments != nil {
		if err := validateObject("attachments", in.Attachments); err != nil {
			return err
		}
		o.Attachments = compactJSON(in.Attachments)
	}
	return nil
}

func withConfirmedFlag(raw json.RawMessage) (json.RawMessage, error) {
	m := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, Errorf(api.CodeInvalid, "worker_result is not a JSON object: %v", err)
		}
	}
	m["_confirmed"] = true
	return json.Marshal(m)
}

func validatePriority(p string) error {
	if p != "urgent" && p != "normal" {
		return Errorf(api.CodeInvalid, "priority %q must be urgent or normal", p)
	}
	return nil
}

// validateObject checks that raw, when present, is one JSON object.
