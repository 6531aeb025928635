// Package storetest is the contract every server.Store implementation must meet: the SQLite store runs it, and
// a PostgreSQL store would run the same suite. Each subtest opens a fresh, empty store.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// Run runs the contract against stores made by open, one per subtest.
func Run(t *testing.T, open func(t *testing.T) server.Store) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, server.Store)
	}{
		{"Users", users},
		{"RefreshTokenFamilies", refreshTokens},
		{"PatientNumbersAreUniqueUnderConcurrency", patientNumbers},
		{"RefusedOrderUpdateChangesNothing", orderUpdates},
		{"OrdersByPatientRoleAndWorker", orderFilters},
		{"AIResultIdempotency", aiResults},
		{"ChangeFeedByCursorAndScope", changes},
		{"AuditAppendsAndDeduplicatesForwardedEvents", audit},
		{"Settings", settings},
		{"AccessRevocation", accessRevocation},
		{"LoginFailures", loginFailures},
		{"Jobs", jobs},
		{"WriteCarriesItsAuditRecord", txAudit},
		{"Withdrawal", withdrawal},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var ctx = context.Background()

func user(t *testing.T, s server.Store, login string, role api.Role) *server.User {
	t.Helper()
	u := &server.User{User: api.User{LoginID: login, Name: login, Role: role, IsActive: true, CreatedAt: time.Now().UTC()}, PasswordHash: "hash-" + login}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 {
		t.Fatal("CreateUser did not set the ID")
	}
	return u
}

func patient(t *testing.T, s server.Store, by *server.User, institution, portal *int64) *server.Patient {
	t.Helper()
	p, err := server.NewPatient(api.CreatePatientRequest{Name: "Store Patient", BirthDate: "1970-05-06", Gender: "M",
		ExternalInstitutionID: institution, PortalUserID: portal}, by.ID, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePatient(ctx, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func users(t *testing.T, s server.Store) {
	u := user(t, s, "doctor1", api.RoleDoctor)
	dup := &server.User{User: api.User{LoginID: "doctor1", Name: "again", Role: api.RoleNurse, IsActive: true, CreatedAt: time.Now().UTC()}}
	if err := s.CreateUser(ctx, dup); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("duplicate login ID: %v, want CONFLICT", err)
	}
	got, err := s.UserByLoginID(ctx, "doctor1")
	if err != nil || got.ID != u.ID || got.Role != api.RoleDoctor || got.PasswordHash != "hash-doctor1" {
		t.Fatalf("UserByLoginID: %+v %v", got, err)
	}
	if _, err := s.UserByID(ctx, u.ID+1000); !server.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown user: %v, want NOT_FOUND", err)
	}
	refused := errors.New("refused")
	if _, err := s.UpdateUser(ctx, u.ID, func(x *server.User) error { x.Name = "changed"; return refused }); !errors.Is(err, refused) {
		t.Fatalf("UpdateUser with a failing fn: %v", err)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.Name != "doctor1" {
		t.Fatalf("a refused update was stored: %+v", got)
	}
	now := time.Now().UTC()
	if got, err := s.UpdateUser(ctx, u.ID, func(x *server.User) error { x.IsLocked, x.LockedAt = true, &now; return nil }); err != nil || !got.IsLocked {
		t.Fatalf("UpdateUser: %+v %v", got, err)
	}
	user(t, s, "nurse1", api.RoleNurse)
	if list, err := s.ListUsers(ctx, api.RoleNurse); err != nil || len(list) != 1 || list[0].LoginID != "nurse1" {
		t.Fatalf("ListUsers(NURSE): %v %v", list, err)
	}
}

func refreshTokens(t *testing.T, s server.Store) {
	u := user(t, s, "ris1", api.RoleRIS)
	now := time.Now().UTC()
	tok := func(hash string) server.RefreshToken {
		return server.RefreshToken{Hash: hash, Family: "fam-1", UserID: u.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	if err := s.CreateRefreshToken(ctx, tok("h1")); err != nil {
		t.Fatal(err)
	}
	used, err := s.UseRefreshToken(ctx, "h1", tok("h2"), now)
	if err != nil || used.UserID != u.ID || used.Family != "fam-1" {
		t.Fatalf("first use: %+v %v", used, err)
	}
	if _, err := s.UseRefreshToken(ctx, "h1", tok("h3"), now); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("reuse: %v, want UNAUTHORIZED", err)
	}
	if _, err := s.UseRefreshToken(ctx, "h2", tok("h4"), now); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("the successor of a reused token: %v, want UNAUTHORIZED (family revoked)", err)
	}
	if _, err := s.UseRefreshToken(ctx, "unknown", tok("h5"), now); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("unknown token: %v", err)
	}
	expired := server.RefreshToken{Hash: "old", Family: "fam-2", UserID: u.ID, IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	if err := s.CreateRefreshToken(ctx, expired); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRefreshToken(ctx, "old", tok("h6"), now); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}
}

var patientNumber = regexp.MustCompile(`^P\d{4}\d{5}$`)

func patientNumbers(t *testing.T, s server.Store) {
	doctor := user(t, s, "doctor1", api.RoleDoctor)
	const n = 20
	numbers := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			p, err := server.NewPatient(api.CreatePatientRequest{Name: "Concurrent", BirthDate: "1990-01-01", Gender: "F"}, doctor.ID, time.Now().UTC())
			if err == nil {
				err = s.CreatePatient(ctx, p)
			}
			if err != nil {
				t.Error(err)
				return
			}
			numbers <- p.Number
		})
	}
	wg.Wait()
	close(numbers)
	seen := map[string]bool{}
	for num := range numbers {
		if !patientNumber.MatchString(num) || seen[num] {
			t.Errorf("patient number %q is malformed or given twice", num)
		}
		seen[num] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct numbers for %d patients", len(seen), n)
	}
}

func latestCursor(t *testing.T, s server.Store) int64 {
	t.Helper()
	cursor := int64(0)
	for {
		page, more, err := s.Changes(ctx, server.Scope{Role: api.RoleSystemManager}, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 0 {
			cursor = page[len(page)-1].Seq
		}
		if !more {
			return cursor
		}
	}
}

func orderUpdates(t *testing.T, s server.Store) {
	doctor, ris := user(t, s, "doctor1", api.RoleDoctor), user(t, s, "ris1", api.RoleRIS)
	p := patient(t, s, doctor, nil, nil)
	doc := server.Actor{ID: doctor.ID, Name: doctor.Name, Role: doctor.Role}
	o, err := server.NewOrder(api.CreateOrderRequest{PatientID: p.ID, JobRole: api.JobRIS, JobType: "MRI"}, p, doc, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOrder(ctx, o, server.CreatedHistory(o, doc, o.CreatedAt)); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ocs_\d{4,}$`).MatchString(o.ID) {
		t.Fatalf("order ID %q", o.ID)
	}
	before, err := s.Order(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	cursor := latestCursor(t, s)
	worker := server.Actor{ID: ris.ID, Name: ris.Name, Role: ris.Role}
	// start before accept is refused by the state machine; fn also scribbles on the order before failing.
	_, err = s.UpdateOrder(ctx, o.ID, "", func(x *server.Order) (server.OrderHistory, error) {
		x.Priority = "urgent"
		return server.ApplyOrderAction(x, server.ActStart, worker, server.OrderInput{}, time.Now().UTC())
	})
	if !server.IsCode(err, api.CodeForbidden) && !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("refused action: %v", err)
	}
	after, err := s.Order(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused update changed the order:\nbefore %+v\nafter  %+v", before, after)
	}
	if latestCursor(t, s) != cursor {
		t.Fatal("a refused update moved the change feed")
	}
	accept := func(x *server.Order) (server.OrderHistory, error) {
		return server.ApplyOrderAction(x, server.ActAccept, worker, server.OrderInput{}, time.Now().UTC())
	}
	accepted, err := s.UpdateOrder(ctx, o.ID, "key-accept-1", accept)
	if err != nil || accepted.Status != api.OrderAccepted || accepted.Version != before.Version+1 || len(accepted.History) != len(before.History)+1 {
		t.Fatalf("accept: %+v %v", accepted, err)
	}
	// The same action again under its key (a retry whose first answer was lost) is not applied twice: no
	// refusal for the state it left, no second history entry, no second change.
	again, err := s.UpdateOrder(ctx, o.ID, "key-accept-1", accept)
	if err != nil || again.Version != accepted.Version || len(again.History) != len(accepted.History) {
		t.Fatalf("the accept retried under its key: %+v %v", again, err)
	}
	page, _, err := s.Changes(ctx, server.Scope{Role: api.RoleAdmin}, cursor, 10)
	if err != nil || len(page) != 1 || page[0].Kind != api.KindOrder || page[0].ObjectID != o.ID {
		t.Fatalf("change after accept: %+v %v", page, err)
	}
	if _, err := s.Order(ctx, "ocs_9999"); !server.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown order: %v", err)
	}
}

func aiResults(t *testing.T, s server.Store) {
	doctor, other := user(t, s, "doctor1", api.RoleDoctor), user(t, s, "doctor2", api.RoleDoctor)
	p := patient(t, s, doctor, nil, nil)
	upload := api.AIResultUpload{Model: api.ModelM1, ModelVersion: "1", PatientID: p.ID, Result: json.RawMessage(`{"grade":"G4"}`)}
	r, hash, err := server.NewAIResult(upload, doctor.ID, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	first, created, err := s.CreateAIResult(ctx, r, "key-000001", hash)
	if err != nil || !created || first.ID == "" {
		t.Fatalf("first upload: %+v %v %v", first, created, err)
	}
	again, created, err := s.CreateAIResult(ctx, r, "key-000001", hash)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("retry: %+v created=%v %v, want the stored result", again, created, err)
	}
	upload.Result = json.RawMessage(`{"grade":"G2"}`)
	r2, hash2, _ := server.NewAIResult(upload, doctor.ID, time.Now().UTC())
	if _, _, err := s.CreateAIResult(ctx, r2, "key-000001", hash2); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("same key, other content: %v, want CONFLICT", err)
	}
	r3, hash3, _ := server.NewAIResult(upload, other.ID, time.Now().UTC())
	if _, created, err := s.CreateAIResult(ctx, r3, "key-000001", hash3); err != nil || !created {
		t.Fatalf("another user's key: created=%v %v (keys are per user)", created, err)
	}
	list, err := s.ListAIResults(ctx, server.Scope{Role: api.RoleAdmin}, server.AIResultFilter{PatientID: p.ID})
	if err != nil || len(list) != 2 {
		t.Fatalf("results of the patient: %d %v, want 2", len(list), err)
	}
}

func changes(t *testing.T, s server.Store) {
	doctor := user(t, s, "doctor1", api.RoleDoctor)
	ext, otherExt := user(t, s, "ext1", api.RoleExternal), user(t, s, "ext2", api.RoleExternal)
	start := latestCursor(t, s)
	var mine []int64
	for i := range 5 {
		inst := &ext.ID
		if i%2 == 1 {
			inst = &otherExt.ID
		}
		p := patient(t, s, doctor, inst, nil)
		if i%2 == 0 {
			mine = append(mine, p.ID)
		}
	}
	// The administrator pages through all five in order, two at a time.
	var seqs []int64
	cursor := start
	for {
		page, more, err := s.Changes(ctx, server.Scope{Role: api.RoleAdmin}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 {
			t.Fatalf("a page of %d changes, limit 2", len(page))
		}
		for _, c := range page {
			if c.Seq <= cursor {
				t.Fatalf("change %d after cursor %d", c.Seq, cursor)
			}
			cursor = c.Seq
			seqs = append(seqs, c.Seq)
		}
		if !more {
			break
		}
	}
	if len(seqs) != 5 {
		t.Fatalf("the administrator saw %d changes, want 5", len(seqs))
	}
	page, _, err := s.Changes(ctx, server.Scope{Role: api.RoleExternal, UserID: ext.ID}, start, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != len(mine) {
		t.Fatalf("the institution saw %d changes, want %d", len(page), len(mine))
	}
	for i, c := range page {
		if c.Kind != api.KindPatient || c.ObjectID != fmt.Sprint(mine[i]) {
			t.Fatalf("the institution sees change %+v", c)
		}
	}
}

func audit(t *testing.T, s server.Store) {
	nurse := user(t, s, "nurse1", api.RoleNurse)
	uid := nurse.ID
	pid := int64(42)
	now := time.Now().UTC().Truncate(time.Microsecond) // stores keep times to the microsecond (PostgreSQL's precision)
	occurred := now.Add(-time.Hour)
	recs := []server.AuditRecord{
		{At: now, UserID: &uid, LoginID: "nurse1", Role: api.RoleNurse, Action: "patient.read", ObjectType: "patient", ObjectID: "42",
			PatientID: &pid, Outcome: api.OutcomeSuccess, Status: 200, ClientAddr: "10.0.0.7", Method: "GET", Path: "/api/patients/42/", Source: "server"},
		{At: now, UserID: &uid, LoginID: "nurse1", Role: api.RoleNurse, Action: "viewer.open_series", Outcome: api.OutcomeSuccess,
			Source: "workstation", EventID: "event-0001", OccurredAt: &occurred},
	}
	if n, err := s.AppendAudit(ctx, recs); err != nil || n != 2 {
		t.Fatalf("append: %d %v", n, err)
	}
	if n, err := s.AppendAudit(ctx, recs[1:]); err != nil || n != 0 {
		t.Fatalf("forwarded event again: stored %d (%v), want 0", n, err)
	}
	got, err := s.QueryAudit(ctx, server.AuditFilter{UserID: uid})
	if err != nil || len(got) != 2 || got[0].ID <= got[1].ID {
		t.Fatalf("query: %+v %v, want two records newest first", got, err)
	}
	read := got[1]
	if read.Action != "patient.read" || read.PatientID == nil || *read.PatientID != 42 || read.ClientAddr != "10.0.0.7" || read.Role != api.RoleNurse ||
		read.Status != 200 || !read.At.Equal(now) {
		t.Fatalf("stored record %+v", read)
	}
	if byPatient, err := s.QueryAudit(ctx, server.AuditFilter{PatientID: 42}); err != nil || len(byPatient) != 1 {
		t.Fatalf("by patient: %v %v", byPatient, err)
	}
	if older, err := s.QueryAudit(ctx, server.AuditFilter{Before: got[0].ID}); err != nil || len(older) != 1 || older[0].ID != read.ID {
		t.Fatalf("before %d: %v %v", got[0].ID, older, err)
	}
}

func settings(t *testing.T, s server.Store) {
	if _, ok, err := s.Setting(ctx, "jwt_secret"); err != nil || ok {
		t.Fatalf("unset setting: ok=%v %v", ok, err)
	}
	v, err := s.EnsureSetting(ctx, "jwt_secret", "first")
	if err != nil || v != "first" {
		t.Fatalf("ensure: %q %v", v, err)
	}
	if v, err := s.EnsureSetting(ctx, "jwt_secret", "second"); err != nil || v != "first" {
		t.Fatalf("ensure again: %q %v, want the first value kept", v, err)
	}
}
