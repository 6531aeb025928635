package httpapi

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// changes serves the change feed after ?cursor=N, filtered to what the caller sees.
func (s *Server) changes(c *call) error {
	cursor, err := c.queryInt("cursor", 0)
	if err != nil {
		return err
	}
	limit, err := c.queryInt("limit", 200)
	if err != nil {
		return err
	}
	list, more, err := s.Store.Changes(c.ctx, server.ScopeOf(c.p), cursor, int(limit))
	if err != nil {
		return err
	}
	page := api.ChangesPage{Changes: list, NextCursor: cursor, HasMore: more}
	if len(list) > 0 {
		page.NextCursor = list[len(list)-1].Seq
	}
	c.objectType, c.detail = "changes", fmt.Sprintf("cursor %d, %d changes", cursor, len(list))
	return c.json(http.StatusOK, page)
}

var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{8,128}$`)

// maxForwarded bounds one batch of forwarded audit events.
const maxForwarded = 500

// forwardAudit stores audit events recorded by a workstation, attributed to the caller; an event forwarded twice
// (same event_id) is stored once.
func (s *Server) forwardAudit(c *call) error {
	var batch api.AuditBatch
	if err := c.decode(&batch); err != nil {
		return err
	}
	if len(batch.Events) == 0 || len(batch.Events) > maxForwarded {
		return errorf(api.CodeInvalid, "events must hold 1 to %d events", maxForwarded)
	}
	now := time.Now().UTC()
	uid := c.p.UserID
	recs := make([]server.AuditRecord, 0, len(batch.Events))
	for i, e := range batch.Events {
		switch {
		case !eventIDPattern.MatchString(e.EventID):
			return errorf(api.CodeInvalid, "events[%d].event_id %q must be 8 to 128 characters of letters, digits and _.:-", i, e.EventID)
		case e.Action == "" || len(e.Action) > 64:
			return errorf(api.CodeInvalid, "events[%d].action must be 1 to 64 characters", i)
		case !slices.Contains([]string{api.OutcomeSuccess, api.OutcomeDenied, api.OutcomeFailure}, e.Outcome):
			return errorf(api.CodeInvalid, "events[%d].outcome %q must be SUCCESS, DENIED or FAILURE", i, e.Outcome)
		case e.OccurredAt.IsZero() || e.OccurredAt.After(now.Add(5*time.Minute)):
			return errorf(api.CodeInvalid, "events[%d].occurred_at is missing or in the future", i)
		case len(e.ObjectType) > 64 || len(e.ObjectID) > 128 || len(e.Detail) > 2000:
			return errorf(api.CodeInvalid, "events[%d] has an overlong object_type, object_id or detail", i)
		}
		at := e.OccurredAt.UTC()
		recs = append(recs, server.AuditRecord{At: now, UserID: &uid, LoginID: c.p.LoginID, Role: c.p.Role, Action: e.Action,
			ObjectType: e.ObjectType, ObjectID: e.ObjectID, PatientID: e.PatientID, Outcome: e.Outcome, ClientAddr: c.p.ClientAddr,
			Detail: e.Detail, Source: "workstation", EventID: e.EventID, OccurredAt: &at})
	}
	stored, err := s.Store.AppendAudit(c.ctx, recs)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, api.AuditBatchResult{Stored: stored, Duplicates: len(recs) - stored})
}

// queryAudit answers audit records, newest first, after storing those still queued.
func (s *Server) queryAudit(c *call) error {
	if err := s.audit.flush(c.ctx); err != nil {
		return err
	}
	q := c.r.URL.Query()
	var f server.AuditFilter
	var err error
	for name, dst := range map[string]*int64{"user_id": &f.UserID, "patient_id": &f.PatientID, "before": &f.Before} {
		if *dst, err = c.queryInt(name, 0); err != nil {
			return err
		}
	}
	limit, err := c.queryInt("limit", 100)
	if err != nil {
		return err
	}
	f.Limit = int(min(max(limit, 1), 1000))
	if f.Since, err = c.queryTime("since"); err != nil {
		return err
	}
	if f.Until, err = c.queryTime("until"); err != nil {
		return err
	}
	f.Action, f.ObjectID = q.Get("action"), q.Get("object_id")
	recs, err := s.Store.QueryAudit(c.ctx, f)
	if err != nil {
		return err
	}
	page := api.AuditPage{Records: recs}
	if len(recs) == f.Limit {
		page.NextCursor = recs[len(recs)-1].ID
	}
	return c.json(http.StatusOK, page)
}
