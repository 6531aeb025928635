package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/auth"
	"github.com/neuronova/neuronova/server/httpapi"
	"github.com/neuronova/neuronova/server/orthanc"
	"github.com/neuronova/neuronova/server/redis"
	"github.com/neuronova/neuronova/server/sqlite"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Run(m)) }

// env is one server on loopback with its own SQLite file and Redis key prefix, on the shared real Redis and
// Orthanc of the test binary.
type env struct {
	t         testing.TB
	srv       *httpapi.Server
	ts        *httptest.Server
	store     *sqlite.Store
	dbPath    string
	rdb       *redis.Client
	jobs      *redis.Queue
	pacs      *orthanc.Client
	issuer    *auth.Issuer
	passwords *auth.Passwords
	secret    []byte
	orthanc   struct{ url, user, password string }
	prefix    string
	users     map[api.Role]*testUser
	seq       atomic.Int64

	// accesses are the answered calls of this env to patient-data routes: each must have left an audit record.
	accessMu sync.Mutex
	accesses []access
}

// access is one call to a patient-data route, as its audit record must show it.
type access struct {
	user         int64
	method, path string
	status       int
}

type testUser struct {
	*server.User
	password string
	token    string
}

type envOptions struct {
	rate          float64
	burst         int
	visibility    time.Duration
	maxDeliveries int
	redis         string // the Redis to use instead of the shared one (a test that restarts it)
	// orthancVia, when set, gives the URL the server reaches Orthanc at (a fault-injecting relay in front of it).
	orthancVia func(url string) string
}

// fast lifts the rate limit for tests that call many routes quickly.
var fast = envOptions{rate: 1e6, burst: 1e6}

func newEnv(t testing.TB, opt envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, users: map[api.Role]*testUser{}}
	e.orthanc.url, e.orthanc.user, e.orthanc.password = testsvc.Orthanc(t)
	redisAddr := opt.redis
	if redisAddr == "" {
		redisAddr = testsvc.Redis(t)
	}
	var err error
	e.dbPath = filepath.Join(t.TempDir(), "server.db")
	if e.store, err = sqlite.Open(ctx, e.dbPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	e.prefix = "test:" + auth.RandomHex(6) + ":"
	if e.rdb, err = redis.Open(ctx, redis.Config{Addr: redisAddr, Prefix: e.prefix, Rate: opt.rate, Burst: opt.burst}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.rdb.Close() })
	if e.jobs, err = e.rdb.Queue(ctx, redis.QueueConfig{Visibility: opt.visibility, MaxDeliveries: opt.maxDeliveries}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.jobs.Close() })
	pacsURL := e.orthanc.url
	if opt.orthancVia != nil {
		pacsURL = opt.orthancVia(pacsURL)
	}
	if e.pacs, err = orthanc.New(pacsURL, e.orthanc.user, e.orthanc.password); err != nil {
		t.Fatal(err)
	}
	e.secret = []byte(auth.RandomHex(32))
	if e.issuer, err = auth.NewIssuer(e.secret, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	if e.passwords, err = auth.NewPasswords(4); err != nil { // the lowest bcrypt cost keeps tests quick
		t.Fatal(err)
	}
	// The listener exists before the server is built: its URL is the server's public URL.
	var handler atomic.Pointer[http.Handler]
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	e.srv, err = httpapi.New(httpapi.Deps{Store: e.store, Gate: e.rdb, Cache: e.rdb, Bus: e.rdb, Jobs: e.jobs,
		Orthanc: e.pacs, Issuer: e.issuer, Passwords: e.passwords, Ready: map[string]func(context.Context) error{
			"database": e.store.Ping, "redis": e.rdb.Ping,
			"orthanc": func(ctx context.Context) error { _, err := e.pacs.System(ctx); return err }}},
		httpapi.Config{Logger: testLogger(t), PublicURL: e.ts.URL, ReconcileEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h := e.srv.Handler()
	handler.Store(&h)
	t.Cleanup(func() { e.ts.Close(); e.srv.Close() })
	for _, r := range api.Roles {
		e.users[r] = e.newUser(r)
	}
	// Registered last, so it runs first: before the server and its audit writer close.
	t.Cleanup(e.checkAccessesAudited)
	return e
}

// noteAccess remembers a call to a patient-data route that must have left an audit record: any answer but
// 401 (no valid token: nothing is known), 429 (refused before anything was looked at) and a claim's 204 (an
// empty queue: nothing reached).
func (e *env) noteAccess(req *http.Request, status int) {
	if status == http.StatusUnauthorized || status == http.StatusTooManyRequests ||
		status == http.StatusNoContent && req.URL.Path == "/api/jobs/claim/" {
		return
	}
	mux, ok := e.srv.Handler().(*http.ServeMux)
	if !ok {
		return
	}
	_, pattern := mux.Handler(req)
	var route *httpapi.Route
	for _, rt := range e.srv.Routes() {
		if rt.Method+" "+rt.Pattern == pattern {
			route = rt
		}
	}
	if route == nil || !route.PatientData {
		return
	}
	token, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	p, err := e.issuer.Verify(token)
	if err != nil {
		return
	}
	e.accessMu.Lock()
	path := req.URL.Path
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	if len(path) > 4096 {
		path = path[:4096] + "…(cut)" // as the server records a long path
	}
	e.accesses = append(e.accesses, access{p.UserID, req.Method, path, status})
	e.accessMu.Unlock()
}

// checkAccessesAudited fails the test unless every patient-data call it made through e.do has its audit
// record: user, method, path and status.
func (e *env) checkAccessesAudited() {
	e.accessMu.Lock()
	defer e.accessMu.Unlock()
	if len(e.accesses) == 0 {
		return
	}
	have := map[access]int{}
	for _, r := range e.audit(server.AuditFilter{}) {
		if r.UserID != nil {
			have[access{*r.UserID, r.Method, r.Path, r.Status}]++
		}
	}
	for _, a := range e.accesses {
		if have[a] == 0 {
			e.t.Errorf("no audit record for %s %s by user %d (status %d)", a.method, a.path, a.user, a.status)
		}
		have[a]--
	}
	e.t.Logf("%d patient-data calls checked for their audit record", len(e.accesses))
}

// newUser creates an active user of role who needs no password change, logged in through the API.
func (e *env) newUser(role api.Role) *testUser {
	e.t.Helper()
	n := e.seq.Add(1)
	password := "pw-" + auth.RandomHex(8)
	hash, err := e.passwords.Hash(password)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &server.User{User: api.User{LoginID: fmt.Sprintf("%s-%d", strings.ToLower(string(role)), n), Name: fmt.Sprintf("%s user %d", role, n),
		Role: role, IsActive: true, CreatedAt: time.Now().UTC()}, PasswordHash: hash}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
	tu := &testUser{User: u, password: password}
	tu.token = e.login(u.LoginID, password).Access
	return tu
}

// login logs in through the API and fails the test unless it succeeds.
func (e *env) login(loginID, password string) api.Tokens {
	e.t.Helper()
	resp, body := e.do("POST", "/api/auth/login/", "", api.LoginRequest{LoginID: loginID, Password: password}, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("login %s: %s %s", loginID, resp.Status, body)
	}
	var tok api.Tokens
	mustJSON(e.t, body, &tok)
	return tok
}

// token signs a fresh access token for u directly, in a session of its own.
func (e *env) token(u *testUser) string {
	tok, _, err := e.issuer.IssueAccess(u.User, "test-session-"+auth.RandomHex(4))
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// do sends a request; body is JSON-encoded unless it is []byte or a string. It fails the test on a
// transport error.
func (e *env) do(method, path, token string, body any, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	resp, b, err := e.send(method, path, token, body, header)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// send is do for any goroutine: it returns transport errors instead of failing the test.
func (e *env) send(method, path, token string, body any, header http.Header) (*http.Response, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, nil, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, r)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	e.noteAccess(req, resp.StatusCode)
	return resp, b, nil
}

// mustDo sends a request and fails the test unless the status is want; it decodes a JSON answer into out.
func (e *env) mustDo(want int, method, path, token string, body, out any) {
	e.t.Helper()
	resp, b := e.do(method, path, token, body, nil)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %s, want %d: %s", method, path, resp.Status, want, b)
	}
	if out != nil {
		mustJSON(e.t, b, out)
	}
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %.300s: %v", b, err)
	}
}

// apiError decodes an error answer.
func apiError(t testing.TB, b []byte) api.Error {
	t.Helper()
	var e api.Error
	mustJSON(t, b, &e)
	if e.Code == "" || e.Message == "" {
		t.Fatalf("error answer lacks code or message: %s", b)
	}
	return e
}

// patient registers a patient with a number unique across the tests sharing Orthanc, owned by the given
// EXTERNAL institution and PATIENT account when they are not nil.
func (e *env) patient(institution, portal *testUser) *server.Patient {
	e.t.Helper()
	req := api.CreatePatientRequest{Name: "Test Patient", BirthDate: "1980-02-03", Gender: "F"}
	if institution != nil {
		req.ExternalInstitutionID = &institution.ID
	}
	if portal != nil {
		req.PortalUserID = &portal.ID
	}
	p, err := server.NewPatient(req, e.users[api.RoleDoctor].ID, time.Now().UTC())
	if err != nil {
		e.t.Fatal(err)
	}
	p.Number = "T-" + auth.RandomHex(6)
	if err := e.store.CreatePatient(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// study uploads a one-instance study of patient p to Orthanc and returns its identifiers.
type study struct {
	inst                          testsvc.Instance
	studyID, seriesID, instanceID string
	dicom                         []byte
}

func (e *env) study(p *server.Patient, implicit bool) study {
	e.t.Helper()
	inst := testsvc.Instance{PatientID: p.Number, PatientName: "TEST^PATIENT", StudyUID: testsvc.NewUID(), SeriesUID: testsvc.NewUID(),
		SOPUID: testsvc.NewUID(), SeriesDescription: "AX T1", Implicit: implicit}
	b := testsvc.DICOM(inst)
	stored, err := e.pacs.Upload(context.Background(), b)
	if err != nil {
		e.t.Fatal(err)
	}
	return study{inst: inst, studyID: stored.ParentStudy, seriesID: stored.ParentSeries, instanceID: stored.ID, dicom: b}
}

// order creates an order of patient p by doctor (DOCTOR, ADMIN or SYSTEMMANAGER) and runs acts on it as worker.
func (e *env) order(p *server.Patient, doctor *testUser, role api.JobRole, worker *testUser, acts ...server.OrderAction) *server.Order {
	e.t.Helper()
	ctx := context.Background()
	jobType := server.JobTypes[role][0]
	doc := server.Actor{ID: doctor.ID, Name: doctor.Name, Role: doctor.Role}
	o, err := server.NewOrder(api.CreateOrderRequest{PatientID: p.ID, JobRole: role, JobType: jobType}, p, doc, time.Now().UTC())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateOrder(ctx, o, server.CreatedHistory(o, doc, o.CreatedAt)); err != nil {
		e.t.Fatal(err)
	}
	for _, act := range acts {
		w := server.Actor{ID: worker.ID, Name: worker.Name, Role: worker.Role}
		if o, err = e.store.UpdateOrder(ctx, o.ID, "", func(o *server.Order) (server.OrderHistory, error) {
			return server.ApplyOrderAction(o, act, w, server.OrderInput{}, time.Now().UTC())
		}); err != nil {
			e.t.Fatalf("order %s %s by %s: %v", o.ID, act, worker.LoginID, err)
		}
	}
	return o
}

// result stores an AI result of patient p uploaded by u.
func (e *env) result(p *server.Patient, u *testUser) *server.AIResult {
	e.t.Helper()
	r, hash, err := server.NewAIResult(resultUpload(p.ID, ""), u.ID, time.Now().UTC())
	if err != nil {
		e.t.Fatal(err)
	}
	stored, _, err := e.store.CreateAIResult(context.Background(), r, "key-"+auth.RandomHex(8), hash)
	if err != nil {
		e.t.Fatal(err)
	}
	return stored
}

func resultUpload(patientID int64, orderID string) api.AIResultUpload {
	return api.AIResultUpload{Model: api.ModelM1, ModelVersion: "demo-1.0", PatientID: patientID, OrderID: orderID,
		Result:     json.RawMessage(`{"grade":"G4","volumes_ml":{"wt":41.9}}`),
		Provenance: json.RawMessage(`{"model_sha256":"00","execution_provider":"CPU"}`)}
}

// auditFor returns the audit records of user, after the queued ones are stored.
func (e *env) audit(filter server.AuditFilter) []server.AuditRecord {
	e.t.Helper()
	if err := e.srv.FlushAudit(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	filter.Limit = 1000
	recs, err := e.store.QueryAudit(context.Background(), filter)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// publishLast publishes a test's own event after every event the server's writes produced so far: the outbox
// is relayed first, and the event's ID falls between the last event and the next one.
func (e *env) publishLast(ev server.Event) error {
	ctx := context.Background()
	if err := e.srv.RelayEvents(ctx); err != nil {
		return err
	}
	last, err := e.rdb.Last(ctx)
	if err != nil {
		return err
	}
	if last == "" {
		last = "0-0"
	}
	ev.ID = strings.TrimSuffix(last, "-0") + "-1"
	return e.rdb.Publish(ctx, ev)
}
