package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// checkAITarget checks that the caller sees the patient of an AI request and may run AI on its order.
func (s *Server) checkAITarget(c *call, patientID int64, orderID string) error {
	if patientID <= 0 {
		return errorf(api.CodeInvalid, "patient_id is required")
	}
	owner, err := s.Store.PatientOwnership(c.ctx, patientID)
	if server.IsCode(err, api.CodeNotFound) {
		return errorf(api.CodeInvalid, "patient %d does not exist", patientID)
	}
	if err != nil {
		return err
	}
	if !server.ScopeOf(c.p).SeesAIResult(owner) {
		return errorf(api.CodeForbidden, "patient %d is not one of your patients", patientID)
	}
	if orderID == "" {
		return nil
	}
	o, err := s.Store.Order(c.ctx, orderID)
	if server.IsCode(err, api.CodeNotFound) {
		return errorf(api.CodeInvalid, "order %q does not exist", orderID)
	}
	if err != nil {
		return err
	}
	if o.PatientID != patientID {
		return errorf(api.CodeInvalid, "order %s is not an order of patient %d", orderID, patientID)
	}
	return server.CanRequestAI(c.p, o)
}

// uploadResult stores an AI result computed on a workstation. The Idempotency-Key header makes retries safe:
// the same key with the same content answers the stored result (200), with other content a conflict.
func (s *Server) uploadResult(c *call) error {
	key := c.r.Header.Get("Idempotency-Key")
	if err := server.ValidateIdempotencyKey(key); err != nil {
		return err
	}
	var up api.AIResultUpload
	if err := c.decode(&up); err != nil {
		return err
	}
	c.about("ai_result", "", up.PatientID)
	r, hash, err := server.NewAIResult(up, c.p.UserID, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := s.checkAITarget(c, up.PatientID, up.OrderID); err != nil {
		return err
	}
	c.expect(http.StatusCreated)
	c.txAudit.Event(func() *server.Event { return s.resultEvent(c, api.EventAIResult, r, []int64{c.p.UserID}) })
	stored, created, err := s.Store.CreateAIResult(c.ctx, r, key, hash)
	if err != nil {
		return err
	}
	c.objectID = stored.ID
	if !created {
		c.detail = "idempotent replay of " + key
		c.header.Set("Idempotent-Replayed", "true")
		return c.json(http.StatusOK, stored)
	}
	return c.json(http.StatusCreated, stored)
}

// resultEvent is the notification of a stored or reviewed result to the users entitled to it, built in the
// write's transaction; nil when the result's patient cannot be read (the feed carries the result anyway).
func (s *Server) resultEvent(c *call, typ string, r *server.AIResult, requesters []int64) *server.Event {
	owner, err := s.Store.PatientOwnership(c.ctx, r.PatientID)
	if err != nil {
		s.log.Error("AI result event not published", "result", r.ID, "err", err)
		return nil
	}
	aud := server.Audience{Owner: owner, UserIDs: append(requesters, r.CreatedBy)}
	if r.OrderID != "" {
		if o, err := s.Store.Order(c.ctx, r.OrderID); err == nil {
			aud.DoctorID, aud.WorkerID, aud.JobRole = o.DoctorID, o.WorkerID, o.JobRole
		}
	}
	return &server.Event{Notification: api.Notification{Type: typ, At: time.Now().UTC(), PatientID: r.PatientID,
		OrderID: r.OrderID, ResultID: r.ID, JobID: r.JobID, Model: r.Model,
		Message: fmt.Sprintf("%s result %s: %s", r.Model, r.ID, r.ReviewStatus)}, Audience: aud}
}

func (s *Server) listResults(c *call) error {
	q := c.r.URL.Query()
	patientID, err := c.queryInt("patient_id", 0)
	if err != nil {
		return err
	}
	limit, err := c.queryInt("limit", 50)
	if err != nil {
		return err
	}
	c.about("ai_result", "", patientID)
	list, err := s.Store.ListAIResults(c.ctx, server.ScopeOf(c.p), server.AIResultFilter{PatientID: patientID,
		OrderID: q.Get("order_id"), Model: q.Get("model"), Limit: int(limit)})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list)
}

func (s *Server) visibleResult(c *call) (*server.AIResult, error) {
	id := c.r.PathValue("id")
	c.about("ai_result", id, 0)
	r, err := s.Store.AIResult(c.ctx, id)
	if err != nil {
		return nil, err
	}
	c.about("ai_result", id, r.PatientID)
	owner, err := s.Store.PatientOwnership(c.ctx, r.PatientID)
	if err != nil {
		return nil, err
	}
	if !server.ScopeOf(c.p).SeesAIResult(owner) {
		return nil, errorf(api.CodeForbidden, "AI result %s is not visible to you", id)
	}
	return r, nil
}

func (s *Server) getResult(c *call) error {
	r, err := s.visibleResult(c)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, r)
}

// reviewResult records a doctor's approval or rejection.
func (s *Server) reviewResult(c *call) error {
	var req api.ReviewRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if _, err := s.visibleResult(c); err != nil {
		return err
	}
	var reviewed *server.AIResult
	c.txAudit.Event(func() *server.Event { return s.resultEvent(c, api.EventAIReviewed, reviewed, nil) })
	r, err := s.Store.UpdateAIResult(c.ctx, c.r.PathValue("id"), func(r *server.AIResult) error {
		err := server.ApplyReview(r, req, c.p, time.Now().UTC())
		c.detail, reviewed = "review "+r.ReviewStatus, r
		return err
	})
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, r)
}

// withdrawResult takes back a result an administrator judges bad (a poisoned or mistaken upload): it stays
// stored, leaves the lists, and workstations receive the withdrawal instead of its content.
func (s *Server) withdrawResult(c *call) error {
	var req api.WithdrawRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if err := server.ValidateText("reason", req.Reason, 1, 2000); err != nil {
		return err
	}
	id := c.r.PathValue("id")
	c.about("ai_result", id, 0)
	r, err := s.Store.WithdrawAIResult(c.ctx, id, c.p.UserID, req.Reason, time.Now().UTC())
	if err != nil {
		return err
	}
	c.about("ai_result", id, r.PatientID)
	c.detail = "withdrawn: " + req.Reason
	return c.json(http.StatusOK, r)
}
