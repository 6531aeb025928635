package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server/postgres"
	"github.com/neuronova/neuronova/server/sqlite"
)

// TestDBSelectsTheStore: --db with a postgres:// or postgresql:// URL opens PostgreSQL, a path SQLite; the log
// shows the URL without its password.
func TestDBSelectsTheStore(t *testing.T) {
	ctx := context.Background()
	dsn := testsvc.PostgresDB(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	for _, db := range []string{dsn, "postgresql" + strings.TrimPrefix(dsn, "postgres")} {
		s, err := openStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*postgres.Store); !ok {
			t.Errorf("--db %s opened %T", dbName(db), s)
		}
		s.Close()
		if name := dbName(db); password == "" || strings.Contains(name, password) || !strings.Contains(name, "127.0.0.1") {
			t.Errorf("logged as %q", name)
		}
	}
	path := filepath.Join(t.TempDir(), "server.db")
	s, err := openStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok || dbName(path) != path {
		t.Errorf("--db %s opened %T, logged as %q", path, s, dbName(path))
	}
}
