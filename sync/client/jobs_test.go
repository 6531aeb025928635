package client

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
)

// TestJobQueue drives the server's job queue through the client against a real server, Redis and Orthanc:
// a doctor submits an M1 run, a RIS worker claims it (the doctor sees it running), fails it for a retry,
// claims it again under a new lease and renews it (the old lease is refused), completes it once with its
// result (a second complete is refused, the result is stored once as the doctor's with the job's ID); a claim
// with nothing queued answers nil after its wait; a job failed on every delivery ends in the dead letters.
func TestJobQueue(t *testing.T) {
	testsvc.RequireStack(t)
	s, err := testsvc.StartStack(testsvc.StackOptions{Demo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	login := func(user string) *Client {
		c, err := New(s.URL, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Login(ctx, user, s.Accounts[user]); err != nil {
			t.Fatal(err)
		}
		return c
	}
	doctor, worker, admin := login("doctor1"), login("ris1"), login("admin1")
	ps, err := doctor.Patients(ctx, "Demo Phantom", 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("the demo patient: %+v %v", ps, err)
	}
	patient := ps[0].ID

	if _, err := doctor.SubmitJob(ctx, api.JobRequest{Model: "X9", PatientID: patient}); StatusOf(err) != http.StatusBadRequest {
		t.Errorf("a job of an unknown model: %v, want 400", err)
	}
	j, err := doctor.SubmitJob(ctx, api.JobRequest{Model: api.ModelM1, PatientID: patient, StudyUID: "1.2.3.4"})
	if err != nil || j.ID == "" || j.Status != api.JobQueued {
		t.Fatalf("submit: %+v %v", j, err)
	}
	first, err := worker.ClaimJob(ctx, []string{api.ModelM1}, 5*time.Second)
	if err != nil || first == nil || first.ID != j.ID || first.Lease == "" || first.Attempts != 1 || first.StudyUID != "1.2.3.4" {
		t.Fatalf("claim: %+v %v", first, err)
	}
	if got, err := doctor.Job(ctx, j.ID); err != nil || got.Status != api.JobRunning || got.ClaimedBy == nil {
		t.Errorf("the submitter sees %+v %v, want it running and claimed", got, err)
	}
	if got, err := worker.FailJob(ctx, j.ID, first.Lease, "the study could not be pulled", true); err != nil || got.Status != api.JobQueued {
		t.Fatalf("fail for a retry: %+v %v", got, err)
	}
	second, err := worker.ClaimJob(ctx, []string{api.ModelM1}, 5*time.Second)
	if err != nil || second == nil || second.ID != j.ID || second.Attempts != 2 || second.Lease == first.Lease {
		t.Fatalf("claim after the retry: %+v %v", second, err)
	}
	if second.LeaseExpiresAt == nil || !second.LeaseExpiresAt.After(time.Now()) {
		t.Errorf("the claim's lease runs out at %v", second.LeaseExpiresAt)
	}
	if r, err := worker.RenewJob(ctx, j.ID, second.Lease); err != nil || r.LeaseExpiresAt == nil || r.LeaseExpiresAt.Before(*second.LeaseExpiresAt) {
		t.Errorf("renew: %+v %v", r, err)
	}
	if _, err := worker.RenewJob(ctx, j.ID, first.Lease); StatusOf(err) != http.StatusConflict {
		t.Errorf("renew the lost lease: %v, want 409", err)
	}
	result := api.AIResultUpload{Model: api.ModelM1, ModelVersion: "test-1", PatientID: patient, StudyUID: "1.2.3.4",
		Result: json.RawMessage(`{"volumes_ml":{"ET":1.5}}`)}
	if _, err := worker.CompleteJob(ctx, j.ID, first.Lease, result); StatusOf(err) != http.StatusConflict {
		t.Errorf("complete under the expired lease: %v, want 409", err)
	}
	wrong := result
	wrong.Model = api.ModelMG
	if _, err := worker.CompleteJob(ctx, j.ID, second.Lease, wrong); StatusOf(err) != http.StatusBadRequest {
		t.Errorf("complete with another model's result: %v, want 400", err)
	}
	done, err := worker.CompleteJob(ctx, j.ID, second.Lease, result)
	if err != nil || done.Status != api.JobDone || done.ResultID == "" {
		t.Fatalf("complete: %+v %v", done, err)
	}
	if _, err := worker.CompleteJob(ctx, j.ID, second.Lease, result); StatusOf(err) != http.StatusConflict {
		t.Errorf("a second complete: %v, want 409", err)
	}
	r, err := doctor.AIResult(ctx, done.ResultID)
	if err != nil || r.JobID != j.ID || r.ModelVersion != "test-1" {
		t.Fatalf("the job's result: %+v %v", r, err)
	}
	rs, err := doctor.AIResults(ctx, patient, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range rs {
		if x.JobID == j.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the patient has %d results of job %s, want 1", n, j.ID)
	}

	start := time.Now()
	if none, err := worker.ClaimJob(ctx, []string{api.ModelM1, api.ModelMG}, 300*time.Millisecond); err != nil || none != nil {
		t.Errorf("claim with nothing queued: %+v %v", none, err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("the claim answered after %v, before its wait", d)
	}

	dead, err := doctor.SubmitJob(ctx, api.JobRequest{Model: api.ModelMG, PatientID: patient})
	if err != nil {
		t.Fatal(err)
	}
	var last *api.Job
	for i := 0; i < 3; i++ {
		c, err := worker.ClaimJob(ctx, []string{api.ModelMG}, 5*time.Second)
		if err != nil || c == nil || c.ID != dead.ID {
			t.Fatalf("claim %d: %+v %v", i+1, c, err)
		}
		if last, err = worker.FailJob(ctx, c.ID, c.Lease, "no gene CSV", true); err != nil {
			t.Fatal(err)
		}
	}
	if last.Status != api.JobFailed {
		t.Errorf("after 3 failed deliveries the job is %s, want failed", last.Status)
	}
	if _, err := doctor.DeadJobs(ctx, 10); StatusOf(err) != http.StatusForbidden {
		t.Errorf("a doctor read the dead letters: %v, want 403", err)
	}
	letters, err := admin.DeadJobs(ctx, 10)
	if err != nil || len(letters) != 1 || letters[0].ID != dead.ID {
		t.Errorf("dead letters: %+v %v, want job %s", letters, err, dead.ID)
	}
}
