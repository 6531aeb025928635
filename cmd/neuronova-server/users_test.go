package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/sqlite"
)

// TestAccountCommands: init makes the first SYSTEMMANAGER of an empty database (with a password from stdin, or
// one generated, shown once and to be changed) and refuses once accounts exist; user add, passwd, unlock,
// deactivate and list manage accounts from the host; each change is in the audit log with the host operator
// as its actor.
func TestAccountCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "server.db")
	getenv := func(k string) string { return map[string]string{"NEURONOVA_DB": db, "NEURONOVA_BCRYPT_COST": "4"}[k] }
	os.Setenv("NEURONOVA_BCRYPT_COST", "4")
	defer os.Unsetenv("NEURONOVA_BCRYPT_COST")
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := runCommand(context.Background(), args[0], args[1:], getenv, &out, &errOut); code != want {
			t.Fatalf("%q: exit %d, want %d: %s%s", args, code, want, out.String(), errOut.String())
		}
		return out.String() + errOut.String()
	}
	out := run(0, "init", "--login", "sysadmin", "--name", "Hospital IT")
	generated := regexp.MustCompile(`password \(shown once; to be changed at first sign-in\): (\S+)`).FindStringSubmatch(out)
	if generated == nil {
		t.Fatalf("init printed no password: %s", out)
	}
	if out := run(1, "init", "--login", "second"); !strings.Contains(out, "init only makes the first one") {
		t.Fatalf("a second init: %s", out)
	}
	out = run(0, "user", "add", "--login", "ris1", "--role", "RIS", "--name", "Reading Room 1")
	temp := regexp.MustCompile(`temporary password .*: (\S+)`).FindStringSubmatch(out)
	if temp == nil {
		t.Fatalf("user add printed no password: %s", out)
	}
	if out := run(1, "user", "add", "--login", "ris1", "--role", "RIS"); !strings.Contains(out, "taken") {
		t.Fatalf("a second ris1: %s", out)
	}
	if out := run(1, "user", "add", "--login", "x1", "--role", "WIZARD"); !strings.Contains(out, "WIZARD") {
		t.Fatalf("an unknown role: %s", out)
	}
	run(0, "user", "passwd", "--login", "ris1")
	run(0, "user", "unlock", "--login", "ris1")
	run(0, "user", "deactivate", "--login", "ris1")
	if out := run(0, "user", "list"); !regexp.MustCompile(`ris1 +RIS +Reading Room 1 +deactivated, must change password`).MatchString(out) ||
		!strings.Contains(out, "sysadmin") {
		t.Fatalf("user list:\n%s", out)
	}
	if out := run(2, "user", "frob"); !strings.Contains(out, "unknown command") {
		t.Fatalf("an unknown verb: %s", out)
	}

	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, err := s.UserByLoginID(context.Background(), "sysadmin")
	if err != nil || admin.Role != api.RoleSystemManager || !admin.MustChangePassword || admin.Name != "Hospital IT" {
		t.Fatalf("the first account: %+v %v", admin, err)
	}
	ris, _ := s.UserByLoginID(context.Background(), "ris1")
	if ris.IsActive || !ris.MustChangePassword || ris.TokensValidAfter.IsZero() {
		t.Fatalf("ris1 after passwd and deactivate: %+v", ris)
	}
	recs, err := s.QueryAudit(context.Background(), server.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, r := range recs {
		if r.Source != "cli" || !strings.HasPrefix(r.LoginID, "host:") || r.Outcome != api.OutcomeSuccess {
			t.Errorf("record %+v is not the operator's", r)
		}
		actions[r.Action] = true
	}
	for _, a := range []string{"user.init", "user.create", "user.password_reset", "user.unlock", "user.deactivate"} {
		if !actions[a] {
			t.Errorf("no audit record of %s (have %v)", a, actions)
		}
	}
}
