package postgres_test

import (
	"context"
	"os"
	"testing"

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
