package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// TestJobQueueThroughTheAPI: a nurse's workstation without a GPU submits model runs; a GPU worker claims them,
// fails one attempt (queued again), renews the lease of the next (a stale lease cannot be renewed) and
// completes it with a result stored under the submitter, and a job that keeps failing ends in the dead
// letters. The submitter hears of each finished job on its WebSocket; a worker quoting a stale lease is
// refused; other users cannot read the job.
func TestJobQueueThroughTheAPI(t *testing.T) {
	e := newEnv(t, envOptions{rate: 1e6, burst: 1e6, maxDeliveries: 2})
	p := e.patient(nil, nil)
	nurse, worker := e.users[api.RoleNurse], e.users[api.RoleRIS]
	nurseWS, lisWS := e.listen(t, nurse), e.listen(t, e.users[api.RoleLIS])

	var job api.Job
	e.mustDo(http.StatusCreated, "POST", "/api/jobs/", nurse.token, api.JobRequest{Model: api.ModelM1, PatientID: p.ID,
		Inputs: json.RawMessage(`{"series":["T1","T1CE","T2","FLAIR"]}`)}, &job)
	if job.Status != api.JobQueued || job.SubmittedBy != nurse.ID {
		t.Fatalf("submitted job: %+v", job)
	}
	claim := func(model string) api.Job {
		t.Helper()
		var j api.Job
		e.mustDo(http.StatusOK, "POST", "/api/jobs/claim/", worker.token, api.ClaimRequest{Models: []string{model}, WaitMillis: 5000}, &j)
		return j
	}
	first := claim(api.ModelM1)
	if first.ID != job.ID || first.Attempts != 1 || first.Lease == "" || string(first.Inputs) != `{"series":["T1","T1CE","T2","FLAIR"]}` {
		t.Fatalf("first claim: %+v", first)
	}
	var retried api.Job
	e.mustDo(http.StatusOK, "POST", "/api/jobs/"+job.ID+"/fail/", worker.token, api.FailJobRequest{Lease: first.Lease, Error: "CUDA out of memory", Retry: true}, &retried)
	if retried.Status != api.JobQueued {
		t.Fatalf("after a retryable failure: %+v", retried)
	}
	second := claim(api.ModelM1)
	if second.ID != job.ID || second.Attempts != 2 || second.Lease == first.Lease {
		t.Fatalf("second claim: %+v", second)
	}
	var renewed api.Job
	e.mustDo(http.StatusOK, "POST", "/api/jobs/"+job.ID+"/renew/", worker.token, api.RenewJobRequest{Lease: second.Lease}, &renewed)
	if renewed.Lease != second.Lease || renewed.LeaseExpiresAt == nil || !renewed.LeaseExpiresAt.After(*second.LeaseExpiresAt) {
		t.Fatalf("renewed %+v after the claim %+v", renewed, second)
	}
	if resp, body := e.do("POST", "/api/jobs/"+job.ID+"/renew/", worker.token, api.RenewJobRequest{Lease: first.Lease}, nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("renew a stale lease: %s %s", resp.Status, body)
	}
	up := resultUpload(p.ID, "")
	resp, body := e.do("POST", "/api/jobs/"+job.ID+"/complete/", worker.token, api.CompleteJobRequest{Lease: first.Lease, Result: up}, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("complete with a stale lease: %s %s", resp.Status, body)
	}
	var done api.Job
	e.mustDo(http.StatusOK, "POST", "/api/jobs/"+job.ID+"/complete/", worker.token, api.CompleteJobRequest{Lease: second.Lease, Result: up}, &done)
	if done.Status != api.JobDone || done.ResultID == "" {
		t.Fatalf("completed job: %+v", done)
	}
	var seen api.Job
	e.mustDo(http.StatusOK, "GET", "/api/jobs/"+job.ID+"/", nurse.token, nil, &seen)
	if seen.Status != api.JobDone || seen.ResultID != done.ResultID {
		t.Fatalf("the submitter sees %+v", seen)
	}
	if resp, _ := e.do("GET", "/api/jobs/"+job.ID+"/", e.users[api.RoleDoctor].token, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another user reads the job: %s", resp.Status)
	}
	var r server.AIResult
	e.mustDo(http.StatusOK, "GET", "/api/ai/results/"+done.ResultID+"/", nurse.token, nil, &r)
	if r.JobID != job.ID || r.CreatedBy != nurse.ID || r.PatientID != p.ID || r.Model != api.ModelM1 {
		t.Fatalf("stored result: %+v", r)
	}

	// A job that fails on every delivery ends in the dead letters.
	var doomed api.Job
	e.mustDo(http.StatusCreated, "POST", "/api/jobs/", nurse.token, api.JobRequest{Model: api.ModelMG, PatientID: p.ID}, &doomed)
	for attempt := 1; attempt <= 2; attempt++ {
		c := claim(api.ModelMG)
		var f api.Job
		e.mustDo(http.StatusOK, "POST", "/api/jobs/"+doomed.ID+"/fail/", worker.token, api.FailJobRequest{Lease: c.Lease, Error: "no Hugo_Symbol column", Retry: true}, &f)
		if want := map[int]string{1: api.JobQueued, 2: api.JobFailed}[attempt]; f.Status != want {
			t.Fatalf("after failure %d: %s, want %s", attempt, f.Status, want)
		}
	}
	var dead []api.Job
	e.mustDo(http.StatusOK, "GET", "/api/jobs/dead/", e.users[api.RoleAdmin].token, nil, &dead)
	if len(dead) != 1 || dead[0].ID != doomed.ID || !strings.Contains(dead[0].Error, "dead letters") {
		t.Fatalf("dead letters: %+v", dead)
	}
	for range 3 {
		if resp, body := e.do("POST", "/api/jobs/claim/", worker.token, api.ClaimRequest{Models: []string{api.ModelM1, api.ModelMG, api.ModelMM}}, nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("claim from an empty queue: %s %s", resp.Status, body)
		}
	}
	if resp, _ := e.do("POST", "/api/jobs/claim/", nurse.token, api.ClaimRequest{Models: []string{api.ModelM1}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a nurse claims a job: %s", resp.Status)
	}
	// Each claim that handed a job out is recorded, and the refused one; the polls of the empty queue are not.
	claims := map[int]int{}
	for _, r := range e.audit(server.AuditFilter{Action: "job.claim"}) {
		claims[r.Status]++
	}
	if len(claims) != 2 || claims[http.StatusOK] != 4 || claims[http.StatusForbidden] != 1 {
		t.Fatalf("job.claim records by status: %v, want 4 × 200 and 1 × 403", claims)
	}

	sentinel := "sentinel-" + auth.RandomHex(6)
	if err := e.publishLast(server.Event{Notification: api.Notification{Type: api.EventJobFinished, Message: sentinel},
		Audience: server.Audience{UserIDs: []int64{nurse.ID, e.users[api.RoleLIS].ID}}}); err != nil {
		t.Fatal(err)
	}
	nurseWS.until(t, sentinel)
	lisWS.until(t, sentinel)
	finished := map[string]string{}
	for _, n := range nurseWS.got {
		if n.Type == api.EventJobFinished {
			finished[n.JobID] = n.Message
		}
	}
	if len(finished) != 2 || !strings.HasSuffix(finished[job.ID], "done") || !strings.HasSuffix(finished[doomed.ID], "failed") {
		t.Fatalf("the submitter heard %v", nurseWS.got)
	}
	if len(lisWS.got) != 0 {
		t.Fatalf("the LIS user heard of jobs that are not theirs: %v", lisWS.got)
	}
}
