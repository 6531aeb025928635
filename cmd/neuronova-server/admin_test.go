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
	"github.com/neuronova/neuronova/server/sqlite"
	"github.com/neuronova/neuronova/server/storetest"
)

// TestBackupAndRestore: a backup taken while the server runs and writes, restored into a new database, holds
// what the server held when it was taken: the store contract's read methods find the same users, patients,
// orders and their history, results, changes, audit records and jobs. A restore never overwrites a database
// with data, and refuses a file that is not a backup.
func TestBackupAndRestore(t *testing.T) {
	orthancURL, user, password := testsvc.Orthanc(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "server.db")
	env := map[string]string{"NEURONOVA_DB": db, "ORTHANC_URL": orthancURL, "ORTHANC_USER": user, "ORTHANC_PASSWORD": password,
		"REDIS_ADDR": testsvc.Redis(t), "NEURONOVA_REDIS_PREFIX": "backup-" + testsvc.RandomHex(3) + ":", "NEURONOVA_BCRYPT_COST": "4"}
	var printed syncBuffer
	r := startReplica(t, env, &printed, "--demo", "--addr", "127.0.0.1:0")
	m := regexp.MustCompile(`(?m)^demo account: DOCTOR (\S+) (\S+)$`).FindStringSubmatch(printed.String())
	var tok api.Tokens
	client := &http.Client{Timeout: time.Minute}
	apiCall(t, client, "POST", r.base+"/api/auth/login/", "", api.LoginRequest{LoginID: m[1], Password: m[2]}, &tok, nil)
	// The server keeps writing while the backup is taken.
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
	backupFile := filepath.Join(dir, "backup.db")
	var out, errOut bytes.Buffer
	if code := runCommand(context.Background(), "backup", []string{"--out", backupFile}, func(k string) string { return env[k] }, &out, &errOut); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut.String())
	}
	stopWriting()
	t.Logf("%s; %d patients created meanwhile", strings.TrimSpace(out.String()), <-written)
	restored := filepath.Join(dir, "restored.db")
	getenv := func(k string) string { return map[string]string{"NEURONOVA_DB": restored}[k] }
	if code := runCommand(context.Background(), "restore", []string{"--in", backupFile}, getenv, io.Discard, &errOut); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errOut.String())
	}
	to, err := sqlite.Open(context.Background(), restored)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Snapshot(t, to) // whole and readable although taken amid writes
	to.Close()

	// A backup of a quiet server, restored, reads exactly like the server's own database.
	live, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	want := storetest.Snapshot(t, live)
	quiet, again := filepath.Join(dir, "quiet.db"), filepath.Join(dir, "again.db")
	if code := runCommand(context.Background(), "backup", []string{"--out", quiet}, func(k string) string { return env[k] }, io.Discard, &errOut); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut.String())
	}
	if code := runCommand(context.Background(), "restore", []string{"--in", quiet, "--db", again}, getenv, io.Discard, &errOut); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errOut.String())
	}
	back, err := sqlite.Open(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if got := storetest.Snapshot(t, back); got != want {
		t.Fatal("the restored database reads differently from the server's")
	}

	errOut.Reset()
	if code := runCommand(context.Background(), "restore", []string{"--in", backupFile}, getenv, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "never overwrites") {
		t.Fatalf("restore over a database with data: exit %d: %s", code, errOut.String())
	}
	bogus := filepath.Join(dir, "bogus")
	os.WriteFile(bogus, []byte("not a database"), 0o600)
	errOut.Reset()
	if code := runCommand(context.Background(), "restore", []string{"--in", bogus, "--db", filepath.Join(dir, "x.db")}, getenv, io.Discard, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "not an SQLite backup") {
		t.Fatalf("restore of a file that is no backup: exit %d: %s", code, errOut.String())
	}
}
