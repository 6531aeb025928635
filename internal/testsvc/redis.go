package testsvc

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neuronova/neuronova/deploy"
)

const redisInstall = "apt-get install redis-server"

var (
	redisOnce   sync.Once
	redisShared *RedisServer
	redisErr    error
)

// Redis returns the address of the redis-server shared by the tests of this binary. Tests sharing it must keep
// their keys apart (the server's key prefix does that). It runs the production configuration (see RedisServer).
func Redis(t testing.TB) string {
	t.Helper()
	program := findProgram(t, redisInstall, "redis-server")
	redisOnce.Do(func() {
		redisShared, redisErr = newRedis(program, false)
		if redisErr == nil {
			sharedMu.Lock()
			shared = append(shared, redisShared.svc)
			sharedMu.Unlock()
		}
	})
	if redisErr != nil {
		t.Fatalf("start redis-server: %v", redisErr)
	}
	return redisShared.Addr
}

// FreshRedis starts a redis-server for the calling test alone and stops it when the test ends.
func FreshRedis(t testing.TB) string {
	t.Helper()
	return StartRedis(t).Addr
}

// RedisServer is a redis-server for one test, run with the production configuration deploy/redis/redis.conf
// (loopback only, append-only file synced every second, dangerous commands disabled) with these changes for
// tests: a free port, its own folder and no password. It can be stopped, restarted on the same port and data,
// or wiped.
type RedisServer struct {
	Addr     string
	Dir      string // the data folder: the append-only files are in Dir/appendonlydir
	Password string // empty unless it runs the file as installed (with a password)

	program string
	argv    []string
	mu      sync.Mutex
	svc     *service
}

// StartRedis starts a redis-server for the calling test alone and stops it (and removes its data) when the
// test ends.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	program := findProgram(t, redisInstall, "redis-server")
	r, err := newRedis(program, false)
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(r.stop)
	return r
}

// Restart stops the server, with SIGTERM (a clean shutdown: the append-only file is flushed and synced) or,
// when hard, with SIGKILL (what it wrote before each reply is in the file; only an fsync may be missing, which
// matters on a power cut, not here), then starts it again on the same port and data and waits until it answers.
func (r *RedisServer) Restart(t testing.TB, hard bool) {
	t.Helper()
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.svc.kill(sig)
	if err := r.relaunch(); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
}

// Wipe stops the server, deletes its data and starts it empty on the same port: a Redis that lost everything.
func (r *RedisServer) Wipe(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.svc.kill(syscall.SIGKILL)
	if err := os.RemoveAll(r.Dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := r.relaunch(); err != nil {
		t.Fatalf("restart wiped redis-server: %v", err)
	}
}

// Stop stops the server with SIGTERM and waits until it has exited: a Redis that went away.
func (r *RedisServer) Stop(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.svc.kill(syscall.SIGTERM)
}

// Ping sends PING (after AUTH when the server has a password) and expects PONG.
func (r *RedisServer) Ping() error { return pingRedis(r.Addr, r.Password) }

func (r *RedisServer) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.svc.stop()
}

// relaunch starts the process again in the same folder with the same arguments; r.mu is held.
func (r *RedisServer) relaunch() error {
	svc, err := launchIn("redis", r.svc.dir, append([]string{r.program}, r.argv...), nil)
	if err != nil {
		return err
	}
	r.svc = svc
	if err := svc.waitReady(20*time.Second, r.Ping); err != nil {
		svc.kill(syscall.SIGKILL)
		return err
	}
	return nil
}

// newRedis starts a redis-server on a free loopback port. asInstalled runs the production file as the README
// installs it: with a password (a random one in place of its placeholder).
func newRedis(program string, asInstalled bool) (*RedisServer, error) {
	var r *RedisServer
	_, err := withRetries(func() (*service, error) {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		r = &RedisServer{Addr: "127.0.0.1:" + strconv.Itoa(port), program: program}
		svc, err := launch("redis", program, func(dir string) ([]string, error) {
			var err error
			r.Dir = filepath.Join(dir, "data")
			r.argv, r.Password, err = prepareRedis(dir, port, asInstalled)
			return r.argv, err
		})
		if err != nil {
			return nil, err
		}
		r.svc = svc
		if err := svc.waitReady(10*time.Second, r.Ping); err != nil {
			svc.stop()
			return nil, err
		}
		return svc, nil
	})
	return r, err
}

// PrepareRedis writes in dir deploy/redis/redis.conf as the harness runs it (on port, its data in dir/data, no
// password) and returns the arguments of redis-server that start it.
func PrepareRedis(dir string, port int) ([]string, error) {
	argv, _, err := prepareRedis(dir, port, false)
	return argv, err
}

func prepareRedis(dir string, port int, asInstalled bool) (argv []string, password string, err error) {
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, "", err
	}
	conf, password, err := redisConf(deploy.RedisConf, port, data, asInstalled)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "redis.conf")
	return []string{path}, password, os.WriteFile(path, []byte(conf), 0o600)
}

// redisConf rewrites a redis.conf for a test: its port and dir replaced; when asInstalled, its password
// replaced by a random one, else its password dropped. It returns the password
// in force, and fails when the configuration lacks a setting it replaces.
func redisConf(conf string, port int, dir string, asInstalled bool) (string, string, error) {
	var out []string
	var password string
	seen := map[string]bool{}
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			out = append(out, line)
			continue
		}
		key := strings.ToLower(f[0])
		seen[key] = true
		switch {
		case key == "port":
			line = "port " + strconv.Itoa(port)
		case key == "dir":
			line = "dir " + strconv.Quote(dir)
		case key == "requirepass" && asInstalled:
			password = RandomHex(16)
			line = "requirepass " + password
		case key == "requirepass":
			continue
		}
		out = append(out, line)
	}
	for _, k := range []string{"port", "dir", "requirepass", "bind"} {
		if !seen[k] {
			return "", "", fmt.Errorf("the Redis configuration sets no %s", k)
		}
	}
	return strings.Join(out, "\n"), password, nil
}

// PingRedis sends PING over a raw connection and expects +PONG.
func PingRedis(addr string) error { return pingRedis(addr, "") }

// pingRedis sends AUTH when password is set, then PING, and expects +OK and +PONG.
func pingRedis(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	rd := bufio.NewReader(c)
	if password != "" {
		if err := redisCommand(c, rd, "+OK", "AUTH", password); err != nil {
			return err
		}
	}
	return redisCommand(c, rd, "+PONG", "PING")
}

// redisCommand sends one command (RESP array) and checks the one-line answer.
func redisCommand(c net.Conn, rd *bufio.Reader, want string, args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return err
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(line); got != want {
		return errors.New("redis answered " + strconv.Quote(got) + " to " + args[0])
	}
	return nil
}
