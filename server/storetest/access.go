package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

func principal(u *server.User, jti, session string, issued time.Time) server.Principal {
	return server.Principal{UserID: u.ID, LoginID: u.LoginID, Role: u.Role, TokenID: jti, SessionID: session, IssuedAt: issued,
		ExpiresAt: issued.Add(15 * time.Minute)}
}

// accessRevocation: a token is refused once revoked itself, once its session is, once its account's tokens are
// revoked after it was issued (to the millisecond), and while its account is deactivated or locked.
func accessRevocation(t *testing.T, s server.Store) {
	u := user(t, s, "nurse1", api.RoleNurse)
	now := time.Now().UTC().Truncate(time.Millisecond)
	ok := func(p server.Principal, want bool, what string) {
		t.Helper()
		err := s.CheckAccess(ctx, p)
		if want && err != nil {
			t.Fatalf("%s: refused: %v", what, err)
		}
		if !want && !server.IsCode(err, api.CodeUnauthorized) {
			t.Fatalf("%s: %v, want UNAUTHORIZED", what, err)
		}
	}
	if err := s.CreateRefreshToken(ctx, server.RefreshToken{Hash: "r1", Family: "sess-1", UserID: u.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	a, b := principal(u, "jti-a", "sess-1", now), principal(u, "jti-b", "sess-2", now)
	ok(a, true, "a fresh token")
	if err := s.RevokeAccessToken(ctx, "jti-a", u.ID, a.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	ok(a, false, "a revoked token")
	ok(b, true, "another token of the account")
	ok(principal(u, "jti-c", "sess-1", now), true, "another token of the session before it ends")
	if err := s.RevokeSession(ctx, "sess-1", u.ID, now); err != nil {
		t.Fatal(err)
	}
	ok(principal(u, "jti-c", "sess-1", now), false, "a token of an ended session")
	if _, err := s.UseRefreshToken(ctx, "r1", server.RefreshToken{Hash: "r2", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, now); !server.IsCode(err, api.CodeUnauthorized) {
		t.Fatalf("the refresh token of an ended session: %v", err)
	}
	if _, err := s.UpdateUser(ctx, u.ID, func(x *server.User) error { x.TokensValidAfter = now; return nil }); err != nil {
		t.Fatal(err)
	}
	ok(b, false, "a token issued in the millisecond the account's tokens were revoked")
	ok(principal(u, "jti-d", "sess-3", now.Add(time.Millisecond)), true, "a token issued after")
	later := principal(u, "jti-e", "sess-3", now.Add(time.Second))
	if _, err := s.UpdateUser(ctx, u.ID, func(x *server.User) error { x.IsLocked = true; return nil }); err != nil {
		t.Fatal(err)
	}
	ok(later, false, "a token of a locked account")
	if _, err := s.UpdateUser(ctx, u.ID, func(x *server.User) error { x.IsLocked, x.IsActive = false, false; return nil }); err != nil {
		t.Fatal(err)
	}
	ok(later, false, "a token of a deactivated account")
	ok(server.Principal{UserID: u.ID + 1000, TokenID: "x", SessionID: "y", IssuedAt: now}, false, "a token of an account that does not exist")
}

// loginFailures: failures count per login ID, known or not, alike; the fifth locks the ID and its account and
// ends the account's tokens; an unlock forgets them; a login starts a session and forgets them too.
func loginFailures(t *testing.T, s server.Store) {
	u := user(t, s, "ris1", api.RoleRIS)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, id := range []string{"ris1", "nobody"} {
		for i := 1; i <= server.MaxLoginFailures; i++ {
			n, locked, err := s.AddLoginFailure(ctx, id, now, time.Hour)
			if err != nil || n != i || locked != (i == server.MaxLoginFailures) {
				t.Fatalf("%s failure %d: count %d locked %v (%v)", id, i, n, locked, err)
			}
		}
		if n, locked, err := s.LoginFailures(ctx, id); err != nil || n != server.MaxLoginFailures || !locked {
			t.Fatalf("%s after the lock: %d %v %v", id, n, locked, err)
		}
	}
	got, _ := s.UserByID(ctx, u.ID)
	if !got.IsLocked || got.TokensValidAfter.Before(now) {
		t.Fatalf("the account did not lock with its login ID: %+v", got)
	}
	if _, err := s.UpdateUser(ctx, u.ID, func(x *server.User) error { x.IsLocked, x.LockedAt = false, nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, locked, _ := s.LoginFailures(ctx, "ris1"); n != 0 || locked {
		t.Fatalf("after the unlock: %d failures, locked %v", n, locked)
	}
	// Failures older than the window start the count again; a login forgets them.
	s.AddLoginFailure(ctx, "ris1", now.Add(-2*time.Hour), time.Hour)
	if n, _, _ := s.AddLoginFailure(ctx, "ris1", now, time.Hour); n != 1 {
		t.Fatalf("a failure after the window counted as %d", n)
	}
	started, err := s.StartSession(ctx, u.ID, server.RefreshToken{Hash: "s1", Family: "sess-9", UserID: u.ID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, now)
	if err != nil || started.LastLogin == nil {
		t.Fatalf("StartSession: %+v %v", started, err)
	}
	if n, _, _ := s.LoginFailures(ctx, "ris1"); n != 0 {
		t.Fatalf("%d failures left after a login", n)
	}
	if _, err := s.UseRefreshToken(ctx, "s1", server.RefreshToken{Hash: "s2", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		t.Fatalf("the session's refresh token: %v", err)
	}
}

// jobs: a job stays unfinished until a result of it is stored or its end is recorded; the first end stays.
func jobs(t *testing.T, s server.Store) {
	doctor := user(t, s, "doctor1", api.RoleDoctor)
	p := patient(t, s, doctor, nil, nil)
	now := time.Now().UTC()
	mk := func(id string) *api.Job {
		j, err := server.NewJob(api.JobRequest{Model: api.ModelM1, PatientID: p.ID, Inputs: json.RawMessage(`{"series":["1.2"]}`)}, doctor.ID, id, now)
		if err == nil {
			err = s.CreateJob(ctx, j)
		}
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	a, b := mk("job-a"), mk("job-b")
	if err := s.CreateJob(ctx, a); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("a job stored twice: %v", err)
	}
	if list, err := s.UnfinishedJobs(ctx, 0); err != nil || len(list) != 2 || string(list[0].Inputs) != `{"series":["1.2"]}` {
		t.Fatalf("unfinished: %+v %v", list, err)
	}
	r, hash, err := server.NewAIResult(api.AIResultUpload{Model: api.ModelM1, ModelVersion: "1", PatientID: p.ID, Result: json.RawMessage(`{"grade":"G2"}`)}, doctor.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	r.JobID = a.ID
	stored, _, err := s.CreateAIResult(ctx, r, "job:"+a.ID, hash)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Job(ctx, a.ID); err != nil || got.Status != api.JobDone || got.ResultID != stored.ID {
		t.Fatalf("job of a stored result: %+v %v", got, err)
	}
	b.Status, b.Error = api.JobFailed, "out of memory"
	if err := s.FinishJob(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	b.Status = api.JobDone
	if err := s.FinishJob(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Job(ctx, b.ID); got.Status != api.JobFailed {
		t.Fatalf("a second end replaced the first: %+v", got)
	}
	if list, _ := s.UnfinishedJobs(ctx, 0); len(list) != 0 {
		t.Fatalf("ended jobs still unfinished: %+v", list)
	}
	if _, err := s.Job(ctx, "nope"); !server.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}

// txAudit: a write carries the call's audit record and its events in its own transaction, once; a write that
// fails carries neither. (That a record the database refuses fails its write is shown against the real server, with a trigger:
// server/httpapi TestNoWriteWithoutItsAuditRecord.)
func txAudit(t *testing.T, s server.Store) {
	doctor := user(t, s, "doctor1", api.RoleDoctor)
	record := func(action string) *server.TxAudit {
		return &server.TxAudit{Record: func(refusal error) server.AuditRecord {
			id := doctor.ID
			return server.AuditRecord{At: time.Now().UTC(), UserID: &id, LoginID: doctor.LoginID, Action: action,
				Outcome: api.OutcomeSuccess, Status: 201, Source: "server"}
		}}
	}
	a := record("patient.create")
	before, err := s.EventsAfter(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var created *server.Patient
	a.Event(func() *server.Event {
		return &server.Event{Notification: api.Notification{Type: api.EventOrderCreated, PatientID: created.ID, Message: "made"}}
	})
	actx := server.WithTxAudit(ctx, a)
	p, err := server.NewPatient(api.CreatePatientRequest{Name: "Audited", BirthDate: "1970-01-01", Gender: "F"}, doctor.ID, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	created = p
	if err := s.CreatePatient(actx, p); err != nil || !a.Stored() {
		t.Fatalf("create: %v, record stored %v", err, a.Stored())
	}
	// The write's event is in the outbox, built with the ID the write gave, numbered after the earlier ones.
	events, err := s.EventsAfter(ctx, 0, 1000)
	if err != nil || len(events) != len(before)+1 {
		t.Fatalf("outbox after the write: %d events (%v), want %d", len(events), err, len(before)+1)
	}
	ev := events[len(events)-1]
	if ev.PatientID != p.ID || ev.Message != "made" || ev.ID != server.EventID(ev.Seq) || (len(before) > 0 && ev.Seq <= before[len(before)-1].Seq) {
		t.Fatalf("the write's event: %+v", ev)
	}
	if _, err := s.UpdatePatient(actx, p.ID, func(x *server.Patient) error { x.Severity = "mild"; return nil }); err != nil {
		t.Fatal(err)
	}
	recs, err := s.QueryAudit(ctx, server.AuditFilter{Action: "patient.create"})
	if err != nil || len(recs) != 1 || recs[0].ObjectType != "patient" || recs[0].PatientID == nil || *recs[0].PatientID != p.ID {
		t.Fatalf("records of the call: %+v %v, want one naming the new patient", recs, err)
	}
	b := record("patient.update")
	b.Event(func() *server.Event {
		return &server.Event{Notification: api.Notification{Type: api.EventOrderCreated}}
	})
	refused := errors.New("refused")
	if _, err := s.UpdatePatient(server.WithTxAudit(ctx, b), p.ID, func(*server.Patient) error { return refused }); !errors.Is(err, refused) || b.Stored() {
		t.Fatalf("a failed write: %v, record stored %v", err, b.Stored())
	}
	if recs, _ := s.QueryAudit(ctx, server.AuditFilter{Action: "patient.update"}); len(recs) != 0 {
		t.Fatalf("a failed write left a record: %+v", recs)
	}
	if after, _ := s.EventsAfter(ctx, ev.Seq, 1000); len(after) != 0 {
		t.Fatalf("a failed write left events: %+v", after)
	}
}

// withdrawal: a withdrawn result leaves the lists, refuses reviews, and its changes carry no content.
func withdrawal(t *testing.T, s server.Store) {
	doctor := user(t, s, "doctor1", api.RoleDoctor)
	admin := user(t, s, "admin1", api.RoleAdmin)
	p := patient(t, s, doctor, nil, nil)
	r, hash, _ := server.NewAIResult(api.AIResultUpload{Model: api.ModelM1, ModelVersion: "1", PatientID: p.ID,
		Result: json.RawMessage(`{"secret":"content"}`)}, doctor.ID, time.Now().UTC())
	stored, _, err := s.CreateAIResult(ctx, r, "key-withdraw", hash)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.WithdrawAIResult(ctx, stored.ID, admin.ID, "wrong patient", time.Now().UTC())
	if err != nil || w.WithdrawnAt == nil || w.WithdrawReason != "wrong patient" {
		t.Fatalf("withdraw: %+v %v", w, err)
	}
	if _, err := s.WithdrawAIResult(ctx, stored.ID, admin.ID, "again", time.Now().UTC()); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("second withdrawal: %v", err)
	}
	if list, _ := s.ListAIResults(ctx, server.Scope{Role: api.RoleAdmin}, server.AIResultFilter{PatientID: p.ID}); len(list) != 0 {
		t.Fatalf("listed after withdrawal: %+v", list)
	}
	if _, err := s.UpdateAIResult(ctx, stored.ID, func(*server.AIResult) error { return nil }); !server.IsCode(err, api.CodeConflict) {
		t.Fatalf("review of a withdrawn result: %v", err)
	}
	cs, _, err := s.Changes(ctx, server.Scope{Role: api.RoleAdmin}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cs {
		if c.ObjectID == stored.ID {
			n++
			if strings.Contains(string(c.Data), "secret") || !strings.Contains(string(c.Data), "withdrawn_at") {
				t.Fatalf("change %d of the withdrawn result: %s", c.Seq, c.Data)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d changes of the result, want its creation and its withdrawal", n)
	}
}
