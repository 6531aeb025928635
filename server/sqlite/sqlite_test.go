package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/sqlite"
	"github.com/neuronova/neuronova/server/storetest"
)

func open(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// TestStoreContract runs the contract every server.Store meets.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store { s, _ := open(t); return s })
}

// TestAuditIsAppendOnlyInTheDatabase: even SQL that bypasses the store cannot change or delete an audit
// record.
func TestAuditIsAppendOnlyInTheDatabase(t *testing.T) {
	s, path := open(t)
	if _, err := s.AppendAudit(context.Background(), []server.AuditRecord{{At: time.Now().UTC(), Action: "LOGIN_SUCCESS",
		LoginID: "doctor1", Outcome: api.OutcomeSuccess, Source: "server"}}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{"UPDATE audit SET outcome = 'DENIED'", "DELETE FROM audit"} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", stmt, err)
		}
	}
	recs, err := s.QueryAudit(context.Background(), server.AuditFilter{})
	if err != nil || len(recs) != 1 || recs[0].Outcome != api.OutcomeSuccess {
		t.Fatalf("audit after the attempts: %+v %v", recs, err)
	}
}
