package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

// Snapshot reads, through the store's read methods alone, what it holds — users, patients, orders with their
// history, AI results, the change feed, the audit log and the unfinished jobs — as text, so that two stores
// (a database and its restored backup) can be compared. It covers up to 1,000 of each kind.
func Snapshot(t *testing.T, s server.Store) string {
	t.Helper()
	all := server.Scope{Role: api.RoleSystemManager}
	var out []any
	add := func(name string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("snapshot %s: %v", name, err)
		}
		out = append(out, name, v)
	}
	users, err := s.ListUsers(ctx, "")
	add("users", users, err)
	patients, err := s.ListPatients(ctx, all, server.PatientFilter{Limit: 1000})
	add("patients", patients, err)
	orders, err := s.ListOrders(ctx, all, server.OrderFilter{Limit: 1000})
	for i, o := range orders {
		if err == nil {
			orders[i], err = s.Order(ctx, o.ID) // with its history
		}
	}
	add("orders", orders, err)
	results, err := s.ListAIResults(ctx, all, server.AIResultFilter{Limit: 500})
	add("results", results, err)
	changes, _, err := s.Changes(ctx, all, 0, 1000)
	add("changes", changes, err)
	audit, err := s.QueryAudit(ctx, server.AuditFilter{Limit: 1000})
	add("audit", audit, err)
	jobs, err := s.UnfinishedJobs(ctx, 0)
	add("jobs", jobs, err)
	secret, _, err := s.Setting(ctx, "jwt_secret")
	add("jwt_secret", secret, err)
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) == 0 {
		t.Fatal(fmt.Errorf("snapshot of an empty store"))
	}
	return string(b)
}
