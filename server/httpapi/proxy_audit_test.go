package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/httpapi"
)

// failingAudit is a store whose audit log refuses every record (a full disk, a broken database file).
type failingAudit struct{ server.Store }

func (failingAudit) AppendAudit(context.Context, []server.AuditRecord) (int, error) {
	return 0, errors.New("audit log refuses records (test)")
}

// TestProxyAnswerEndsOnlyAfterItsAuditRecord: a proxied GET's audit record is written while the answer
// streams, and the answer is complete only once that record is committed: right after the client has read
// the whole answer the record is in the database (read directly, without flushing the writer). A server
// whose audit log fails never lets a client hold a complete answer: the connection is cut before its end.
func TestProxyAnswerEndsOnlyAfterItsAuditRecord(t *testing.T) {
	e := newEnv(t, fast)
	ctx := context.Background()
	p := e.patient(nil, nil)
	s := e.study(p, false)
	doctor := e.users[api.RoleDoctor]
	paths := []string{
		"/api/orthanc/instances/" + s.instanceID + "/file",                                                // Content-Length
		"/api/orthanc/dicom-web/studies/" + s.inst.StudyUID + "/series/" + s.inst.SeriesUID + "/metadata", // rewritten, chunked
		"/api/orthanc/series/" + s.seriesID + "/archive",
	}
	for _, path := range paths {
		for i := 1; i <= 5; i++ {
			e.mustDo(http.StatusOK, "GET", path, doctor.token, nil, nil)
			recs, err := e.store.QueryAudit(ctx, server.AuditFilter{UserID: doctor.ID, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range recs {
				if r.Path == path && r.Status == http.StatusOK && r.Outcome == api.OutcomeSuccess {
					n++
				}
			}
			if n != i {
				t.Fatalf("after %d complete answers of GET %s, %d committed audit records", i, path, n)
			}
		}
	}

	srv, err := httpapi.New(httpapi.Deps{Store: failingAudit{e.store}, Gate: e.rdb, Cache: e.rdb, Bus: e.rdb,
		Jobs: e.jobs, Orthanc: e.pacs, Issuer: e.issuer, Passwords: e.passwords}, httpapi.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() { ts.Close(); srv.Close() }()
	for _, path := range paths {
		req, err := http.NewRequest("GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+doctor.token)
		resp, err := ts.Client().Do(req)
		if err != nil {
			continue // cut before the answer began: fine
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("GET %s with a failing audit log: a complete answer (%s, %d bytes)", path, resp.Status, len(body))
		}
	}
}

// TestProxyRefusesRevokedTokens: a logged-out token, or one issued before its user's tokens were revoked, gets
// 401 on every proxied GET, whatever Orthanc would have answered (the file, a 404, or nothing because the path
// was invalid), and each refusal is audited as denied. A role outside the route's is refused as revoked too when
// its token is, as on every other route.
func TestProxyRefusesRevokedTokens(t *testing.T) {
	e := newEnv(t, fast)
	ctx := context.Background()
	p := e.patient(nil, nil)
	s := e.study(p, false)
	file := "/api/orthanc/instances/" + s.instanceID + "/file"
	paths := []string{file, "/api/orthanc/instances/00000000-00000000-00000000-00000000-00000000/file",
		"/api/orthanc/instances/not-an-id/file", "/api/orthanc/dicom-web/studies/" + s.inst.StudyUID + "/metadata",
		"/api/orthanc/studies/" + s.studyID + "/archive"}
	refused := func(token string) {
		t.Helper()
		for _, path := range paths {
			resp, body := e.do("GET", path, token, nil, nil)
			if resp.StatusCode != http.StatusUnauthorized || apiError(t, body).Code != api.CodeUnauthorized {
				t.Errorf("GET %s with a revoked token: %s %.200s", path, resp.Status, body)
			}
		}
	}
	u := e.newUser(api.RoleDoctor)
	tok := e.login(u.LoginID, u.password)
	e.mustDo(http.StatusOK, "GET", file, tok.Access, nil, nil)
	e.mustDo(http.StatusNoContent, "POST", "/api/auth/logout/", tok.Access, nil, nil)
	refused(tok.Access)

	tok = e.login(u.LoginID, u.password)
	e.mustDo(http.StatusOK, "GET", file, tok.Access, nil, nil)
	time.Sleep(2 * time.Millisecond)
	if _, err := e.store.UpdateUser(ctx, u.ID, func(u *server.User) error { u.TokensValidAfter = time.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	refused(tok.Access)

	lis := e.newUser(api.RoleLIS)
	tok = e.login(lis.LoginID, lis.password)
	if resp, _ := e.do("GET", file, tok.Access, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("LIS reads a file through the proxy: %s", resp.Status)
	}
	e.mustDo(http.StatusNoContent, "POST", "/api/auth/logout/", tok.Access, nil, nil)
	refused(tok.Access)

	denied := 0
	for _, r := range e.audit(server.AuditFilter{}) {
		if r.Status == http.StatusUnauthorized {
			if r.Outcome != api.OutcomeDenied || r.UserID == nil {
				t.Errorf("a refused token's record: %+v", r)
			}
			denied++
		}
	}
	if denied != 3*len(paths) {
		t.Errorf("%d denied records, want one per refused call (%d)", denied, 3*len(paths))
	}
}
