package testsvc

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// shmExists reports whether System V shared-memory segment id exists.
func shmExists(t *testing.T, id int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == strconv.Itoa(id) {
			return true
		}
	}
	return false
}

// shmID is the segment ID a server's postmaster.pid names.
func shmID(t *testing.T, p *PostgresServer) int {
	t.Helper()
	b, err := os.ReadFile(p.Dir + "/data/postmaster.pid")
	if err != nil {
		t.Fatal(err)
	}
	id, err := strconv.Atoi(strings.Fields(strings.Split(string(b), "\n")[6])[1])
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPostgresRestartKeepsDataAndLeavesNoSegment: a committed row survives a SIGKILL and a restart on the same
// port and data; a server stopped with SIGKILL leaves no System V segment behind.
func TestPostgresRestartKeepsDataAndLeavesNoSegment(t *testing.T) {
	ctx := context.Background()
	p := StartPostgres(t)
	exec := func(sql string) string {
		t.Helper()
		c, err := pgx.Connect(ctx, p.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var out string
		if err := c.QueryRow(ctx, sql).Scan(&out); err != nil && err != pgx.ErrNoRows {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}
	exec("CREATE TABLE kept (v text)")
	exec("INSERT INTO kept VALUES ('before the crash') RETURNING v")
	first := shmID(t, p)
	p.Restart(t, true)
	if got := exec("SELECT v FROM kept"); got != "before the crash" {
		t.Fatalf("after the restart: %q", got)
	}
	second := shmID(t, p)
	deadline := time.Now().Add(10 * time.Second)
	for shmExists(t, first) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // the killed server's backends notice its death and detach
	}
	if shmExists(t, first) {
		t.Errorf("segment %d of the killed server is still there", first)
	}
	p.stop()
	for shmExists(t, second) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if shmExists(t, second) {
		t.Errorf("segment %d of the stopped server is still there", second)
	}
}
