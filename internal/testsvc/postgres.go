package testsvc

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/neuronova/neuronova/internal/testenv"
)

const postgresInstall = "apt-get install postgresql"

// postgresUser is the system account PostgreSQL runs as when the tests run as root, which PostgreSQL refuses
// to run as; Debian's postgresql package creates it.
const postgresUser = "postgres"

var (
	postgresOnce   sync.Once
	postgresShared *PostgresServer
	postgresErr    error
)

// Postgres returns the URL of the maintenance database ("postgres") of the PostgreSQL server shared by the
// tests of this binary, as its superuser. Tests that store anything take a database of their own with
// PostgresDB.
func Postgres(t testing.TB) string {
	t.Helper()
	return sharedPostgres(t).URL("postgres")
}

// PostgresDB creates an empty database on the shared PostgreSQL server for the calling test, drops it when the
// test ends, and returns its URL.
func PostgresDB(t testing.TB) string {
	t.Helper()
	return sharedPostgres(t).NewDB(t)
}

func sharedPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin := postgresBin(t)
	postgresOnce.Do(func() {
		postgresShared, postgresErr = newPostgres(bin)
		if postgresErr == nil {
			sharedMu.Lock()
			shared = append(shared, postgresShared.svc)
			sharedMu.Unlock()
		}
	})
	if postgresErr != nil {
		t.Fatalf("start PostgreSQL: %v", postgresErr)
	}
	return postgresShared
}

// PostgresServer is a PostgreSQL server on a free loopback port (listen_addresses 127.0.0.1, its Unix socket in
// its own folder), with a cluster made by initdb in a temporary folder: password authentication
// (scram-sha-256) for the superuser postgres, UTF-8, locale C, max_connections 200 (tests open several
// pools), fsync off (the data is temporary; a killed server loses no commit without fsync, only a crash of
// the machine would). It can be restarted on the same port and data.
type PostgresServer struct {
	Port     int
	Password string // of the superuser postgres
	Dir      string // the cluster's folder (initdb's data directory is Dir/data)

	argv  []string
	mu    sync.Mutex
	svc   *service
	shmID int // of the running server's System V segment; -1 before it is known
}

// StartPostgres starts a PostgreSQL server for the calling test alone and stops it (and removes its data)
// when the test ends.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	p, err := newPostgres(postgresBin(t))
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(p.stop)
	return p
}

// URL returns the URL of database db on the server, as the superuser.
func (p *PostgresServer) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(postgresUser, p.Password),
		Host: "127.0.0.1:" + strconv.Itoa(p.Port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// NewDB creates an empty database for the calling test, drops it when the test ends (after the cleanups the
// test registers later, such as closing its pools), and returns its URL.
func (p *PostgresServer) NewDB(t testing.TB) string {
	t.Helper()
	name := "test_" + RandomHex(8)
	if err := p.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := p.exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return p.URL(name)
}

// exec runs one statement in the maintenance database.
func (p *PostgresServer) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

// Restart stops the server, with SIGINT (a fast shutdown: sessions end, the data is checkpointed) or, when
// hard, with SIGKILL to it and its backends (a crash: the next start recovers from the WAL), then starts it
// again on the same port and data and waits until it answers.
func (p *PostgresServer) Restart(t testing.TB, hard bool) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if hard {
		p.kill()
	} else {
		p.svc.kill(syscall.SIGINT)
	}
	svc, err := launchIn("postgres", p.Dir, p.argv, nil)
	if err == nil {
		err = p.ready(svc)
	}
	if err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	p.svc = svc
}

func (p *PostgresServer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kill()
	os.RemoveAll(p.Dir)
}

// kill sends SIGKILL to the server and its backends (its process group: the harness starts it as a group
// leader) and waits until they have let go of its shared memory: until then a server starting on the same
// data directory refuses to, taking them for a server still running.
func (p *PostgresServer) kill() {
	if p.svc.cmd.Process != nil {
		syscall.Kill(-p.svc.cmd.Process.Pid, syscall.SIGKILL)
	}
	p.svc.kill(syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for p.shmID >= 0 && time.Now().Before(deadline) {
		if _, err := unix.SysvShmCtl(p.shmID, unix.IPC_STAT, &unix.SysvShmDesc{}); err != nil {
			return // removed: the last process detached
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ready waits until the server answers a query, then has its System V segment removed once its last user
// detaches (see releaseSysV) and notes the segment's ID.
func (p *PostgresServer) ready(svc *service) error {
	err := svc.waitReady(30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, p.URL("postgres"))
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		return c.Ping(ctx)
	})
	if err == nil {
		p.shmID, err = releaseSysV(filepath.Join(p.Dir, "data"))
	}
	if err != nil {
		svc.kill(syscall.SIGKILL)
	}
	return err
}

// releaseSysV marks the server's small System V shared-memory segment for removal. The kernel removes it once
// the server and its backends detach, however they end: the harness stops servers with SIGKILL, after which
// PostgreSQL leaves the segment behind, and left segments would pile up run after run until kernel.shmmni is
// reached. PostgreSQL looks the segment up again only when a server starts on the same data directory (it
// refuses while processes are still attached, which kill waits out). Its ID is on the seventh line of
// postmaster.pid ("key shmid").
func releaseSysV(data string) (id int, err error) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return -1, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 || len(strings.Fields(lines[6])) != 2 {
		return -1, fmt.Errorf("postmaster.pid has no shared-memory line: %q", b)
	}
	if id, err = strconv.Atoi(strings.Fields(lines[6])[1]); err != nil {
		return -1, fmt.Errorf("postmaster.pid: shared-memory ID: %w", err)
	}
	if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
		return -1, fmt.Errorf("mark shared-memory segment %d for removal: %w", id, err)
	}
	return id, nil
}

// postgresBin returns the folder of PostgreSQL's programs: that of initdb on the PATH, else the newest
// /usr/lib/postgresql/*/bin (where Debian installs them, off the PATH). It skips the test, or fails it under
// NEURONOVA_STRICT_TESTS, when there is none, or when this process is root and there is no postgres account.
func postgresBin(t testing.TB) string {
	t.Helper()
	candidates := []string{"initdb"}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		candidates = append(candidates, filepath.Join(d, "initdb"))
	}
	initdb := findProgram(t, postgresInstall, candidates...)
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	if os.Geteuid() == 0 {
		if _, _, err := postgresIDs(); err != nil {
			testenv.Missing(t, "the "+postgresUser+" account", "run PostgreSQL, which refuses to run as root", postgresInstall)
		}
	}
	return filepath.Dir(initdb)
}

// pgVersion is the major version in a path /usr/lib/postgresql/<version>/bin.
func pgVersion(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// postgresIDs returns the user and group IDs of the postgres account, which runs PostgreSQL when this process
// is root: PostgreSQL refuses to run as root.
func postgresIDs() (uid, gid int, err error) {
	u, err := user.Lookup(postgresUser)
	if err != nil {
		return 0, 0, fmt.Errorf("PostgreSQL refuses to run as root, and there is no %s account to run it as (%s creates it): %w",
			postgresUser, postgresInstall, err)
	}
	uid, err = strconv.Atoi(u.Uid)
	if err == nil {
		gid, err = strconv.Atoi(u.Gid)
	}
	return uid, gid, err
}

// asPostgresUser returns argv run as the postgres account when this process is root (by setpriv, which keeps
// the parent-death signal across the change of user), else argv itself.
func asPostgresUser(argv []string) ([]string, error) {
	if os.Geteuid() != 0 {
		return argv, nil
	}
	uid, gid, err := postgresIDs()
	if err != nil {
		return nil, err
	}
	return append([]string{"setpriv", "--reuid=" + strconv.Itoa(uid), "--regid=" + strconv.Itoa(gid), "--clear-groups",
		"--pdeathsig=keep", "--"}, argv...), nil
}

// newPostgres makes a cluster with initdb in a new folder and starts a server on it on a free loopback port.
func newPostgres(bin string) (*PostgresServer, error) {
	dir, err := newDir("postgres")
	if err != nil {
		return nil, err
	}
	p := &PostgresServer{Dir: dir, Password: RandomHex(16), shmID: -1}
	if err := p.initdb(bin); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	_, err = withRetries(func() (*service, error) {
		if p.Port, err = FreePort(); err != nil {
			return nil, err
		}
		p.argv, err = asPostgresUser([]string{filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
			"-c", "listen_addresses=127.0.0.1", "-c", "port=" + strconv.Itoa(p.Port),
			"-c", "unix_socket_directories=" + dir, "-c", "max_connections=200", "-c", "fsync=off"})
		if err != nil {
			return nil, err
		}
		svc, err := launchIn("postgres", dir, p.argv, nil)
		if err != nil {
			return nil, err
		}
		if err := p.ready(svc); err != nil {
			return nil, err
		}
		p.svc = svc
		return svc, nil
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return p, nil
}

// initdb makes the cluster in p.Dir/data, owned by the account the server runs as.
func (p *PostgresServer) initdb(bin string) error {
	pwfile := filepath.Join(p.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		uid, gid, err := postgresIDs()
		if err != nil {
			return err
		}
		for _, path := range []string{p.Dir, pwfile} {
			if err := os.Chown(path, uid, gid); err != nil {
				return err
			}
		}
	}
	argv, err := asPostgresUser([]string{filepath.Join(bin, "initdb"), "-D", filepath.Join(p.Dir, "data"),
		"--username=" + postgresUser, "--pwfile=" + pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
		"--no-sync", "--no-instructions"})
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return os.Remove(pwfile)
}
