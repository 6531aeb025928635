package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// maxClaimWait bounds how long a claim waits for a job.
const maxClaimWait = 20 * time.Second

// submitJob queues a model run for a worker with a GPU; the same ownership rules as a direct run apply.
func (s *Server) submitJob(c *call) error {
	var req api.JobRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	c.about("job", "", req.PatientID)
	j, err := server.NewJob(req, c.p.UserID, auth.RandomHex(12), time.Now())
	if err != nil {
		return err
	}
	if err := s.checkAITarget(c, req.PatientID, req.OrderID); err != nil {
		return err
	}
	// The database keeps the job (with its audit record); Redis delivers it. Should Redis not take it now, the
	// reconciler queues it within ReconcileEvery: the job is not lost, so the answer is still 201.
	c.expect(http.StatusCreated)
	if err := s.Store.CreateJob(c.ctx, j); err != nil {
		return err
	}
	if err := s.Jobs.Submit(c.ctx, j); err != nil {
		s.log.Warn("job stored but not queued yet; the reconciler will queue it", "job", j.ID, "err", err)
	}
	return c.json(http.StatusCreated, j)
}

// claimJob hands the next job to a worker, or answers 204 when none came within wait_ms.
func (s *Server) claimJob(c *call) error {
	var req api.ClaimRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	wait := time.Duration(req.WaitMillis) * time.Millisecond
	if wait < 0 || wait > maxClaimWait {
		return errorf(api.CodeInvalid, "wait_ms must be 0 to %d", maxClaimWait.Milliseconds())
	}
	c.objectType = "job"
	j, err := s.Jobs.Claim(c.ctx, req.Models, c.p.UserID, wait)
	if err != nil {
		return err
	}
	if j == nil {
		c.reachedNone = true // a worker polls all day: an empty queue leaves no record
		return c.noContent()
	}
	c.about("job", j.ID, j.PatientID)
	c.detail = fmt.Sprintf("attempt %d", j.Attempts)
	return c.json(http.StatusOK, j)
}

// getJob answers a job to its submitter, the worker holding it and administrators.
func (s *Server) getJob(c *call) error {
	id := c.r.PathValue("id")
	c.about("job", id, 0)
	j, err := s.Jobs.Job(c.ctx, id)
	if server.IsCode(err, api.CodeNotFound) {
		j, err = s.Store.Job(c.ctx, id) // Redis lost it, or it ended long ago: the database has it
	}
	if err != nil {
		return err
	}
	c.about("job", id, j.PatientID)
	if !c.p.Role.IsAdmin() && j.SubmittedBy != c.p.UserID && (j.ClaimedBy == nil || *j.ClaimedBy != c.p.UserID) {
		return errorf(api.CodeForbidden, "job %s is neither yours nor claimed by you", id)
	}
	return c.json(http.StatusOK, j)
}

// renewJob extends the lease of a job its worker is still running.
func (s *Server) renewJob(c *call) error {
	id := c.r.PathValue("id")
	c.about("job", id, 0)
	var req api.RenewJobRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	j, err := s.Jobs.Renew(c.ctx, id, req.Lease, c.p.UserID)
	if err != nil {
		return err
	}
	c.about("job", id, j.PatientID)
	return c.json(http.StatusOK, j)
}

// completeJob stores the job's result once (the job's ID is its Idempotency-Key, under its submitter) and
// marks the job done.
func (s *Server) completeJob(c *call) error {
	id := c.r.PathValue("id")
	c.about("job", id, 0)
	var req api.CompleteJobRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	j, err := s.Jobs.Holds(c.ctx, id, req.Lease, c.p.UserID)
	if err != nil {
		return err
	}
	c.about("job", id, j.PatientID)
	up := req.Result
	if up.Model != j.Model || up.PatientID != j.PatientID || up.OrderID != j.OrderID {
		return errorf(api.CodeInvalid, "result is for %s/patient %d/order %q but job %s is %s/patient %d/order %q",
			up.Model, up.PatientID, up.OrderID, id, j.Model, j.PatientID, j.OrderID)
	}
	r, hash, err := server.NewAIResult(up, j.SubmittedBy, time.Now().UTC())
	if err != nil {
		return err
	}
	r.JobID = j.ID
	c.txAudit.Event(func() *server.Event {
		return s.resultEvent(c, api.EventAIResult, r, []int64{j.SubmittedBy, c.p.UserID})
	})
	c.txAudit.Event(func() *server.Event {
		finished := *j
		finished.Status, finished.ResultID = api.JobDone, r.ID
		return jobEvent(&finished)
	})
	stored, _, err := s.Store.CreateAIResult(c.ctx, r, "job:"+j.ID, hash)
	if err != nil {
		return err
	}
	done, err := s.Jobs.Complete(c.ctx, id, req.Lease, c.p.UserID, stored.ID)
	if err != nil {
		return err
	}
	c.detail = "result " + stored.ID
	return c.json(http.StatusOK, done)
}

// failJob records a failed run; with retry the job goes back to the queue until its deliveries are used up.
func (s *Server) failJob(c *call) error {
	id := c.r.PathValue("id")
	c.about("job", id, 0)
	var req api.FailJobRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	j, err := s.Jobs.Fail(c.ctx, id, req.Lease, c.p.UserID, req.Error, req.Retry)
	if err != nil {
		return err
	}
	c.about("job", id, j.PatientID)
	c.detail = "now " + j.Status
	if j.Status == api.JobFailed {
		c.txAudit.Event(func() *server.Event { return jobEvent(j) })
		if err := s.Store.FinishJob(c.ctx, j, time.Now()); err != nil {
			return err
		}
	}
	return c.json(http.StatusOK, j)
}

// jobEvent is the notification of a job's end to its submitter.
func jobEvent(j *api.Job) *server.Event {
	return &server.Event{Notification: api.Notification{Type: api.EventJobFinished, At: time.Now().UTC(), JobID: j.ID,
		PatientID: j.PatientID, OrderID: j.OrderID, ResultID: j.ResultID, Model: j.Model, Message: "job " + j.ID + " " + j.Status},
		Audience: server.Audience{UserIDs: []int64{j.SubmittedBy}}}
}

func (s *Server) deadJobs(c *call) error {
	limit, err := c.queryInt("limit", 100)
	if err != nil {
		return err
	}
	c.objectType = "job"
	jobs, err := s.Jobs.Dead(c.ctx, int(limit))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, jobs)
}
