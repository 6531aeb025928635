package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

func (s *Server) listOrders(c *call) error {
	q := c.r.URL.Query()
	f := server.OrderFilter{Status: api.OrderStatus(q.Get("status")), JobRole: api.JobRole(q.Get("job_role")), Unassigned: q.Get("unassigned") == "true"}
	var err error
	for name, dst := range map[string]*int64{"patient_id": &f.PatientID, "doctor_id": &f.DoctorID, "worker_id": &f.WorkerID} {
		if *dst, err = c.queryInt(name, 0); err != nil {
			return err
		}
	}
	limit, err := c.queryInt("limit", 100)
	if err != nil {
		return err
	}
	f.Limit = int(limit)
	c.about("order", "", f.PatientID)
	list, err := s.Store.ListOrders(c.ctx, server.ScopeOf(c.p), f)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list)
}

func (s *Server) createOrder(c *call) error {
	var req api.CreateOrderRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.about("order", "", req.PatientID)
	p, err := s.Store.Patient(c.ctx, req.PatientID)
	if server.IsCode(err, api.CodeNotFound) {
		return errorf(api.CodeInvalid, "patient %d does not exist", req.PatientID)
	}
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	actor := server.ActorOf(c.p)
	o, err := server.NewOrder(req, p, actor, now)
	if err != nil {
		return err
	}
	c.expect(http.StatusCreated)
	c.txAudit.Event(func() *server.Event {
		e := orderEvent(api.EventOrderCreated, o, p, "", fmt.Sprintf("%s %s order for %s", o.JobRole, o.JobType, o.PatientName))
		return &e
	})
	if err := s.Store.CreateOrder(c.ctx, o, server.CreatedHistory(o, actor, now)); err != nil {
		return err
	}
	c.objectID = o.ID
	return c.json(http.StatusCreated, o)
}

// visibleOrder loads the order of the path's {id} and checks that the caller sees it.
func (s *Server) visibleOrder(c *call) (*server.Order, server.PatientOwnership, error) {
	id := c.r.PathValue("id")
	c.about("order", id, 0)
	o, err := s.Store.Order(c.ctx, id)
	if err != nil {
		return nil, server.PatientOwnership{}, err
	}
	c.about("order", id, o.PatientID)
	owner, err := s.Store.PatientOwnership(c.ctx, o.PatientID)
	if err != nil {
		return nil, owner, err
	}
	if !server.ScopeOf(c.p).SeesOrder(o, owner) {
		return nil, owner, errorf(api.CodeForbidden, "order %s is not visible to you", id)
	}
	return o, owner, nil
}

func (s *Server) getOrder(c *call) error {
	o, _, err := s.visibleOrder(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, o)
}

func (s *Server) updateOrder(c *call) error {
	var req api.UpdateOrderRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	return s.applyOrder(c, server.ActUpdate, server.OrderInput{DoctorRequest: req.DoctorRequest, Priority: req.Priority})
}

// orderAction serves one state-machine action.
func (s *Server) orderAction(act server.OrderAction) func(*call) error {
	return func(c *call) error {
		var in server.OrderInput
		switch act {
		case server.ActSaveResult, server.ActSubmitResult:
			var req api.OrderResultRequest
			if err := c.decodeOptional(&req); err != nil {
				return err
			}
			in.WorkerResult, in.Attachments = req.WorkerResult, req.Attachments
		case server.ActConfirm:
			var req api.ConfirmOrderRequest
			if err := c.decodeOptional(&req); err != nil {
				return err
			}
			in.Result, in.WorkerResult = req.Result, req.WorkerResult
		case server.ActCancel:
			var req api.CancelOrderRequest
			if err := c.decode(&req); err != nil {
				return err
			}
			in.Reason = req.Reason
		}
		return s.applyOrder(c, act, in)
	}
}

// applyOrder runs an action under the store's write lock; a refused action changes nothing.
func (s *Server) applyOrder(c *call, act server.OrderAction, in server.OrderInput) error {
	if _, _, err := s.visibleOrder(c); err != nil {
		return err
	}
	actor := server.ActorOf(c.p)
	var from api.OrderStatus
	var changed *server.Order
	if act != server.ActUpdate && act != server.ActSaveResult {
		c.txAudit.Event(func() *server.Event { return s.orderChangeEvent(c, act, from, changed) })
	}
	key := c.r.Header.Get("Idempotency-Key")
	if key != "" {
		if err := server.ValidateIdempotencyKey(key); err != nil {
			return err
		}
	}
	o, err := s.Store.UpdateOrder(c.ctx, c.r.PathValue("id"), key, func(o *server.Order) (server.OrderHistory, error) {
		from, changed = o.Status, o
		h, err := server.ApplyOrderAction(o, act, actor, in, time.Now().UTC())
		c.detail = fmt.Sprintf("%s: %s -> %s", act, from, o.Status) // in the record committed with the change
		return h, err
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, o)
}

func orderEvent(typ string, o *server.Order, p *server.Patient, from api.OrderStatus, msg string) server.Event {
	return server.Event{
		Notification: api.Notification{Type: typ, At: time.Now().UTC(), OrderID: o.ID, PatientID: o.PatientID, JobRole: o.JobRole,
			FromStatus: from, ToStatus: o.Status, Message: msg},
		Audience: server.Audience{Owner: server.OwnershipOf(p), JobRole: o.JobRole, DoctorID: o.DoctorID, WorkerID: o.WorkerID},
	}
}

// orderChangeEvent is the notification of an order's action, built in the write's transaction; nil when the
// order's patient cannot be read (the change itself stands, and the feed carries it).
func (s *Server) orderChangeEvent(c *call, act server.OrderAction, from api.OrderStatus, o *server.Order) *server.Event {
	p, err := s.Store.Patient(c.ctx, o.PatientID)
	if err != nil {
		s.log.Error("order event not published", "order", o.ID, "err", err)
		return nil
	}
	typ := api.EventOrderStatusChanged
	if o.Status == api.OrderCancelled {
		typ = api.EventOrderCancelled
	}
	e := orderEvent(typ, o, p, from, fmt.Sprintf("order %s: %s by %s", o.ID, act, c.p.Name))
	return &e
}
