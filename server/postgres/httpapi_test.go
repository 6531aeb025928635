package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/httpapi"
	"github.com/neuronova/neuronova/server/orthanc"
	"github.com/neuronova/neuronova/server/postgres"
	"github.com/neuronova/neuronova/server/redis"
)

// apiServer is the server's HTTP API on a PostgreSQL store, with the shared real Redis and Orthanc, built as
// cmd/neuronova-server builds it.
type apiServer struct {
	t         *testing.T
	store     *postgres.Store
	srv       *httpapi.Server
	ts        *httptest.Server
	passwords *auth.Passwords
}

func newAPIServer(t *testing.T, store *postgres.Store) *apiServer {
	t.Helper()
	orthancURL, orthancUser, orthancPassword := testsvc.Orthanc(t)
	rdb, err := redis.Open(ctx, redis.Config{Addr: testsvc.Redis(t), Prefix: "pgtest:" + auth.RandomHex(6) + ":", Rate: 1e6, Burst: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	jobs, err := rdb.Queue(ctx, redis.QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jobs.Close() })
	pacs, err := orthanc.New(orthancURL, orthancUser, orthancPassword)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := auth.NewIssuer([]byte(auth.RandomHex(32)), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	a := &apiServer{t: t, store: store}
	if a.passwords, err = auth.NewPasswords(4); err != nil { // the lowest bcrypt cost keeps the test quick
		t.Fatal(err)
	}
	a.srv, err = httpapi.New(httpapi.Deps{Store: store, Gate: rdb, Cache: rdb, Bus: rdb, Jobs: jobs, Orthanc: pacs,
		Issuer: issuer, Passwords: a.passwords, Ready: map[string]func(context.Context) error{"database": store.Ping}},
		httpapi.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ReconcileEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	a.ts = httptest.NewServer(a.srv.Handler())
	t.Cleanup(func() { a.ts.Close(); a.srv.Close() })
	return a
}

// call sends a JSON request and decodes a JSON answer into out; it fails the test unless the status is want.
func (a *apiServer) call(want int, method, path, token string, header http.Header, body, out any) http.Header {
	a.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		a.t.Fatal(err)
	}
	req, err := http.NewRequest(method, a.ts.URL+path, bytes.NewReader(b))
	if err != nil {
		a.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.ts.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %s, want %d: %s", method, path, resp.Status, want, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, answer)
		}
	}
	return resp.Header
}

var patientNumber = regexp.MustCompile(`^P\d{4}\d{5}$`)

// TestHTTPAPIOnPostgres runs a workstation's round through the HTTP API on the PostgreSQL store: log in,
// refresh, register a patient, order an MRI, upload an AI result (and retry it), read the change feed; then
// replay a spent refresh token. Every call leaves exactly one audit record, and those of the writes name what
// they created.
func TestHTTPAPIOnPostgres(t *testing.T) {
	s, _ := open(t)
	a := newAPIServer(t, s)
	hash, err := a.passwords.Hash("doctor-password-1")
	if err != nil {
		t.Fatal(err)
	}
	doctor := &server.User{User: api.User{LoginID: "doctor1", Name: "Dr One", Role: api.RoleDoctor, IsActive: true,
		CreatedAt: time.Now().UTC()}, PasswordHash: hash}
	if err := s.CreateUser(ctx, doctor); err != nil {
		t.Fatal(err)
	}

	var login, refreshed api.Tokens
	a.call(http.StatusOK, "POST", "/api/auth/login/", "", nil, api.LoginRequest{LoginID: "doctor1", Password: "doctor-password-1"}, &login)
	a.call(http.StatusOK, "POST", "/api/auth/refresh/", "", nil, api.RefreshRequest{Refresh: login.Refresh}, &refreshed)
	token := refreshed.Access

	var p api.Patient
	a.call(http.StatusCreated, "POST", "/api/patients/", token, nil, api.CreatePatientRequest{Name: "Postgres Patient",
		BirthDate: "1961-07-08", Gender: "F"}, &p)
	if !patientNumber.MatchString(p.Number) {
		t.Fatalf("patient number %q", p.Number)
	}
	var o api.Order
	a.call(http.StatusCreated, "POST", "/api/ocs/", token, nil, api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobRIS,
		JobType: "MRI", DoctorRequest: json.RawMessage(`{"clinical_info":"headache"}`)}, &o)
	upload := api.AIResultUpload{Model: api.ModelM1, ModelVersion: "demo-1.0", PatientID: p.ID, OrderID: o.ID,
		Result: json.RawMessage(`{"grade":"G4","volumes_ml":{"wt":41.9}}`)}
	key := http.Header{"Idempotency-Key": {"upload-" + auth.RandomHex(6)}}
	var r, again api.AIResult
	a.call(http.StatusCreated, "POST", "/api/ai/results/", token, key, upload, &r)
	if h := a.call(http.StatusOK, "POST", "/api/ai/results/", token, key, upload, &again); h.Get("Idempotent-Replayed") != "true" || again.ID != r.ID {
		t.Fatalf("retried upload: %s, replayed %q", again.ID, h.Get("Idempotent-Replayed"))
	}

	var page api.ChangesPage
	a.call(http.StatusOK, "GET", "/api/changes/?cursor=0", token, nil, nil, &page)
	var got []string
	for _, c := range page.Changes {
		got = append(got, c.Kind+" "+c.ObjectID+" "+c.Op)
	}
	want := []string{api.KindPatient + " " + fmt.Sprint(p.ID) + " created", api.KindOrder + " " + o.ID + " created",
		api.KindAIResult + " " + r.ID + " created"}
	if fmt.Sprint(got) != fmt.Sprint(want) || page.HasMore || page.NextCursor != page.Changes[len(page.Changes)-1].Seq {
		t.Fatalf("change feed: %v (more %v, next %d), want %v", got, page.HasMore, page.NextCursor, want)
	}
	if string(page.Changes[2].Data) == "" || !bytes.Contains(page.Changes[2].Data, []byte(`"volumes_ml":{"wt":41.9}`)) {
		t.Fatalf("the result's change carries %s", page.Changes[2].Data)
	}

	// The spent first refresh token again: refused, and its session revoked with the refusal's record.
	a.call(http.StatusUnauthorized, "POST", "/api/auth/refresh/", "", nil, api.RefreshRequest{Refresh: login.Refresh}, nil)
	a.call(http.StatusUnauthorized, "POST", "/api/auth/refresh/", "", nil, api.RefreshRequest{Refresh: refreshed.Refresh}, nil)

	if err := a.srv.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := s.QueryAudit(ctx, server.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	type key2 struct{ action, object string }
	count := map[key2]int{}
	for _, rec := range recs {
		count[key2{rec.Action, rec.ObjectType + "/" + rec.ObjectID}]++
		// A refresh's record names the token's owner, refused or not (the store tells it: server.TxAudit.Actor).
		if rec.UserID == nil || *rec.UserID != doctor.ID || rec.LoginID != doctor.LoginID {
			t.Errorf("record %s names user %v, want %d", rec.Action, rec.UserID, doctor.ID)
		}
	}
	for _, w := range []struct {
		k key2
		n int
	}{
		{key2{"LOGIN_SUCCESS", "/"}, 1},
		{key2{"TOKEN_REFRESHED", "/"}, 1},
		{key2{"patient.create", "patient/" + fmt.Sprint(p.ID)}, 1},
		{key2{"order.create", "order/" + o.ID}, 1},
		{key2{"ai_result.upload", "ai_result/" + r.ID}, 2}, // the upload and its replay
		{key2{"changes.read", "changes/"}, 1},
		{key2{"REFRESH_REFUSED", "/"}, 2},
	} {
		if count[w.k] != w.n {
			t.Errorf("%d records %v, want %d (all: %v)", count[w.k], w.k, w.n, count)
		}
	}
	if len(recs) != 9 {
		t.Errorf("%d audit records, want 9: %v", len(recs), count)
	}
	for _, rec := range recs {
		if rec.Action == "patient.create" && (rec.PatientID == nil || *rec.PatientID != p.ID || rec.Status != http.StatusCreated) {
			t.Errorf("the patient's record: %+v", rec)
		}
	}
}
