package httpapi_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/orthanc"
)

// badTokens returns tokens that must all be refused: expired, tampered in payload or signature, signed with
// another secret, unsigned (alg none), and not a JWT at all.
func badTokens(t *testing.T, e *env) map[string]string {
	u := e.users[api.RoleSystemManager]
	expiredIssuer, err := auth.NewIssuer(e.secret, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	expiredIssuer.SetClock(func() time.Time { return time.Now().Add(-time.Hour) })
	expired, _, err := expiredIssuer.IssueAccess(u.User, "s")
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer, err := auth.NewIssuer([]byte(auth.RandomHex(32)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, _ := otherIssuer.IssueAccess(u.User, "s")

	nurse := e.users[api.RoleNurse]
	valid := e.token(nurse)
	parts := strings.Split(valid, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	claims["role"] = string(api.RoleSystemManager) // a nurse promoting herself
	forged, _ := json.Marshal(claims)
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	tamperedSignature := parts[0] + "." + parts[1] + "." + string(sig)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(forged) + "."
	return map[string]string{
		"expired": expired, "tampered payload": tamperedPayload, "tampered signature": tamperedSignature,
		"foreign secret": foreign, "alg none": none, "garbage": "not-a-jwt",
	}
}

// TestProtectedRoutesRefuseMissingExpiredAndTamperedTokens: every non-public route of the table, and the
// fallbacks under /api/ and /ws/, answers 401 without a token, with an expired one and with a forged one.
func TestProtectedRoutesRefuseMissingExpiredAndTamperedTokens(t *testing.T) {
	e := newEnv(t, fast)
	f := &matrixFixture{patient: e.patient(nil, nil)}
	f.study = study{studyID: strings.Repeat("0", 8) + "-00000000-00000000-00000000-00000000"}
	tokens := badTokens(t, e)
	tokens["none"] = ""
	paths := map[string]string{"ANY /api/orthanc/": "/api/orthanc/", "ANY /api/nothing": "/api/nothing/here/", "ANY /ws/x": "/ws/other"}
	checked := 0
	for _, rt := range e.srv.Routes() {
		if rt.Public() {
			continue
		}
		paths[rt.Name()] = rt.Method + " " + fillPath(rt, f)
	}
	for name, target := range paths {
		method, path := "GET", target
		if m, p, ok := strings.Cut(target, " "); ok {
			method, path = m, p
		}
		for kind, tok := range tokens {
			resp, body := e.do(method, path, tok, nil, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %s token: %s, want 401: %.200s", name, kind, resp.Status, body)
				continue
			}
			if apiError(t, body).Code != api.CodeUnauthorized {
				t.Errorf("%s with %s token: code %s", name, kind, apiError(t, body).Code)
			}
			checked++
		}
	}
	if checked < 7*60 {
		t.Fatalf("only %d route × token checks ran", checked)
	}
	// The forged tokens left no trace of a SYSTEMMANAGER action by the nurse.
	for _, r := range e.audit(server.AuditFilter{UserID: e.users[api.RoleNurse].ID}) {
		if r.Role == api.RoleSystemManager {
			t.Fatalf("audit shows the nurse acting as SYSTEMMANAGER: %+v", r)
		}
	}
}

// rawRequest sends a request line exactly as given (no client-side path cleaning) and returns the answer.
func rawRequest(t *testing.T, e *env, method, target, token string, body string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: neuronova\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, target, token, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestProxyRefusesTraversalAndUnlistedPaths: dot segments (plain and encoded), encoded slashes, absolute URLs,
// paths outside the allow-list, malformed IDs and queries, and modify bodies that would change data never
// reach Orthanc, and the archive is unchanged afterwards.
func TestProxyRefusesTraversalAndUnlistedPaths(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	s := e.study(p, false)
	before := orthancInstances(t, e)
	admin := e.users[api.RoleSystemManager].token
	orthancHost := strings.TrimPrefix(e.orthanc.url, "http://")
	cases := []struct{ method, target, body string }{
		{"GET", "/api/orthanc/../../system", ""},
		{"GET", "/api/orthanc/%2e%2e/%2e%2e/system", ""},
		{"GET", "/api/orthanc/instances/..%2F..%2Fsystem/file", ""},
		{"GET", "/api/orthanc/instances/%2e%2e/file", ""},
		{"GET", "/api/orthanc/instances/" + s.instanceID + "%2F..%2F..%2Fsystem/file", ""},
		{"GET", "/api/orthanc/instances/" + s.instanceID + "/file/../../../../system", ""},
		{"GET", "/api/orthanc//" + orthancHost + "/system", ""},
		{"GET", "http://" + orthancHost + "/system", ""},
		{"GET", "http://" + orthancHost + "/api/orthanc/../system", ""},
		{"GET", "/api/orthanc/system", ""},
		{"GET", "/api/orthanc/patients", ""},
		{"GET", "/api/orthanc/instances", ""},
		{"GET", "/api/orthanc/instances/" + strings.ToUpper(s.instanceID) + "/file", ""},
		{"GET", "/api/orthanc/dicom-web/studies/" + s.inst.StudyUID + "%2F..%2F..%2F..%2Fsystem", ""},
		{"GET", "/api/orthanc/dicom-web/studies/1.2.abc/series", ""},
		{"GET", "/api/orthanc/studies/" + s.studyID + "?%00=1", ""},
		{"GET", "/api/orthanc/studies/" + s.studyID + "?expand=%0d%0aX-Injected:1", ""},
		{"POST", "/api/orthanc/tools/execute-script", `print("owned")`},
		{"POST", "/api/orthanc/tools/reset", ""},
		{"DELETE", "/api/orthanc/instances/" + s.instanceID, ""},
		{"PUT", "/api/orthanc/instances/" + s.instanceID + "/file", ""},
		{"POST", "/api/orthanc/instances/" + s.instanceID + "/modify", `{"Replace":{"PatientID":"STOLEN"}}`},
		{"POST", "/api/orthanc/instances/" + s.instanceID + "/modify", `{"Transcode":"1.2.840.10008.1.2.1","Remove":["PatientName"]}`},
		{"POST", "/api/orthanc/instances/" + s.instanceID + "/modify", `{"Transcode":"1.2.840.10008.1.2.4.50"}`},
	}
	for _, c := range cases {
		status, header, body := rawRequest(t, e, c.method, c.target, admin, c.body)
		if status >= 200 && status < 300 {
			t.Errorf("%s %s answered %d: %.200s", c.method, c.target, status, body)
		}
		if strings.Contains(body, "DatabaseVersion") || strings.Contains(body, "owned") || header.Get("X-Injected") != "" {
			t.Errorf("%s %s reached Orthanc: %.200s", c.method, c.target, body)
		}
		if loc := header.Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//")) {
			t.Errorf("%s %s redirects to %s", c.method, c.target, loc)
		}
	}
	if after := orthancInstances(t, e); after != before {
		t.Fatalf("Orthanc held %d instances before and %d after", before, after)
	}
	tags := map[string]string{}
	resp, body := e.do("GET", "/api/orthanc/instances/"+s.instanceID+"/simplified-tags", admin, nil, nil)
	mustJSON(t, body, &tags)
	if resp.StatusCode != http.StatusOK || tags["PatientID"] != p.Number {
		t.Fatalf("the instance changed: %s %v", resp.Status, tags)
	}
}

// orthancInstances counts the instances in Orthanc, asking it directly.
func orthancInstances(t *testing.T, e *env) int {
	t.Helper()
	resp, err := e.pacs.Do(context.Background(), "GET", "/statistics", "", nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ CountInstances int }
	json.NewDecoder(resp.Body).Decode(&st)
	return st.CountInstances
}

// TestRateLimitOnAPIButNotOnDICOM: with the default 10 requests/s and burst 20 per user, a burst of API calls
// gets 429 with Retry-After once the bucket is empty, while DICOM transfer through the proxy never does, and
// other users keep their own buckets.
func TestRateLimitOnAPIButNotOnDICOM(t *testing.T) {
	e := newEnv(t, envOptions{}) // the defaults
	p := e.patient(nil, nil)
	s := e.study(p, false)
	doctor := e.users[api.RoleDoctor]
	limited := 0
	for i := range 45 {
		resp, body := e.do("GET", "/api/auth/me/", doctor.token, nil, nil)
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			if i < 19 {
				t.Fatalf("request %d was limited inside the burst of 20", i+1)
			}
			if apiError(t, body).Code != api.CodeRateLimited || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without RATE_LIMITED or Retry-After: %v %s", resp.Header, body)
			}
			limited++
		default:
			t.Fatalf("request %d: %s %s", i+1, resp.Status, body)
		}
	}
	if limited == 0 {
		t.Fatal("45 API requests in a burst were never limited")
	}
	for i := range 150 {
		path := []string{"/api/orthanc/instances/" + s.instanceID + "/file", "/api/orthanc/studies/" + s.studyID,
			"/api/orthanc/dicom-web/studies/" + s.inst.StudyUID + "/series"}[i%3]
		if resp, body := e.do("GET", path, doctor.token, nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("DICOM request %d (%s): %s %.200s", i+1, path, resp.Status, body)
		}
	}
	if resp, body := e.do("GET", "/api/auth/me/", e.users[api.RoleNurse].token, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("another user was limited too: %s %s", resp.Status, body)
	}
}

// TestLockoutAfterFiveFailures: each wrong password reports the attempts left; the fifth locks the account,
// after which even the right password is refused until an administrator unlocks it. Unknown login IDs get
// the same answers, so they reveal nothing.
func TestLockoutAfterFiveFailures(t *testing.T) {
	e := newEnv(t, fast)
	u := e.newUser(api.RoleRIS)
	for _, loginID := range []string{u.LoginID, "nobody-" + auth.RandomHex(4)} {
		for i := 1; i <= 5; i++ {
			resp, body := e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: loginID, Password: "wrong-password"}, nil)
			ae := apiError(t, body)
			if i < 5 {
				if resp.StatusCode != http.StatusUnauthorized || ae.Code != api.CodeLoginFail || ae.Remain == nil || *ae.Remain != 5-i {
					t.Fatalf("%s failure %d: %s %s", loginID, i, resp.Status, body)
				}
			} else if resp.StatusCode != http.StatusLocked || ae.Code != api.CodeLoginLocked {
				t.Fatalf("%s failure 5: %s %s, want 423 LOGIN_LOCKED", loginID, resp.Status, body)
			}
		}
	}
	resp, body := e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: u.LoginID, Password: u.password}, nil)
	if resp.StatusCode != http.StatusLocked || apiError(t, body).Code != api.CodeLoginLocked {
		t.Fatalf("right password on a locked account: %s %s", resp.Status, body)
	}
	stored, err := e.store.UserByID(context.Background(), u.ID)
	if err != nil || !stored.IsLocked || stored.LockedAt == nil {
		t.Fatalf("account not locked in the database: %+v %v", stored, err)
	}
	// An ADMIN may not unlock a SYSTEMMANAGER, but may unlock this RIS user.
	admin := e.users[api.RoleAdmin]
	if resp, body := e.do("POST", fmt.Sprintf("/api/users/%d/unlock/", e.users[api.RoleSystemManager].ID), admin.token, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("ADMIN unlocking a SYSTEMMANAGER: %s %s", resp.Status, body)
	}
	e.mustDo(http.StatusOK, "POST", fmt.Sprintf("/api/users/%d/unlock/", u.ID), admin.token, nil, nil)
	e.login(u.LoginID, u.password)
	fails, locks := 0, 0
	for _, r := range e.audit(server.AuditFilter{}) {
		if r.LoginID == u.LoginID && r.Action == "LOGIN_FAIL" {
			fails++
		}
		if r.LoginID == u.LoginID && r.Action == "LOGIN_LOCKED" {
			locks++
		}
	}
	if fails != 4 || locks != 2 {
		t.Fatalf("audit holds %d LOGIN_FAIL and %d LOGIN_LOCKED for %s, want 4 and 2", fails, locks, u.LoginID)
	}
}

// TestPatientScopedRolesSeeOnlyTheirPatients: EXTERNAL and PATIENT users reach their own patients' records,
// orders, results and images, and nothing of anyone else's — through the API, the change feed and the proxy.
func TestPatientScopedRolesSeeOnlyTheirPatients(t *testing.T) {
	e := newEnv(t, fast)
	ext, pat := e.users[api.RoleExternal], e.users[api.RolePatient]
	otherExt := e.newUser(api.RoleExternal)
	mine := e.patient(ext, pat)
	theirs := e.patient(otherExt, nil)
	unowned := e.patient(nil, nil)
	myStudy, theirStudy := e.study(mine, false), e.study(theirs, false)
	unregistered := e.study(&server.Patient{Number: "UNREGISTERED-" + auth.RandomHex(4)}, false)
	doctor := e.users[api.RoleDoctor]
	myOrder, theirOrder := e.order(mine, doctor, api.JobRIS, nil), e.order(theirs, doctor, api.JobRIS, nil)
	myResult, theirResult := e.result(mine, doctor), e.result(theirs, doctor)
	e.order(unowned, doctor, api.JobLIS, nil)

	for _, u := range []*testUser{ext, pat} {
		var list []server.Patient
		e.mustDo(http.StatusOK, "GET", "/api/patients/", u.token, nil, &list)
		if len(list) != 1 || list[0].ID != mine.ID {
			t.Errorf("%s lists patients %v, want only %d", u.Role, list, mine.ID)
		}
		var orders []server.Order
		e.mustDo(http.StatusOK, "GET", "/api/ocs/", u.token, nil, &orders)
		if len(orders) != 1 || orders[0].ID != myOrder.ID {
			t.Errorf("%s lists %d orders, want only %s", u.Role, len(orders), myOrder.ID)
		}
		var page api.ChangesPage
		e.mustDo(http.StatusOK, "GET", "/api/changes/?cursor=0", u.token, nil, &page)
		for _, c := range page.Changes {
			var obj struct {
				ID        json.RawMessage `json:"id"`
				PatientID int64           `json:"patient_id"`
			}
			json.Unmarshal(c.Data, &obj)
			if (c.Kind == api.KindPatient && c.ObjectID != fmt.Sprint(mine.ID)) || (c.Kind != api.KindPatient && obj.PatientID != mine.ID) {
				t.Errorf("%s sees change %d of %s %s", u.Role, c.Seq, c.Kind, c.ObjectID)
			}
			if u.Role == api.RolePatient && c.Kind == api.KindAIResult {
				t.Errorf("PATIENT sees AI result change %s", c.ObjectID)
			}
		}
		if len(page.Changes) == 0 {
			t.Errorf("%s sees no changes of its own patient", u.Role)
		}
		e.mustDo(http.StatusOK, "GET", fmt.Sprintf("/api/patients/%d/studies/", mine.ID), u.token, nil, nil)
		e.mustDo(http.StatusOK, "GET", "/api/orthanc/instances/"+myStudy.instanceID+"/file", u.token, nil, nil)
		e.mustDo(http.StatusOK, "GET", "/api/orthanc/dicom-web/studies/"+myStudy.inst.StudyUID+"/series", u.token, nil, nil)
		denied := []string{
			fmt.Sprintf("/api/patients/%d/", theirs.ID), fmt.Sprintf("/api/patients/%d/", unowned.ID),
			fmt.Sprintf("/api/patients/%d/studies/", theirs.ID), "/api/ocs/" + theirOrder.ID + "/",
			"/api/orthanc/studies/" + theirStudy.studyID, "/api/orthanc/series/" + theirStudy.seriesID + "/archive",
			"/api/orthanc/instances/" + theirStudy.instanceID + "/file", "/api/orthanc/instances/" + unregistered.instanceID + "/file",
			"/api/orthanc/dicom-web/studies/" + theirStudy.inst.StudyUID + "/metadata",
			"/api/orthanc/dicom-web/studies/" + myStudy.inst.StudyUID + "/series/" + theirStudy.inst.SeriesUID + "/instances/" + theirStudy.inst.SOPUID,
		}
		if u.Role == api.RoleExternal {
			denied = append(denied, "/api/ai/results/"+theirResult.ID+"/")
			e.mustDo(http.StatusOK, "GET", "/api/ai/results/"+myResult.ID+"/", u.token, nil, nil)
		}
		for _, path := range denied {
			resp, body := e.do("GET", path, u.token, nil, nil)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s GET %s: %s, want 403: %.200s", u.Role, path, resp.Status, body)
			}
		}
		if resp, _ := e.do("POST", "/api/orthanc/tools/find", u.token, map[string]any{"Level": "Study", "Query": map[string]string{"PatientID": "*"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s may search the whole archive: %s", u.Role, resp.Status)
		}
	}
	// Each refusal is in the audit log as DENIED, with the patient it concerned when known.
	denied := 0
	for _, r := range e.audit(server.AuditFilter{UserID: ext.ID}) {
		if r.Outcome == api.OutcomeDenied {
			denied++
		}
	}
	if denied < 10 {
		t.Fatalf("audit holds %d denied records of the EXTERNAL user, want at least 10", denied)
	}
}

// TestRISAndLISSeeOnlyTheirOrders: RIS and LIS users see the orders of their own department only.
func TestRISAndLISSeeOnlyTheirOrders(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	doctor := e.users[api.RoleDoctor]
	ris, lis := e.order(p, doctor, api.JobRIS, nil), e.order(p, doctor, api.JobLIS, nil)
	for role, want := range map[api.Role]*server.Order{api.RoleRIS: ris, api.RoleLIS: lis} {
		u := e.users[role]
		var list []server.Order
		e.mustDo(http.StatusOK, "GET", "/api/ocs/", u.token, nil, &list)
		if len(list) != 1 || list[0].ID != want.ID {
			t.Errorf("%s lists %d orders, want only %s", role, len(list), want.ID)
		}
		other := lis
		if role == api.RoleLIS {
			other = ris
		}
		if resp, _ := e.do("GET", "/api/ocs/"+other.ID+"/", u.token, nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s reads order %s of the other department: %s", role, other.ID, resp.Status)
		}
		if resp, _ := e.do("POST", "/api/ocs/"+other.ID+"/accept/", u.token, nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s accepts order %s of the other department: %s", role, other.ID, resp.Status)
		}
	}
}

// TestRefreshRotatesAndReuseRevokesTheSession: a refresh token works once; presenting it again revokes the
// whole session, including the token that replaced it. Logout revokes the access token at once.
func TestRefreshRotatesAndReuseRevokesTheSession(t *testing.T) {
	e := newEnv(t, fast)
	u := e.users[api.RoleDoctor]
	first := e.login(u.LoginID, u.password)
	var second api.Tokens
	e.mustDo(http.StatusOK, "POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: first.Refresh}, &second)
	if second.Refresh == first.Refresh || second.Access == first.Access {
		t.Fatal("refresh answered the same tokens")
	}
	e.mustDo(http.StatusOK, "GET", "/api/auth/me/", second.Access, nil, nil)
	resp, body := e.do("POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: first.Refresh}, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("reused refresh token: %s %s", resp.Status, body)
	}
	if resp, _ := e.do("POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: second.Refresh}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the successor of a reused token still works: %s", resp.Status)
	}
	third := e.login(u.LoginID, u.password)
	e.mustDo(http.StatusNoContent, "POST", "/api/auth/logout/", third.Access, api.RefreshRequest{Refresh: third.Refresh}, nil)
	if resp, _ := e.do("GET", "/api/auth/me/", third.Access, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("access token works after logout: %s", resp.Status)
	}
	if resp, _ := e.do("POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: third.Refresh}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refresh token works after logout: %s", resp.Status)
	}
	// Another user's refresh token cannot be revoked by someone else.
	nurse := e.users[api.RoleNurse]
	fourth := e.login(u.LoginID, u.password)
	if resp, _ := e.do("POST", "/api/auth/logout/", nurse.token, api.RefreshRequest{Refresh: fourth.Refresh}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a nurse revoked a doctor's session: %s", resp.Status)
	}
	e.mustDo(http.StatusOK, "POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: fourth.Refresh}, nil)
}

// TestNewAccountMustChangePassword: an account created by an administrator logs in with
// must_change_password, may do nothing else until it changes the password, and its earlier tokens stop working.
func TestNewAccountMustChangePassword(t *testing.T) {
	e := newEnv(t, fast)
	admin := e.users[api.RoleAdmin]
	req := api.CreateUserRequest{LoginID: "newdoc", Name: "New Doctor", Role: api.RoleDoctor, Password: "initial-password"}
	e.mustDo(http.StatusCreated, "POST", "/api/users/", admin.token, req, nil)
	req.LoginID, req.Role = "sneaky", api.RoleSystemManager
	if resp, _ := e.do("POST", "/api/users/", admin.token, req, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an ADMIN created a SYSTEMMANAGER: %s", resp.Status)
	}
	tok := e.login("newdoc", "initial-password")
	if !tok.User.MustChangePassword {
		t.Fatal("a new account does not have to change its password")
	}
	resp, body := e.do("GET", "/api/patients/", tok.Access, nil, nil)
	if resp.StatusCode != http.StatusForbidden || apiError(t, body).Code != api.CodePasswordChangeRequired {
		t.Fatalf("before the change: %s %s", resp.Status, body)
	}
	e.mustDo(http.StatusOK, "GET", "/api/auth/me/", tok.Access, nil, nil)
	if resp, _ := e.do("POST", "/api/auth/change-password/", tok.Access, api.ChangePasswordRequest{OldPassword: "initial-password", NewPassword: "short"}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a short password was accepted: %s", resp.Status)
	}
	var changed api.Tokens
	e.mustDo(http.StatusOK, "POST", "/api/auth/change-password/", tok.Access,
		api.ChangePasswordRequest{OldPassword: "initial-password", NewPassword: "a-better-password"}, &changed)
	if changed.User.MustChangePassword {
		t.Fatal("still must change the password")
	}
	e.mustDo(http.StatusOK, "GET", "/api/patients/", changed.Access, nil, nil)
	if resp, _ := e.do("GET", "/api/auth/me/", tok.Access, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the token from before the change still works: %s", resp.Status)
	}
	if resp, _ := e.do("POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: tok.Refresh}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the refresh token from before the change still works: %s", resp.Status)
	}
	e.login("newdoc", "a-better-password")
}

// TestDeactivationRevokesAccess: deactivating an account ends its sessions and its logins.
func TestDeactivationRevokesAccess(t *testing.T) {
	e := newEnv(t, fast)
	u := e.newUser(api.RoleNurse)
	tok := e.login(u.LoginID, u.password)
	off := false
	e.mustDo(http.StatusOK, "PATCH", fmt.Sprintf("/api/users/%d/", u.ID), e.users[api.RoleAdmin].token, api.UpdateUserRequest{IsActive: &off}, nil)
	if resp, _ := e.do("GET", "/api/auth/me/", tok.Access, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a deactivated account's token works: %s", resp.Status)
	}
	if resp, _ := e.do("POST", "/api/auth/refresh/", "", api.RefreshRequest{Refresh: tok.Refresh}, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a deactivated account's refresh token works: %s", resp.Status)
	}
	resp, body := e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: u.LoginID, Password: u.password}, nil)
	if resp.StatusCode != http.StatusForbidden || apiError(t, body).Code != api.CodeInactiveUser {
		t.Fatalf("login of a deactivated account: %s %s", resp.Status, body)
	}
}

// TestBadRequestsAreNamedAndChangeNothing: malformed bodies, unknown fields and invalid values get 400 with a
// message naming the problem, and the stored patient is unchanged.
func TestBadRequestsAreNamedAndChangeNothing(t *testing.T) {
	e := newEnv(t, fast)
	p := e.patient(nil, nil)
	doctor := e.users[api.RoleDoctor]
	path := fmt.Sprintf("/api/patients/%d/", p.ID)
	for _, c := range []struct{ body, mention string }{
		{`{"severity":"dying"}`, "severity"},
		{`{"phone":"12345"}`, "phone"},
		{`{"email":"not an address"}`, "email"},
		{`{"nickname":"x"}`, "nickname"},
		{`{"name":`, "JSON"},
		{``, "empty"},
		{`{"name":""}`, "name"},
	} {
		resp, body := e.do("PATCH", path, doctor.token, c.body, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiError(t, body).Message, c.mention) {
			t.Errorf("PATCH %s: %s %s, want 400 mentioning %q", c.body, resp.Status, body, c.mention)
		}
	}
	stored, err := e.store.Patient(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name != p.Name || stored.Severity != p.Severity || stored.Phone != p.Phone || !stored.UpdatedAt.Equal(p.UpdatedAt) {
		t.Fatalf("the patient changed: %+v", stored)
	}
	resp, body := e.do("POST", "/api/ocs/", doctor.token, api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobRIS, JobType: "X-RAY"}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(apiError(t, body).Message, "X-RAY") {
		t.Fatalf("bad job type: %s %s", resp.Status, body)
	}
	big := strings.Repeat("x", 70<<10)
	resp, body = e.do("POST", "/api/patients/", doctor.token, `{"name":"`+big+`"}`, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %s %.100s", resp.Status, body)
	}
	_ = orthanc.ExplicitVRLittleEndian
}

// TestPermissionsTableIsTheRouteTable: every action of api.Permissions names routes, every route that needs a
// token takes its roles from the table, and an administrator's password reset hands out a temporary password
// that must be changed and ends the account's sessions.
func TestPermissionsTableIsTheRouteTable(t *testing.T) {
	e := newEnv(t, fast)
	used := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		used[rt.Action] = true
		if !rt.Public() && !slices.Equal(rt.Roles, api.Permissions[rt.Action]) {
			t.Errorf("route %s has roles %v, api.Permissions[%s] %v", rt.Name(), rt.Roles, rt.Action, api.Permissions[rt.Action])
		}
	}
	for action := range api.Permissions {
		if !used[action] {
			t.Errorf("api.Permissions names %s, which no route takes", action)
		}
	}
	u := e.newUser(api.RoleNurse)
	old := e.login(u.LoginID, u.password)
	var reset api.PasswordReset
	e.mustDo(http.StatusOK, "POST", fmt.Sprintf("/api/users/%d/reset-password/", u.ID), e.users[api.RoleAdmin].token, nil, &reset)
	if reset.TemporaryPassword == "" || !reset.User.MustChangePassword {
		t.Fatalf("reset: %+v", reset)
	}
	if resp, _ := e.do("GET", "/api/auth/me/", old.Access, nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a session from before the reset: %s", resp.Status)
	}
	if resp, _ := e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: u.LoginID, Password: u.password}, nil); resp.StatusCode == http.StatusOK {
		t.Fatal("the old password still works")
	}
	tok := e.login(u.LoginID, reset.TemporaryPassword)
	if resp, body := e.do("GET", "/api/patients/", tok.Access, nil, nil); resp.StatusCode != http.StatusForbidden || apiError(t, body).Code != api.CodePasswordChangeRequired {
		t.Fatalf("the temporary password before its change: %s %s", resp.Status, body)
	}
}
