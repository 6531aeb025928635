package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/internal/testsvc"
	"github.com/neuronova/neuronova/server"
	"github.com/neuronova/neuronova/server/storetest"
)

// TestBackupAndRestore, on SQLite and on PostgreSQL: a backup taken while the server runs and writes restores
// into a new database whole; a backup of a quiet server restores to exactly what the server's database reads
// (the store contract's read methods find the same users, patients, orders and their history, results,
// changes, audit records and jobs). A restore never overwrites a database with data, and refuses a file that
// is not a backup.
func TestBackupAndRestore(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			newDB := func(name string) string {
				if kind == "postgres" {
					return testsvc.PostgresDB(t)
				}
				return filepath.Join(dir, name+".db")
			}
			backupAndRestore(t, dir, newDB)
		})
	}
}

func backupAndRestore(t *testing.T, dir string, newDB func(name string) string) {
	orthancURL, user, password := testsvc.Orthanc(t)
	db := newDB("server")
	env := map[string]string{"NEURONOVA_DB": db, "ORTHANC_URL": orthancURL, "ORTHANC_USER": user, "ORTHANC_PASSWORD": password,
		"REDIS_ADDR": testsvc.Redis(t), "NEURONOVA_REDIS_PREFIX": "backup-" + testsvc.RandomHex(3) + ":", "NEURONOVA_BCRYPT_COST": "4"}
	getenv := func(k string) string { return env[k] }
	command := func(name string, args ...string) {
		t.Helper()
		var errOut bytes.Buffer
		if code := runCommand(context.Background(), name, args, getenv, io.Discard, &errOut); code != 0 {
			t.Fatalf("%s %q: exit %d: %s", name, args, code, errOut.String())
		}
	}
	var printed syncBuffer
	r := startReplica(t, env, &printed, "--demo", "--addr", "127.0.0.1:0")
	m := regexp.MustCompile(`(?m)^demo account: DOCTOR (\S+) (\S+)$`).FindStringSubmatch(printed.String())
	var tok api.Tokens
	client := &http.Client{Timeout: time.Minute}
	apiCall(t, client, "POST", r.base+"/api/auth/login/", "", api.LoginRequest{LoginID: m[1], Password: m[2]}, &tok, nil)

	// A backup amid writes.
	ctx, stopWriting := context.WithCancel(context.Background())
	written := make(chan int)
	go func() {
		n := 0
		for ctx.Err() == nil {
			apiCall(t, client, "POST", r.base+"/api/patients/", tok.Access, api.CreatePatientRequest{Name: "Written During Backup",
				BirthDate: "1970-01-01", Gender: "O"}, nil, nil)
			n++
		}
		written <- n
	}()
	time.Sleep(200 * time.Millisecond)
	busy := filepath.Join(dir, "busy.backup")
	command("backup", "--out", busy)
	stopWriting()
	t.Logf("backup amid writes: %d patients created meanwhile", <-written)
	amid := newDB("amid")
	command("restore", "--in", busy, "--db", amid)
	s := openOrFail(t, amid)
	storetest.Snapshot(t, s) // whole and readable
	s.Close()

	// A backup of a quiet server reads exactly like the server's own database.
	live := openOrFail(t, db)
	defer live.Close()
	want := storetest.Snapshot(t, live)
	quiet, again := filepath.Join(dir, "quiet.backup"), newDB("again")
	command("backup", "--out", quiet)
	command("restore", "--in", quiet, "--db", again)
	back := openOrFail(t, again)
	defer back.Close()
	if got := storetest.Snapshot(t, back); got != want {
		t.Fatal("the restored database reads differently from the server's")
	}

	var errOut bytes.Buffer
	if code := runCommand(context.Background(), "restore", []string{"--in", quiet, "--db", again}, getenv, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "never overwrites") {
		t.Fatalf("restore over a database with data: exit %d: %s", code, errOut.String())
	}
	bogus := filepath.Join(dir, "bogus")
	os.WriteFile(bogus, []byte("not a database"), 0o600)
	errOut.Reset()
	if code := runCommand(context.Background(), "restore", []string{"--in", bogus, "--db", newDB("x")}, getenv, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "not a") {
		t.Fatalf("restore of a file that is no backup: exit %d: %s", code, errOut.String())
	}
}

func openOrFail(t *testing.T, db string) server.Store {
	t.Helper()
	s, err := openStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
