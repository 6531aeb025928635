package postgres_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/postgres"
	"github.com/neuronova/neuronova/server/storetest"
)

func TestMain(m *testing.M) { os.Exit(testsvc.Run(m)) }

// open opens a store on a new empty database of the shared PostgreSQL server and returns it with the
// database's URL.
func open(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dsn := testsvc.PostgresDB(t)
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// TestStoreContract runs the contract every server.Store meets.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store { s, _ := open(t); return s })
}

// TestAuditIsAppendOnlyInTheDatabase: even SQL that bypasses the store cannot change, delete or truncate an
// audit record.
func TestAuditIsAppendOnlyInTheDatabase(t *testing.T) {
	s, dsn := open(t)
	if _, err := s.AppendAudit(context.Background(), []server.AuditRecord{{At: time.Now().UTC(), Action: "LOGIN_SUCCESS",
		LoginID: "doctor1", Outcome: api.OutcomeSuccess, Source: "server"}}); err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	for _, stmt := range []string{"UPDATE audit SET outcome = 'DENIED'", "DELETE FROM audit", "TRUNCATE audit"} {
		if _, err := db.Exec(context.Background(), stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", stmt, err)
		}
	}
	recs, err := s.QueryAudit(context.Background(), server.AuditFilter{})
	if err != nil || len(recs) != 1 || recs[0].Outcome != api.OutcomeSuccess {
		t.Fatalf("audit after the attempts: %+v %v", recs, err)
	}
}

// TestTextPostgreSQLCannotHold: an audit record whose path holds NUL or bytes that are not UTF-8 (a URL can) is
// stored with U+FFFD in their place rather than lost; an AI result whose JSON holds such bytes is refused as
// invalid, not an internal error; looking up such a key finds nothing, listing by it is invalid, and a failed
// login under such an ID is refused as invalid.
func TestTextPostgreSQLCannotHold(t *testing.T) {
	s, _ := open(t)
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		if _, err := s.UserByLoginID(ctx, bad); !server.IsCode(err, api.CodeNotFound) {
			t.Errorf("user %q: %v, want NOT_FOUND", bad, err)
		}
		if _, err := s.Order(ctx, bad); !server.IsCode(err, api.CodeNotFound) {
			t.Errorf("order %q: %v, want NOT_FOUND", bad, err)
		}
		if _, err := s.UpdateOrder(ctx, bad, "", nil); !server.IsCode(err, api.CodeNotFound) {
			t.Errorf("update order %q: %v, want NOT_FOUND", bad, err)
		}
		if n, locked, err := s.LoginFailures(ctx, bad); n != 0 || locked || err != nil {
			t.Errorf("failures of %q: %d %v %v", bad, n, locked, err)
		}
		if _, _, err := s.AddLoginFailure(ctx, bad, time.Now(), time.Hour); !server.IsCode(err, api.CodeInvalid) {
			t.Errorf("failure of %q: %v, want INVALID", bad, err)
		}
		if _, err := s.ListPatients(ctx, server.Scope{Role: api.RoleAdmin}, server.PatientFilter{Query: bad}); !server.IsCode(err, api.CodeInvalid) {
			t.Errorf("patients like %q: %v, want INVALID", bad, err)
		}
	}
	n, err := s.AppendAudit(context.Background(), []server.AuditRecord{{At: time.Now().UTC(), Action: "patient.read",
		Outcome: api.OutcomeDenied, Source: "server", Path: "/api/patients/\x00\xff/"}})
	if err != nil || n != 1 {
		t.Fatalf("record with NUL and 0xff in its path: %d %v", n, err)
	}
	recs, err := s.QueryAudit(context.Background(), server.AuditFilter{})
	if err != nil || len(recs) != 1 || recs[0].Path != "/api/patients/\uFFFD\uFFFD/" {
		t.Fatalf("stored: %+v %v", recs, err)
	}
	doctor := &server.User{User: api.User{LoginID: "doctor1", Name: "d", Role: api.RoleDoctor, IsActive: true, CreatedAt: time.Now()}}
	if err := s.CreateUser(context.Background(), doctor); err != nil {
		t.Fatal(err)
	}
	p, err := server.NewPatient(api.CreatePatientRequest{Name: "P", BirthDate: "1970-01-01", Gender: "M"}, doctor.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePatient(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	r, hash, err := server.NewAIResult(api.AIResultUpload{Model: api.ModelM1, ModelVersion: "1", PatientID: p.ID,
		Result: json.RawMessage("{\"note\":\"\xff\"}")}, doctor.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateAIResult(context.Background(), r, "key-badutf8", hash); !server.IsCode(err, api.CodeInvalid) {
		t.Fatalf("result with a 0xff byte: %v, want INVALID", err)
	}
}

// TestNoWriteWithoutItsAuditRecord: when the database refuses a write's audit record, the write does not
// happen either: record and write commit together or not at all.
func TestNoWriteWithoutItsAuditRecord(t *testing.T) {
	s, dsn := open(t)
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := db.Exec(context.Background(), `CREATE FUNCTION refuse_record() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'record refused'; END $$;
		CREATE TRIGGER refuse_user_create BEFORE INSERT ON audit FOR EACH ROW WHEN (NEW.action = 'user.create')
		EXECUTE FUNCTION refuse_record()`); err != nil {
		t.Fatal(err)
	}
	a := &server.TxAudit{Record: func(error) server.AuditRecord {
		return server.AuditRecord{At: time.Now().UTC(), Action: "user.create", Outcome: api.OutcomeSuccess, Source: "server"}
	}}
	u := &server.User{User: api.User{LoginID: "nurse1", Name: "n", Role: api.RoleNurse, IsActive: true, CreatedAt: time.Now()}}
	if err := s.CreateUser(server.WithTxAudit(context.Background(), a), u); err == nil || !strings.Contains(err.Error(), "record refused") || a.Stored() {
		t.Fatalf("a write whose record is refused: %v, record stored %v", err, a.Stored())
	}
	if _, err := s.UserByLoginID(context.Background(), "nurse1"); !server.IsCode(err, api.CodeNotFound) {
		t.Fatalf("the user was stored without its record: %v", err)
	}
}
