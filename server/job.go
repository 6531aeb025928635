package server

import (
	"time"

	"github.com/neuronova/neuronova/api"
)

// NewJob makes the queued job of a request by userID, with a new ID.
func NewJob(req api.JobRequest, userID int64, id string, now time.Time) (*api.Job, error) {
	if !ValidModel(req.Model) {
		return nil, Errorf(api.CodeInvalid, "model %q must be M1, MG or MM", req.Model)
	}
	return &api.Job{ID: id, Model: req.Model, Status: api.JobQueued, PatientID: req.PatientID, OrderID: req.OrderID,
		StudyUID: req.StudyUID, Inputs: req.Inputs, SubmittedBy: userID, SubmittedAt: now.UTC()}, nil
}

// JobEnded reports whether a job's status is final.
func JobEnded(status string) bool { return status == api.JobDone || status == api.JobFailed }
