package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/httpapi"
	"github.com/neuronova/neuronova/server/orthanc"
)

// matrixFixture is the data every matrix case may use: a patient owned by the env's EXTERNAL and PATIENT users,
// with one study in Orthanc.
type matrixFixture struct {
	patient *server.Patient
	study   study
}

// matrixRequest is what one case sends for one user.
type matrixRequest struct {
	path   string // default: the route's path with its parameters filled from the fixture
	body   any
	header http.Header
	token  string // default: the user's token
}

// matrixCase builds a request that user u, whose role the route allows, is entitled to make.
type matrixCase func(e *env, f *matrixFixture, u *testUser) matrixRequest

// jobRoleOf is the job role of the orders a worker of role r handles (administrators take RIS orders).
func jobRoleOf(r api.Role) api.JobRole {
	if r == api.RoleLIS {
		return api.JobLIS
	}
	return api.JobRIS
}

// orders by u when u may order, else by the env's doctor.
func ordersAs(e *env, u *testUser) bool {
	return u.Role == api.RoleDoctor || u.Role.IsAdmin()
}

func idPath(format string, args ...any) matrixRequest {
	return matrixRequest{path: fmt.Sprintf(format, args...)}
}

var matrixCases = map[string]matrixCase{
	"POST /api/auth/logout/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{token: e.token(u)} // logout revokes it
	},
	"GET /api/auth/me/": nil,
	"POST /api/auth/change-password/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		other := e.newUser(u.Role) // changing a password revokes the account's tokens
		return matrixRequest{token: other.token, body: api.ChangePasswordRequest{OldPassword: other.password, NewPassword: "new-" + auth.RandomHex(8)}}
	},
	"GET /api/users/": nil,
	"POST /api/users/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: api.CreateUserRequest{LoginID: "made-" + auth.RandomHex(4), Name: "Made", Role: api.RoleNurse, Password: "long-password-1"}}
	},
	"PATCH /api/users/{id}/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		r := idPath("/api/users/%d/", e.newUser(api.RoleNurse).ID)
		r.body = map[string]string{"name": "Renamed"}
		return r
	},
	"POST /api/users/{id}/reset-password/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return idPath("/api/users/%d/reset-password/", e.newUser(api.RoleNurse).ID)
	},
	"POST /api/users/{id}/unlock/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return idPath("/api/users/%d/unlock/", e.newUser(api.RoleNurse).ID)
	},
	"GET /api/patients/": nil,
	"POST /api/patients/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: api.CreatePatientRequest{Name: "New Patient", BirthDate: "1990-01-01", Gender: "M"}}
	},
	"GET /api/patients/{id}/": nil,
	"PATCH /api/patients/{id}/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: map[string]string{"severity": "mild"}}
	},
	"GET /api/patients/{id}/studies/": nil,
	"GET /api/ocs/":                   nil,
	"POST /api/ocs/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: api.CreateOrderRequest{PatientID: f.patient.ID, JobRole: api.JobRIS, JobType: "MRI"}}
	},
	"GET /api/ocs/{id}/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return idPath("/api/ocs/%s/", e.order(f.patient, e.users[api.RoleDoctor], jobRoleOf(u.Role), nil).ID)
	},
	"PATCH /api/ocs/{id}/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		r := idPath("/api/ocs/%s/", e.order(f.patient, u, api.JobRIS, nil).ID)
		r.body = map[string]string{"priority": "urgent"}
		return r
	},
	"POST /api/ocs/{id}/accept/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return idPath("/api/ocs/%s/accept/", e.order(f.patient, e.users[api.RoleDoctor], jobRoleOf(u.Role), nil).ID)
	},
	"POST /api/ocs/{id}/start/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return idPath("/api/ocs/%s/start/", e.order(f.patient, e.users[api.RoleDoctor], jobRoleOf(u.Role), u, server.ActAccept).ID)
	},
	"POST /api/ocs/{id}/save_result/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		o := e.order(f.patient, e.users[api.RoleDoctor], jobRoleOf(u.Role), u, server.ActAccept, server.ActStart)
		r := idPath("/api/ocs/%s/save_result/", o.ID)
		r.body = map[string]any{"worker_result": map[string]string{"findings": "draft"}}
		return r
	},
	"POST /api/ocs/{id}/submit_result/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		o := e.order(f.patient, e.users[api.RoleDoctor], jobRoleOf(u.Role), u, server.ActAccept, server.ActStart)
		r := idPath("/api/ocs/%s/submit_result/", o.ID)
		r.body = map[string]any{"worker_result": map[string]string{"findings": "final"}}
		return r
	},
	"POST /api/ocs/{id}/confirm/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		if ordersAs(e, u) {
			o := e.order(f.patient, u, api.JobRIS, e.users[api.RoleRIS], server.ActAccept, server.ActStart, server.ActSubmitResult)
			return idPath("/api/ocs/%s/confirm/", o.ID)
		}
		o := e.order(f.patient, e.users[api.RoleDoctor], jobRoleOf(u.Role), u, server.ActAccept, server.ActStart)
		return idPath("/api/ocs/%s/confirm/", o.ID)
	},
	"POST /api/ocs/{id}/cancel/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		var r matrixRequest
		if ordersAs(e, u) {
			r = idPath("/api/ocs/%s/cancel/", e.order(f.patient, u, api.JobRIS, nil).ID)
		} else {
			r = idPath("/api/ocs/%s/cancel/", e.order(f.patient, e.users[api.RoleDoctor], jobRoleOf(u.Role), u, server.ActAccept).ID)
		}
		r.body = api.CancelOrderRequest{Reason: "matrix test"}
		return r
	},
	"POST /api/ai/results/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: resultUpload(f.patient.ID, ""), header: http.Header{"Idempotency-Key": {"matrix-" + auth.RandomHex(8)}}}
	},
	"GET /api/ai/results/": nil,
	"GET /api/ai/results/{id}/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return idPath("/api/ai/results/%s/", e.result(f.patient, e.users[api.RoleDoctor]).ID)
	},
	"POST /api/ai/results/{id}/withdraw/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		r := idPath("/api/ai/results/%s/withdraw/", e.result(f.patient, e.users[api.RoleDoctor]).ID)
		r.body = api.WithdrawRequest{Reason: "uploaded to the wrong patient"}
		return r
	},
	"POST /api/ai/results/{id}/review/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		r := idPath("/api/ai/results/%s/review/", e.result(f.patient, e.users[api.RoleDoctor]).ID)
		r.body = api.ReviewRequest{Status: api.ReviewApproved, Comment: "looks right"}
		return r
	},
	"GET /api/changes/": nil,
	"POST /api/audit/events/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: api.AuditBatch{Events: []api.ForwardedAuditEvent{{EventID: "ev-" + auth.RandomHex(8),
			OccurredAt: time.Now().Add(-time.Minute), Action: "viewer.open_series", ObjectType: "series", ObjectID: "1.2.3",
			Outcome: api.OutcomeSuccess}}}}
	},
	"GET /api/audit/": nil,
	"POST /api/jobs/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: api.JobRequest{Model: api.ModelM1, PatientID: f.patient.ID}}
	},
	"POST /api/jobs/claim/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		e.submitJob(f.patient, api.ModelM1, u)
		return matrixRequest{body: api.ClaimRequest{Models: []string{api.ModelM1}}}
	},
	"GET /api/jobs/dead/": nil,
	"GET /api/jobs/{id}/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return idPath("/api/jobs/%s/", e.submitJob(f.patient, api.ModelM1, u).ID)
	},
	"POST /api/jobs/{id}/renew/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		e.submitJob(f.patient, api.ModelM1, u)
		j := e.claimJob(api.ModelM1, u)
		r := idPath("/api/jobs/%s/renew/", j.ID)
		r.body = api.RenewJobRequest{Lease: j.Lease}
		return r
	},
	"POST /api/jobs/{id}/complete/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		e.submitJob(f.patient, api.ModelMG, u)
		j := e.claimJob(api.ModelMG, u)
		up := resultUpload(j.PatientID, j.OrderID)
		up.Model = j.Model
		r := idPath("/api/jobs/%s/complete/", j.ID)
		r.body = api.CompleteJobRequest{Lease: j.Lease, Result: up}
		return r
	},
	"POST /api/jobs/{id}/fail/": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		e.submitJob(f.patient, api.ModelMM, u)
		j := e.claimJob(api.ModelMM, u)
		r := idPath("/api/jobs/%s/fail/", j.ID)
		r.body = api.FailJobRequest{Lease: j.Lease, Error: "out of memory", Retry: false}
		return r
	},
	"GET /ws/notifications": nil, // served by dialling, see sendMatrix
	"POST /api/orthanc/instances/{id}/modify": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: map[string]string{"Transcode": orthanc.ExplicitVRLittleEndian}}
	},
	"POST /api/orthanc/tools/find": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: map[string]any{"Level": "Study", "Query": map[string]string{"PatientID": f.patient.Number}}}
	},
	"POST /api/orthanc/tools/lookup": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{body: []byte(f.study.inst.StudyUID)}
	},
	"POST /api/orthanc/instances": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		inst := f.study.inst
		inst.SOPUID, inst.InstanceNumber = testsvc.NewUID(), 2
		return matrixRequest{body: testsvc.DICOM(inst), header: http.Header{"Content-Type": {"application/dicom"}}}
	},
	"GET /api/orthanc/dicom-web/studies": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		return matrixRequest{path: "/api/orthanc/dicom-web/studies?PatientID=" + f.patient.Number}
	},
	"POST /api/orthanc/dicom-web/studies": func(e *env, f *matrixFixture, u *testUser) matrixRequest {
		inst := f.study.inst
		inst.SOPUID, inst.InstanceNumber = testsvc.NewUID(), 3
		body, ctype := stowBody(e.t, testsvc.DICOM(inst))
		return matrixRequest{body: body, header: http.Header{"Content-Type": {ctype}, "Accept": {"application/dicom+json"}}}
	},
}

// stowBody wraps DICOM files in a multipart/related body for STOW-RS.
func stowBody(t testing.TB, files ...[]byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/dicom"}})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f)
	}
	mw.Close()
	return buf.Bytes(), `multipart/related; type="application/dicom"; boundary=` + mw.Boundary()
}

func (e *env) submitJob(p *server.Patient, model string, by *testUser) *api.Job {
	e.t.Helper()
	j, err := server.NewJob(api.JobRequest{Model: model, PatientID: p.ID}, by.ID, auth.RandomHex(12), time.Now())
	if err == nil {
		err = e.store.CreateJob(context.Background(), j)
	}
	if err == nil {
		err = e.jobs.Submit(context.Background(), j)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func (e *env) claimJob(model string, by *testUser) *api.Job {
	e.t.Helper()
	j, err := e.jobs.Claim(context.Background(), []string{model}, by.ID, 0)
	if err != nil || j == nil {
		e.t.Fatalf("claim a %s job: %v (job %v)", model, err, j)
	}
	return j
}

// fillPath fills a route's parameters from the fixture: Orthanc IDs by level, UIDs, a frame, numeric IDs.
func fillPath(rt *httpapi.Route, f *matrixFixture) string {
	path := rt.Path()
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch s {
		case "{id}":
			switch segs[i-1] {
			case "studies":
				segs[i] = f.study.studyID
			case "series":
				segs[i] = f.study.seriesID
			case "instances":
				segs[i] = f.study.instanceID
			case "patients":
				segs[i] = fmt.Sprint(f.patient.ID)
			default:
				segs[i] = "1"
			}
		case "{study}":
			segs[i] = f.study.inst.StudyUID
		case "{series}":
			segs[i] = f.study.inst.SeriesUID
		case "{instance}":
			segs[i] = f.study.inst.SOPUID
		case "{frames}":
			segs[i] = "1"
		case "{tag}":
			segs[i] = "7fe00010" // Pixel Data
		}
	}
	return strings.Join(segs, "/")
}

type matrixCall struct {
	route  *httpapi.Route
	user   *testUser
	method string
	path   string
	status int
}

// sendMatrix sends one route's request as u and returns the status.
func sendMatrix(t *testing.T, e *env, rt *httpapi.Route, f *matrixFixture, u *testUser, allowed bool) matrixCall {
	req := matrixRequest{}
	if build := matrixCases[rt.Name()]; allowed && build != nil {
		req = build(e, f, u)
	}
	if req.path == "" {
		req.path = fillPath(rt, f)
	}
	if req.token == "" {
		req.token = u.token
	}
	call := matrixCall{route: rt, user: u, method: rt.Method, path: req.path} // audit records keep the query
	if rt.Name() == "GET /ws/notifications" && allowed {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+req.path,
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + req.token}}})
		if err != nil {
			t.Errorf("%s as %s: dial: %v", rt.Name(), u.Role, err)
			return call
		}
		c.Close(websocket.StatusNormalClosure, "")
		call.status = resp.StatusCode
		return call
	}
	resp, body := e.do(rt.Method, req.path, req.token, req.body, req.header)
	call.status = resp.StatusCode
	switch {
	case allowed && (resp.StatusCode < 200 || resp.StatusCode > 299):
		t.Errorf("%s as %s (allowed): %s: %.300s", rt.Name(), u.Role, resp.Status, body)
	case !allowed && resp.StatusCode != http.StatusForbidden:
		t.Errorf("%s as %s (not allowed): %s, want 403: %.300s", rt.Name(), u.Role, resp.Status, body)
	case !allowed && apiError(t, body).Code != api.CodeForbidden:
		t.Errorf("%s as %s: code %s, want FORBIDDEN", rt.Name(), u.Role, apiError(t, body).Code)
	}
	return call
}

// TestRouteRoleMatrix calls every route of the table as every role: roles the table allows get a 2xx answer
// (with data they are entitled to), the others 403. A route added to the table without a case here fails the
// test, as does a case for a route that no longer exists. Every call to a patient-data route, allowed or not,
// must leave an audit record.
func TestRouteRoleMatrix(t *testing.T) {
	e := newEnv(t, fast)
	f := &matrixFixture{patient: e.patient(e.users[api.RoleExternal], e.users[api.RolePatient])}
	f.study = e.study(f.patient, false)

	names := map[string]bool{}
	var calls []matrixCall
	for _, rt := range e.srv.Routes() {
		names[rt.Name()] = true
		if rt.Public() {
			continue
		}
		_, hasCase := matrixCases[rt.Name()]
		if !hasCase && !strings.HasPrefix(rt.Path(), "/api/orthanc/") {
			t.Errorf("route %s has no case in matrixCases: add one", rt.Name())
			continue
		}
		for _, role := range api.Roles {
			allowed := slices.Contains(rt.Roles, role)
			call := sendMatrix(t, e, rt, f, e.users[role], allowed)
			if rt.PatientData {
				calls = append(calls, call)
			}
		}
	}
	for name := range matrixCases {
		if !names[name] {
			t.Errorf("matrixCases has a case for %s, which is not in the route table", name)
		}
	}

	// Every patient-data call left a record with the caller, the path and the status.
	recs := e.audit(server.AuditFilter{})
	type key struct {
		user         int64
		method, path string
		status       int
	}
	have := map[key]int{}
	for _, r := range recs {
		if r.UserID != nil {
			have[key{*r.UserID, r.Method, r.Path, r.Status}]++
		}
	}
	for _, c := range calls {
		k := key{c.user.ID, c.method, c.path, c.status}
		if have[k] == 0 {
			t.Errorf("no audit record for %s %s by %s (status %d)", c.method, c.path, c.user.LoginID, c.status)
		}
		have[k]--
	}
	if len(calls) < 200 {
		t.Fatalf("only %d patient-data calls were checked", len(calls))
	}
}
