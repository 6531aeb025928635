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
	c := &orderChange{o: o, next: *o, act: act, actor: actor, in: in, now: now,
		h: OrderHistory{ActorID: actor.ID, ActorName: actor.Name, FromStatus: o.Status, ClientAddr: actor.ClientAddr, At: now,
			FromWorker: o.WorkerID},
		isWorker: o.WorkerID != nil && *o.WorkerID == actor.ID, isDoctor: o.DoctorID == actor.ID}
	step, ok := orderSteps[act]
	if !ok {
		return c.h, Errorf(api.CodeInvalid, "unknown order action %q", act)
	}
	if err := step(c); err != nil {
		return c.h, err
	}
	c.next.UpdatedAt = now
	c.next.Version = o.Version + 1
	c.next.History = nil
	c.h.ToStatus = c.next.Status
	c.h.ToWorker = c.next.WorkerID
	*o = c.next
	return c.h, nil
}

// orderChange is one action being applied: the order as it was, the order it becomes, and the history entry.
type orderChange struct {
	o                  *Order
	next               Order
	h                  OrderHistory
	act                OrderAction
	actor              Actor
	in                 OrderInput
	now                time.Time
	isWorker, isDoctor bool
}

// orderSteps applies each action to c.next and c.h, or refuses it.
var orderSteps = map[OrderAction]func(*orderChange) error{
	ActAccept: (*orderChange).accept, ActStart: (*orderChange).start, ActSaveResult: (*orderChange).saveResult,
	ActSubmitResult: (*orderChange).saveResult, ActConfirm: (*orderChange).confirm, ActCancel: (*orderChange).cancel,
	ActUpdate: (*orderChange).update,
}

// need refuses the action unless the order is in one of states.
func (c *orderChange) need(states ...api.OrderStatus) error {
	if slices.Contains(states, c.o.Status) {
		return nil
	}
	return Errorf(api.CodeConflict, "order %s is %s; %s needs %v", c.o.ID, c.o.Status, c.act, states)
}

func (c *orderChange) onlyWorker() error {
	if !c.isWorker {
		return Errorf(api.CodeForbidden, "only the assigned worker may %s order %s", c.act, c.o.ID)
	}
	return nil
}

func (c *orderChange) accept() error {
	o := c.o
	if string(c.actor.Role) != string(o.JobRole) && !c.actor.Role.IsAdmin() {
		return Errorf(api.CodeForbidden, "only %s users accept %s order %s", o.JobRole, o.JobRole, o.ID)
	}
	if err := c.need(api.OrderOrdered); err != nil {
		return err
	}
	if o.WorkerID != nil {
		return Errorf(api.CodeConflict, "order %s already has a worker", o.ID)
	}
	id := c.actor.ID
	c.next.WorkerID, c.next.WorkerName = &id, c.actor.Name
	c.next.Status, c.next.AcceptedAt = api.OrderAccepted, &c.now
	c.next.WorkerResult = json.RawMessage(workerResultTemplates[o.JobRole])
	c.h.Action = "ACCEPTED"
	return nil
}

func (c *orderChange) start() error {
	if err := c.onlyWorker(); err != nil {
		return err
	}
	if err := c.need(api.OrderAccepted); err != nil {
		return err
	}
	c.next.Status, c.next.InProgressAt = api.OrderInProgress, &c.now
	c.h.Action = "STARTED"
	return nil
}

// saveResult saves the worker's result (save_result), and with submit_result also hands it in.
func (c *orderChange) saveResult() error {
	if err := c.onlyWorker(); err != nil {
		return err
	}
	states := []api.OrderStatus{api.OrderInProgress, api.OrderResultReady}
	if c.act == ActSubmitResult {
		states = states[:1]
	}
	if err := c.need(states...); err != nil {
		return err
	}
	if err := setResult(&c.next, c.in); err != nil {
		return err
	}
	c.h.Action = "RESULT_SAVED"
	if c.act == ActSubmitResult {
		c.next.Status, c.next.ResultReadyAt = api.OrderResultReady, &c.now
		c.h.Action = "SUBMITTED"
	}
	return nil
}

func (c *orderChange) confirm() error {
	o := c.o
	workerMayConfirm := c.isWorker && (o.JobRole == api.JobRIS || o.JobRole == api.JobLIS)
	if !c.isDoctor && !workerMayConfirm {
		return Errorf(api.CodeForbidden, "only the ordering doctor or the assigned RIS/LIS worker may confirm order %s", o.ID)
	}
	states := []api.OrderStatus{api.OrderResultReady}
	if workerMayConfirm {
		states = append(states, api.OrderInProgress)
	}
	if err := c.need(states...); err != nil {
		return err
	}
	if err := setResult(&c.next, OrderInput{WorkerResult: c.in.WorkerResult}); err != nil {
		return err
	}
	confirmed, err := withConfirmedFlag(c.next.WorkerResult)
	if err != nil {
		return err
	}
	result := true
	if c.in.Result != nil {
		result = *c.in.Result
	}
	c.next.WorkerResult, c.next.Result = confirmed, &result
	c.next.Status, c.next.ConfirmedAt = api.OrderConfirmed, &c.now
	c.h.Action = "CONFIRMED"
	return nil
}

// cancel cancels the order (its doctor) or gives it back to the queue (its worker).
func (c *orderChange) cancel() error {
	o := c.o
	if err := ValidateMultilineText("reason", c.in.Reason, 1, 500); err != nil {
		return err
	}
	switch {
	case c.isDoctor:
		if !Editable(o) {
			return Errorf(api.CodeConflict, "order %s is %s and can no longer be cancelled", o.ID, o.Status)
		}
		c.next.Status, c.next.CancelledAt, c.next.CancelReason = api.OrderCancelled, &c.now, c.in.Reason
		c.h.Action = "CANCELLED"
	case c.isWorker:
		if err := c.need(api.OrderAccepted, api.OrderInProgress); err != nil {
			return err
		}
		c.next.WorkerID, c.next.WorkerName = nil, ""
		c.next.Status, c.next.AcceptedAt, c.next.InProgressAt = api.OrderOrdered, nil, nil
		c.next.WorkerResult = nil
		c.h.Action = "GIVEN_BACK"
	default:
		return Errorf(api.CodeForbidden, "only the ordering doctor or the assigned worker may cancel order %s", o.ID)
	}
	c.h.Reason = c.in.Reason
	return nil
}

func (c *orderChange) update() error {
	o, in := c.o, c.in
	if !c.isDoctor {
		return Errorf(api.CodeForbidden, "only the ordering doctor may edit order %s", o.ID)
	}
	if !Editable(o) {
		return Errorf(api.CodeConflict, "order %s is %s and can no longer be edited", o.ID, o.Status)
	}
	if in.DoctorRequest == nil && in.Priority == nil {
		return Errorf(api.CodeInvalid, "nothing to update: give doctor_request or priority")
	}
	if in.DoctorRequest != nil {
		if err := validateObject("doctor_request", in.DoctorRequest); err != nil {
			return err
		}
		c.next.DoctorRequest = compactJSON(in.DoctorRequest)
	}
	if in.Priority != nil {
		if err := validatePriority(*in.Priority); err != nil {
			return err
		}
		c.next.Priority = *in.Priority
	}
	c.h.Action = "UPDATED"
	return nil
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
