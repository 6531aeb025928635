package httpapi_test

// Regression tests of the defects a hostile test of the server found (issue 11). Each failed on the main of
// 2026-12-02 before its fix.

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	_ "github.com/mattn/go-sqlite3"
	goredis "github.com/redis/go-redis/v9"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
)

// TestProxyNeverDeletes: no GET through the proxy deletes anything in Orthanc, whatever query string (Orthanc's
// "_method" override in any case or encoding), method-override header or token state it carries, counted by
// Orthanc's own instance count; every refused attempt is audited with its full path and query.
func TestProxyNeverDeletes(t *testing.T) {
	e := newEnv(t, fast)
	ctx := context.Background()
	ext := e.users[api.RoleExternal]
	mine, theirs := e.patient(ext, nil), e.patient(nil, nil)
	myStudy, theirStudy := e.study(mine, false), e.study(theirs, false)

	nurse := e.newUser(api.RoleNurse)
	loggedOut := e.login(nurse.LoginID, nurse.password).Access
	e.mustDo(http.StatusNoContent, "POST", "/api/auth/logout/", loggedOut, nil, nil)
	gone := e.newUser(api.RoleDoctor)
	deactivated := e.login(gone.LoginID, gone.password).Access
	e.mustDo(http.StatusOK, "PATCH", fmt.Sprintf("/api/users/%d/", gone.ID), e.users[api.RoleAdmin].token, map[string]bool{"is_active": false}, nil)
	tokens := map[string]string{"nurse": nurse.token, "doctor": e.users[api.RoleDoctor].token, "external": ext.token,
		"logged out": loggedOut, "deactivated": deactivated, "none": ""}

	var paths []string
	for _, s := range []study{myStudy, theirStudy} {
		dw := "/api/orthanc/dicom-web/studies/" + s.inst.StudyUID
		paths = append(paths, "/api/orthanc/studies/"+s.studyID, "/api/orthanc/series/"+s.seriesID,
			"/api/orthanc/instances/"+s.instanceID, "/api/orthanc/studies/"+s.studyID+"/series",
			dw, dw+"/series/"+s.inst.SeriesUID, dw+"/series/"+s.inst.SeriesUID+"/instances/"+s.inst.SOPUID)
	}
	overrides := []string{"_method=DELETE", "_METHOD=delete", "_Method=Delete", "%5Fmethod=DELETE", "_method=PUT",
		"expand&_method=DELETE", "_method=DELETE&_method=DELETE", "short=true&%5fMeThOd=delete"}
	headers := []http.Header{{"X-HTTP-Method-Override": {"DELETE"}}, {"X-Method-Override": {"DELETE"}}, {"X-HTTP-Method": {"DELETE"}}}

	before := orthancInstances(t, e)
	sent := 0
	for _, path := range paths {
		for who, tok := range tokens {
			for _, q := range overrides {
				resp, body := e.do("GET", path+"?"+q, tok, nil, nil)
				sent++
				if resp.StatusCode/100 == 2 {
					t.Errorf("GET %s?%s as %s answered %s: %.200s", path, q, who, resp.Status, body)
				}
			}
			for _, h := range headers {
				resp, _ := e.do("GET", path, tok, nil, h)
				sent++
				if resp.StatusCode/100 == 2 && who != "nurse" && who != "doctor" && who != "external" {
					t.Errorf("GET %s with %v as %s answered %s", path, h, who, resp.Status)
				}
			}
		}
	}
	if after := orthancInstances(t, e); after != before {
		t.Fatalf("Orthanc held %d instances before %d requests and %d after", before, sent, after)
	}
	for _, s := range []study{myStudy, theirStudy} {
		if _, err := e.pacs.PatientIDOf(ctx, "instances", s.instanceID); err != nil {
			t.Fatalf("instance %s is gone: %v", s.instanceID, err)
		}
	}
	// The refusals are in the audit log with the query that was refused.
	withQuery := 0
	for _, r := range e.audit(server.AuditFilter{Limit: 1000}) {
		if strings.Contains(strings.ToLower(r.Path), "method=") {
			withQuery++
			if r.Outcome == api.OutcomeSuccess {
				t.Errorf("a _method request audited as a success: %+v", r)
			}
		}
	}
	if withQuery == 0 {
		t.Fatal("no audit record names the refused _method query")
	}
	t.Logf("%d requests, %d audit records with their _method query, Orthanc still holds %d instances", sent, withQuery, before)
}

// TestProxyForwardsOnlyDocumentedQueryParameters: each proxied route forwards the parameters Orthanc documents for
// it and refuses any other, naming it.
func TestProxyForwardsOnlyDocumentedQueryParameters(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	s := e.study(p, false)
	doctor := e.users[api.RoleDoctor].token
	ok := []string{"/api/orthanc/studies/" + s.studyID + "/series?expand", "/api/orthanc/instances/" + s.instanceID + "/tags?simplify",
		"/api/orthanc/dicom-web/studies?PatientID=" + p.Number + "&limit=5&includefield=StudyDescription,00081030",
		"/api/orthanc/dicom-web/studies?00100020=" + p.Number}
	for _, path := range ok {
		e.mustDo(http.StatusOK, "GET", path, doctor, nil, nil)
	}
	refused := []string{"/api/orthanc/instances/" + s.instanceID + "/file?expand", "/api/orthanc/studies/" + s.studyID + "?expand=yes",
		"/api/orthanc/dicom-web/studies?PatientID=" + p.Number + "&requestedTags=all", "/api/orthanc/studies/" + s.studyID + "/archive?transcode=1.2.840.10008.1.2",
		"/api/orthanc/dicom-web/studies?limit=-1", "/api/orthanc/dicom-web/studies?includefield=" + strings.Repeat("A,", 70) + "A"}
	for _, path := range refused {
		resp, body := e.do("GET", path, doctor, nil, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiError(t, body).Message, "query parameter") {
			t.Errorf("GET %s: %s %.200s, want 400 naming the parameter", path, resp.Status, body)
		}
	}
}

// TestAccessStateSurvivesRedis: revoked tokens, deactivated accounts, lockouts and queued jobs are kept in the
// database, so neither a Redis restart (clean or killed) nor a Redis that lost every key brings a revoked token
// back, unlocks an account, tells a locked account from an unknown one, or loses a job.
func TestAccessStateSurvivesRedis(t *testing.T) {
	rs := testsvc.StartRedis(t)
	e := newEnv(t, envOptions{rate: 1e6, burst: 1e6, redis: rs.Addr})
	p := e.patient(nil, nil)
	s := e.study(p, false)
	admin := e.users[api.RoleAdmin]

	out := e.newUser(api.RoleDoctor)
	loggedOut := e.login(out.LoginID, out.password).Access
	e.mustDo(http.StatusNoContent, "POST", "/api/auth/logout/", loggedOut, nil, nil)
	gone := e.newUser(api.RoleNurse)
	deactivated := e.login(gone.LoginID, gone.password).Access
	e.mustDo(http.StatusOK, "PATCH", fmt.Sprintf("/api/users/%d/", gone.ID), admin.token, map[string]bool{"is_active": false}, nil)
	locked := e.newUser(api.RoleRIS)
	lockedToken := e.login(locked.LoginID, locked.password).Access
	for range server.MaxLoginFailures {
		e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: locked.LoginID, Password: "wrong-password"}, nil)
		e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: "ghost-" + locked.LoginID, Password: "wrong-password"}, nil)
	}
	var job api.Job
	e.mustDo(http.StatusCreated, "POST", "/api/jobs/", e.users[api.RoleDoctor].token, api.JobRequest{Model: api.ModelM1, PatientID: p.ID}, &job)

	check := func(when string) {
		t.Helper()
		for name, tok := range map[string]string{"logged-out": loggedOut, "deactivated": deactivated, "locked": lockedToken} {
			for _, path := range []string{"/api/auth/me/", "/api/patients/", "/api/orthanc/instances/" + s.instanceID + "/file"} {
				if resp, body := e.do("GET", path, tok, nil, nil); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: the %s token on GET %s: %s %.200s", when, name, path, resp.Status, body)
				}
			}
		}
		// A locked account and an unknown login ID answer alike, whatever the password.
		for _, id := range []string{locked.LoginID, "ghost-" + locked.LoginID} {
			for _, pw := range []string{"wrong-password", locked.password} {
				resp, body := e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: id, Password: pw}, nil)
				if resp.StatusCode != http.StatusLocked || apiError(t, body).Code != api.CodeLoginLocked {
					t.Errorf("%s: login %s: %s %.200s, want 423 LOGIN_LOCKED", when, id, resp.Status, body)
				}
			}
		}
		var got api.Job
		e.mustDo(http.StatusOK, "GET", "/api/jobs/"+job.ID+"/", e.users[api.RoleDoctor].token, nil, &got)
		if got.Status != api.JobQueued {
			t.Errorf("%s: job %s is %s, want queued", when, job.ID, got.Status)
		}
	}
	check("before")
	rs.Restart(t, false)
	check("after a clean Redis restart")
	rs.Restart(t, true)
	check("after Redis was killed and restarted")
	rs.Wipe(t)
	check("after Redis lost every key")
	// The reconciler queues the lost job again: a worker gets it once.
	if err := e.srv.ReconcileJobs(context.Background()); err != nil {
		t.Fatal(err)
	}
	var claimed api.Job
	e.mustDo(http.StatusOK, "POST", "/api/jobs/claim/", e.users[api.RoleRIS].token, api.ClaimRequest{Models: []string{api.ModelM1}}, &claimed)
	if claimed.ID != job.ID {
		t.Fatalf("claimed %s after the wipe, want %s", claimed.ID, job.ID)
	}
	e.mustDo(http.StatusNoContent, "POST", "/api/jobs/claim/", e.users[api.RoleRIS].token, api.ClaimRequest{Models: []string{api.ModelM1}}, nil)
}

// TestOneUIDNeverServesTwoPatients: an upload whose study, series or SOP UIDs already belong to another patient
// is refused and stores nothing, in either order, through POST /instances and STOW-RS; and where such a
// collision exists in the archive anyway (stored before this check), a patient-scoped user never receives the
// other patient's instance through a UID route.
func TestOneUIDNeverServesTwoPatients(t *testing.T) {
	e := newEnv(t, fast)
	ris := e.users[api.RoleRIS].token
	a, b := e.patient(nil, nil), e.patient(nil, nil)
	inst := testsvc.Instance{PatientID: a.Number, PatientName: "A^PATIENT", StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(),
		SOPUID: testsvc.NewUID(), SeriesDescription: "AX T1"}
	e.mustDo(http.StatusOK, "POST", "/api/orthanc/instances", ris, testsvc.DICOM(inst), nil)
	before := orthancInstances(t, e)
	for _, steal := range []testsvc.Instance{
		{PatientID: b.Number, StudyUID: inst.StudyUID, SeriesUID: inst.SeriesUID, SOPUID: inst.SOPUID},
		{PatientID: b.Number, StudyUID: inst.StudyUID, SeriesUID: testsvc.NewUID(), SOPUID: testsvc.NewUID()},
		{PatientID: b.Number, StudyUID: testsvc.NewUID(), SeriesUID: inst.SeriesUID, SOPUID: testsvc.NewUID()},
		{PatientID: b.Number, StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(), SOPUID: inst.SOPUID},
	} {
		steal.PatientName, steal.SeriesDescription = "B^PATIENT", "AX T1"
		resp, body := e.do("POST", "/api/orthanc/instances", ris, testsvc.DICOM(steal), nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(apiError(t, body).Message, "another patient") {
			t.Errorf("upload of %+v under patient B: %s %.200s, want 409", steal, resp.Status, body)
		}
		stow, ctype := stowBody(t, testsvc.DICOM(steal))
		resp, body = e.do("POST", "/api/orthanc/dicom-web/studies", ris, stow, http.Header{"Content-Type": {ctype}})
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("STOW of %+v under patient B: %s %.200s, want 409", steal, resp.Status, body)
		}
	}
	if after := orthancInstances(t, e); after != before {
		t.Fatalf("refused uploads stored %d instances", after-before)
	}
	// One STOW request that gives one study two patients is refused whole.
	x := testsvc.Instance{PatientID: a.Number, StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(), SOPUID: testsvc.NewUID()}
	y := x
	y.PatientID, y.SOPUID = b.Number, testsvc.NewUID()
	stow, ctype := stowBody(t, testsvc.DICOM(x), testsvc.DICOM(y))
	if resp, body := e.do("POST", "/api/orthanc/dicom-web/studies", ris, stow, http.Header{"Content-Type": {ctype}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("STOW giving one study two patients: %s %.200s", resp.Status, body)
	}
	// The instance UIDs of a STOW request are looked up together: one of many new ones that A holds is found.
	var parts [][]byte
	for i := range 60 {
		p := testsvc.Instance{PatientID: b.Number, PatientName: "B^PATIENT", StudyUID: x.StudyUID + ".9", SeriesUID: x.SeriesUID + ".9",
			SOPUID: testsvc.NewUID(), SeriesDescription: "AX T1", InstanceNumber: i + 1}
		if i == 57 {
			p.SOPUID = inst.SOPUID
		}
		parts = append(parts, testsvc.DICOM(p))
	}
	stow, ctype = stowBody(t, parts...)
	if resp, body := e.do("POST", "/api/orthanc/dicom-web/studies", ris, stow, http.Header{"Content-Type": {ctype}}); resp.StatusCode != http.StatusConflict ||
		!strings.Contains(apiError(t, body).Message, inst.SOPUID) {
		t.Errorf("STOW of 60 instances under patient B, the 58th with A's SOP Instance UID: %s %.200s, want 409", resp.Status, body)
	}
	if after := orthancInstances(t, e); after != before {
		t.Fatalf("refused uploads stored %d instances", after-before)
	}

	// A collision stored straight into Orthanc, as before this check: A's own user does not get B's instance.
	ext := e.users[api.RoleExternal]
	own := e.patient(ext, nil)
	other := e.patient(nil, nil)
	mine := e.study(own, false)
	clash := testsvc.Instance{PatientID: other.Number, PatientName: "OTHER", StudyUID: mine.inst.StudyUID, SeriesUID: mine.inst.SeriesUID,
		SOPUID: mine.inst.SOPUID, SeriesDescription: "AX T1"}
	if _, err := e.pacs.Upload(context.Background(), testsvc.DICOM(clash)); err != nil {
		t.Fatal(err)
	}
	dw := "/api/orthanc/dicom-web/studies/" + mine.inst.StudyUID + "/series/" + mine.inst.SeriesUID
	for _, path := range []string{dw + "/instances/" + mine.inst.SOPUID, dw, dw + "/metadata"} {
		if resp, body := e.do("GET", path, ext.token, nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("EXTERNAL GET %s with its UIDs also under another patient: %s %.200s, want 403", path, resp.Status, body)
		}
	}
}

// TestPoisonedResultsAreRefusedAndWithdrawn: an AI result nested deeper than the bound is refused with a clear
// error and stores nothing; one stored before the bound existed can be withdrawn by an administrator, after
// which the change feed carries the withdrawal, not the poison, and decodes again.
func TestPoisonedResultsAreRefusedAndWithdrawn(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	doctor := e.users[api.RoleDoctor]
	deep := strings.Repeat(`{"a":`, 9998) + "1" + strings.Repeat("}", 9998)
	up := resultUpload(p.ID, "")
	up.Result = json.RawMessage(deep)
	resp, body := e.do("POST", "/api/ai/results/", doctor.token, up, http.Header{"Idempotency-Key": {"poison-" + auth.RandomHex(4)}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiError(t, body).Message, "nested deeper") {
		t.Fatalf("deep result: %s %.200s, want 400 naming the nesting", resp.Status, body)
	}
	if list, _ := e.store.ListAIResults(context.Background(), server.Scope{Role: api.RoleAdmin}, server.AIResultFilter{PatientID: p.ID}); len(list) != 0 {
		t.Fatalf("the refused result was stored: %+v", list)
	}
	// A poisoned result already in the database (stored by an older server, written here directly).
	r := e.result(p, doctor)
	db, err := sql.Open("sqlite3", e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE changes SET data = ? WHERE kind = 'ai_result' AND object_id = ?", `{"result":`+deep+`}`, r.ID); err != nil {
		t.Fatal(err)
	}
	var page api.ChangesPage
	_, raw := e.do("GET", "/api/changes/?cursor=0&limit=500", doctor.token, nil, nil)
	if json.Unmarshal(raw, &page) == nil {
		t.Fatal("the poisoned feed decoded: the test did not poison it")
	}
	if resp, _ := e.do("POST", "/api/ai/results/"+r.ID+"/withdraw/", doctor.token, api.WithdrawRequest{Reason: "poison"}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a doctor withdrew a result: %s", resp.Status)
	}
	var withdrawn api.AIResult
	e.mustDo(http.StatusOK, "POST", "/api/ai/results/"+r.ID+"/withdraw/", e.users[api.RoleAdmin].token, api.WithdrawRequest{Reason: "nested 9,998 levels deep"}, &withdrawn)
	if withdrawn.WithdrawnAt == nil || withdrawn.WithdrawReason == "" {
		t.Fatalf("withdrawn result: %+v", withdrawn)
	}
	e.mustDo(http.StatusOK, "GET", "/api/changes/?cursor=0&limit=500", doctor.token, nil, &page)
	last := page.Changes[len(page.Changes)-1]
	if last.ObjectID != r.ID || last.Op != "withdrawn" {
		t.Fatalf("last change %+v, want the withdrawal of %s", last, r.ID)
	}
	var list []api.AIResult
	e.mustDo(http.StatusOK, "GET", fmt.Sprintf("/api/ai/results/?patient_id=%d", p.ID), doctor.token, nil, &list)
	if len(list) != 0 {
		t.Fatalf("a withdrawn result is still listed: %+v", list)
	}
}

// dbSnapshot is every row of every table but the audit log, as text.
func dbSnapshot(t *testing.T, db *sql.DB) string {
	t.Helper()
	tables, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('audit', 'sqlite_sequence') ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	var b strings.Builder
	for _, n := range names {
		rows, err := db.Query("SELECT * FROM " + n + " ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintf(&b, "%s %v\n", n, vals)
		}
		rows.Close()
	}
	return b.String()
}

// TestNoWriteWithoutItsAuditRecord: every write route commits its change and its audit record in one
// transaction. With the audit log refusing inserts (a trigger: a full disk, a crash between the two), each write
// fails and leaves every other table as it was; without the trigger the same writes succeed with their record.
func TestNoWriteWithoutItsAuditRecord(t *testing.T) {
	e := newEnv(t, fast)
	f := &matrixFixture{patient: e.patient(e.users[api.RoleExternal], e.users[api.RolePatient])}
	f.study = e.study(f.patient, false)
	db, err := sql.Open("sqlite3", e.dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writer := map[api.Role]*testUser{}
	for _, r := range api.Roles {
		writer[r] = e.users[r]
	}
	checked := 0
	for _, rt := range e.srv.Routes() {
		if rt.Method == "GET" || strings.HasPrefix(rt.Pattern, "/api/orthanc/") || rt.Public() {
			continue // reads; Orthanc's own writes (audited before the answer); login and refresh are below
		}
		u := writer[rt.Roles[0]]
		if rt.Name() == "POST /api/ocs/{id}/confirm/" || rt.Name() == "POST /api/ocs/{id}/cancel/" {
			u = e.users[api.RoleDoctor]
		}
		build := matrixCases[rt.Name()]
		req := matrixRequest{}
		if build != nil {
			req = build(e, f, u)
		}
		if req.path == "" {
			req.path = fillPath(rt, f)
		}
		if req.token == "" {
			req.token = u.token
		}
		if _, err := db.Exec(`CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit log refuses records (test)'); END`); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.FlushAudit(context.Background()); err != nil && !strings.Contains(err.Error(), "refuses") {
			t.Fatal(err)
		}
		snap := dbSnapshot(t, db)
		e.accessMu.Lock()
		noted := len(e.accesses)
		e.accessMu.Unlock()
		resp, body := e.do(rt.Method, req.path, req.token, req.body, req.header)
		e.accessMu.Lock()
		e.accesses = e.accesses[:noted] // refused on purpose: this call has no record to find
		e.accessMu.Unlock()
		if _, err := db.Exec("DROP TRIGGER test_refuse_audit"); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode/100 == 2 {
			t.Errorf("%s answered %s with its audit record refused: %.200s", rt.Name(), resp.Status, body)
		}
		if got := dbSnapshot(t, db); got != snap {
			t.Errorf("%s changed the database although its audit record was refused", rt.Name())
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d write routes checked", checked)
	}
	t.Logf("%d write routes: nothing written without its record", checked)
}

// cutRelay forwards TCP connections to Orthanc and, while armed, cuts Orthanc's answer after limit bytes: an
// Orthanc that dies in the middle of a transfer.
type cutRelay struct {
	ln    net.Listener
	to    string
	armed atomic.Bool
	limit int64
}

func newCutRelay(t *testing.T, orthancURL string, limit int64) *cutRelay {
	u, err := url.Parse(orthancURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &cutRelay{ln: ln, to: u.Host, limit: limit}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *cutRelay) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", r.to)
	if err != nil {
		return
	}
	defer up.Close()
	go io.Copy(up, c)
	if r.armed.Load() {
		io.CopyN(c, up, r.limit)
		return
	}
	io.Copy(c, up)
}

// TestCutAnswerEndsAsAnError: when Orthanc's answer stops short (here a relay cuts it, as when Orthanc is
// killed mid-transfer), the client never sees a clean end — its read fails — and the call is audited as a
// failure, for answers with a Content-Length and chunked ones alike.
func TestCutAnswerEndsAsAnError(t *testing.T) {
	var relay *cutRelay
	e := newEnv(t, envOptions{rate: 1e6, burst: 1e6, orthancVia: func(u string) string {
		relay = newCutRelay(t, u, 900)
		return "http://" + relay.ln.Addr().String()
	}})
	p := e.patient(nil, nil)
	s := e.study(p, false)
	for range 3 {
		e.study(p, false)
	}
	doctor := e.users[api.RoleDoctor]
	paths := []string{"/api/orthanc/studies/" + s.studyID + "/archive", "/api/orthanc/instances/" + s.instanceID + "/file",
		"/api/orthanc/dicom-web/studies/" + s.inst.StudyUID + "/metadata"}
	for _, path := range paths {
		e.mustDo(http.StatusOK, "GET", path, doctor.token, nil, nil) // whole while the relay is not armed
	}
	relay.armed.Store(true)
	e.pacs.CloseIdleConnections()
	for _, path := range paths {
		req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+doctor.token)
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			continue // cut before the answer began: an error too
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s with Orthanc cut off: a clean %s answer of %d bytes", path, resp.Status, len(b))
		}
	}
	e.srv.FlushAudit(context.Background())
	for _, path := range paths {
		failed := false
		for _, r := range e.audit(server.AuditFilter{UserID: doctor.ID, Limit: 1000}) {
			if r.Path == path && r.Outcome == api.OutcomeFailure {
				failed = true
			}
		}
		if !failed {
			t.Errorf("GET %s cut off is not audited as a failure", path)
		}
	}
}

// TestSmallHolesAreClosed: the low-severity findings, each as the tester reported it.
func TestSmallHolesAreClosed(t *testing.T) {
	e := newEnv(t, fast)
	ctx := context.Background()
	p := e.patient(nil, nil)
	s := e.study(p, false)
	admin, doctor, ris := e.users[api.RoleAdmin], e.users[api.RoleDoctor], e.users[api.RoleRIS]

	t.Run("a ZIP upload is refused whole", func(t *testing.T) {
		before := orthancInstances(t, e)
		var zipped bytes.Buffer
		zipOf(t, &zipped, map[string][]byte{"a.dcm": testsvc.DICOM(testsvc.Instance{PatientID: p.Number, StudyUID: testsvc.NewUID(),
			SeriesUID: testsvc.NewUID(), SOPUID: testsvc.NewUID()})})
		resp, body := e.do("POST", "/api/orthanc/instances", ris.token, zipped.Bytes(), nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiError(t, body).Message, "ZIP") {
			t.Errorf("ZIP upload: %s %.200s, want 400 naming ZIP", resp.Status, body)
		}
		if after := orthancInstances(t, e); after != before {
			t.Errorf("a refused ZIP stored %d instances", after-before)
		}
	})
	t.Run("calls outside the route table are audited", func(t *testing.T) {
		for _, path := range []string{"/api/orthanc/system", "/api/nothing", "/ws/other"} {
			e.do("GET", path, doctor.token, nil, nil)
			e.do("DELETE", path, "", nil, nil)
		}
		e.srv.FlushAudit(ctx)
		n := 0
		for _, r := range e.audit(server.AuditFilter{Action: "unknown_route", Limit: 100}) {
			if r.Outcome != api.OutcomeSuccess {
				n++
			}
		}
		if n != 6 {
			t.Errorf("%d audit records of calls outside the table, want 6", n)
		}
	})
	t.Run("a huge search is refused, not a 500", func(t *testing.T) {
		resp, body := e.do("GET", "/api/patients/?q="+strings.Repeat("%25_", 34000), doctor.token, nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("100 KiB search: %s %.200s", resp.Status, body)
		}
		var list []api.Patient
		e.mustDo(http.StatusOK, "GET", "/api/patients/?q=%25", doctor.token, nil, &list) // "%" matches itself, not everything
		if len(list) != 0 {
			t.Errorf("a search for %% found %d patients", len(list))
		}
	})
	t.Run("retrieve URLs name the configured server, never the request's Host", func(t *testing.T) {
		status, _, body := rawRequestHost(t, e, "GET", "/api/orthanc/dicom-web/studies/"+s.inst.StudyUID+"/metadata", doctor.token, "evil.example.com")
		if status != http.StatusOK || strings.Contains(body, "evil.example.com") || !strings.Contains(body, e.ts.URL+"/api/orthanc/dicom-web/") {
			t.Errorf("metadata with Host evil.example.com: %d %.300s", status, body)
		}
	})
	t.Run("a WebSocket route without an upgrade is a plain refusal", func(t *testing.T) {
		resp, _ := e.do("GET", "/ws/notifications", doctor.token, nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/ws/notifications without Upgrade: %s", resp.Status)
		}
		e.srv.FlushAudit(ctx)
		for _, r := range e.audit(server.AuditFilter{Action: "notifications.connect", UserID: doctor.ID}) {
			if r.Status == http.StatusSwitchingProtocols {
				t.Errorf("audited as an upgrade: %+v", r)
			}
		}
	})
	t.Run("reading the audit log is audited", func(t *testing.T) {
		e.mustDo(http.StatusOK, "GET", "/api/audit/?action=auth.login", admin.token, nil, nil)
		e.srv.FlushAudit(ctx)
		if recs := e.audit(server.AuditFilter{Action: "audit.query", UserID: admin.ID}); len(recs) == 0 {
			t.Error("no record of the audit query")
		}
	})
	t.Run("logout ends the refresh token of its session", func(t *testing.T) {
		u := e.newUser(api.RoleNurse)
		tok := e.login(u.LoginID, u.password)
		e.mustDo(http.StatusNoContent, "POST", "/api/auth/logout/", tok.Access, nil, nil)
		if resp, _ := e.do("POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: tok.Refresh}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("refresh after logout without it: %s", resp.Status)
		}
	})
	t.Run("a reused refresh token ends the access tokens of its session", func(t *testing.T) {
		u := e.newUser(api.RoleNurse)
		first := e.login(u.LoginID, u.password)
		var second api.Tokens
		e.mustDo(http.StatusOK, "POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: first.Refresh}, &second)
		if resp, _ := e.do("POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: first.Refresh}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("reuse: %s", resp.Status)
		}
		for _, tok := range []string{first.Access, second.Access} {
			if resp, _ := e.do("GET", "/api/auth/me/", tok, nil, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("an access token of the revoked session: %s", resp.Status)
			}
		}
		other := e.login(u.LoginID, u.password) // another session of the same account is untouched
		e.mustDo(http.StatusOK, "GET", "/api/auth/me/", other.Access, nil, nil)
	})
	t.Run("locking an account ends its access tokens", func(t *testing.T) {
		u := e.newUser(api.RoleNurse)
		tok := e.login(u.LoginID, u.password)
		for range server.MaxLoginFailures {
			e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: u.LoginID, Password: "not-the-password"}, nil)
		}
		if resp, _ := e.do("GET", "/api/auth/me/", tok.Access, nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the locked account's token: %s", resp.Status)
		}
		e.mustDo(http.StatusOK, "POST", fmt.Sprintf("/api/users/%d/unlock/", u.ID), admin.token, nil, nil)
		if resp, _ := e.do("GET", "/api/auth/me/", tok.Access, nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a token from before the lock works after the unlock: %s", resp.Status)
		}
		e.login(u.LoginID, u.password) // the unlocked account logs in again
	})
	t.Run("names refuse control, escape and bidi characters", func(t *testing.T) {
		for _, name := range []string{"Bad\x00Name", "Line\r\nBreak", "Esc\x1b[31m", "Bidi \u202eevil", "Iso\u2066late", "Zero\u200bwidth"} {
			resp, body := e.do("POST", "/api/patients/", doctor.token, api.CreatePatientRequest{Name: name, BirthDate: "1990-01-01", Gender: "F"}, nil)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiError(t, body).Message, "name") {
				t.Errorf("patient named %q: %s %.200s", name, resp.Status, body)
			}
		}
		for _, name := range []string{"Zoë O'Brien-Łukasz", "김민준", "محمد\u200cرضا", "山田\u3000太郎"} {
			e.mustDo(http.StatusCreated, "POST", "/api/patients/", doctor.token, api.CreatePatientRequest{Name: name, BirthDate: "1990-01-01", Gender: "M"}, nil)
		}
	})
}

// rawRequestHost is rawRequest with a Host header of the caller's choice.
func rawRequestHost(t *testing.T, e *env, method, target, token, host string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// zipOf writes a ZIP archive of files to w.
func zipOf(t *testing.T, w io.Writer, files map[string][]byte) {
	t.Helper()
	z := zip.NewWriter(w)
	for name, b := range files {
		f, err := z.Create(name)
		if err == nil {
			_, err = f.Write(b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

// dialAfter opens u's notification socket, as a client reconnecting after the notification last ("" for a
// first connection).
func (e *env) dialAfter(t *testing.T, u *testUser, last string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + u.token}}
	if last != "" {
		h.Set(api.LastEventIDHeader, last)
	}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.ts.URL, "http")+"/ws/notifications", &websocket.DialOptions{HTTPHeader: h})
	if conn != nil {
		t.Cleanup(func() { conn.CloseNow() })
	}
	return conn, resp, err
}

// readNotification reads the next notification on conn.
func readNotification(t *testing.T, conn *websocket.Conn) api.Notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	var n api.Notification
	mustJSON(t, b, &n)
	return n
}

// TestNotificationsMissedAreReplayed: a client that reconnects naming the last notification it received gets,
// first, the ones it is entitled to that came after — each once, in order, also those published while it
// reconnects — and then the live ones; a malformed ID is refused before the upgrade; after Redis lost
// everything the stream is rebuilt from the outbox and nothing is missed; and a client that missed more than the
// stream keeps is told to resync from the change feed.
func TestNotificationsMissedAreReplayed(t *testing.T) {
	rs := testsvc.StartRedis(t)
	e := newEnv(t, envOptions{rate: 1e6, burst: 1e6, redis: rs.Addr})
	p := e.patient(nil, nil)
	doctor, ris := e.users[api.RoleDoctor], e.users[api.RoleRIS]
	order := func() string {
		var o api.Order
		e.mustDo(http.StatusCreated, "POST", "/api/ocs/", doctor.token, api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobRIS, JobType: "MRI"}, &o)
		return o.ID
	}
	lisOrder := func() {
		e.mustDo(http.StatusCreated, "POST", "/api/ocs/", doctor.token, api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobLIS, JobType: server.JobTypes[api.JobLIS][0]}, nil)
	}
	conn, _, err := e.dialAfter(t, ris, "")
	if err != nil {
		t.Fatal(err)
	}
	first := order()
	n := readNotification(t, conn)
	if n.OrderID != first || n.ID == "" {
		t.Fatalf("first notification %+v", n)
	}
	conn.CloseNow()
	missed := []string{order(), order()}
	lisOrder() // not the RIS user's: never replayed to it
	missed = append(missed, order())
	conn, _, err = e.dialAfter(t, ris, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	live := order()
	var got []string
	last := n.ID
	for range 4 {
		m := readNotification(t, conn)
		if !server.EventIDLess(last, m.ID) {
			t.Fatalf("notification %s after %s: out of order or twice", m.ID, last)
		}
		last = m.ID
		got = append(got, m.OrderID)
	}
	if want := append(missed, live); !slices.Equal(got, want) {
		t.Fatalf("after reconnecting: %v, want %v", got, want)
	}
	if _, resp, err := e.dialAfter(t, ris, "not-an-id"); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a malformed Last-Event-ID: %v %v", resp, err)
	}
	// Redis loses everything while the client is away: the stream is rebuilt from the server's outbox, and the
	// client still gets what it missed.
	conn.CloseNow()
	lost := order()
	rs.Wipe(t)
	if err := e.srv.RelayEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, _, err = e.dialAfter(t, ris, last)
	if err != nil {
		t.Fatal(err)
	}
	if m := readNotification(t, conn); m.OrderID != lost {
		t.Fatalf("after Redis lost its events: %+v, want the order %s", m, lost)
	}
	// A client whose last notification is older than the stream keeps is told to resync.
	conn.CloseNow()
	raw := goredis.NewClient(&goredis.Options{Addr: rs.Addr})
	defer raw.Close()
	order() // the stream now holds at least two events; trimming it to one drops the lost order's
	if err := raw.XTrimMaxLen(context.Background(), e.prefix+"events", 1).Err(); err != nil {
		t.Fatal(err)
	}
	conn, _, err = e.dialAfter(t, ris, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := readNotification(t, conn); m.Type != api.EventResync {
		t.Fatalf("after the stream dropped what the client missed: %+v, want %s", m, api.EventResync)
	}
}
