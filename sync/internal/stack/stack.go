// Package stack runs, for the sync tests, the whole server side as separate processes on loopback: a
// redis-server and an Orthanc with the production configuration of deploy/ (as internal/testsvc runs it) and
// the real neuronova-server binary built from this tree, started with --demo. Unlike internal/testsvc, each
// process can be killed with SIGKILL and started again on the same port with the same storage, which the
// fault tests need. Everything lives in one temporary folder removed by Close; children get SIGKILL when the
// test binary dies.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/internal/testsvc"
)

// Proc is one child process that can be killed and started again.
type Proc struct {
	name string
	argv []string
	env  []string
	dir  string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	spawnOnce sync.Once
	spawnReq  chan func()
)

// onSpawnThread runs fn on one goroutine locked to its OS thread for the life of the binary: Linux sends the
// parent-death signal when the thread that started a child exits, so that thread must never exit.
func onSpawnThread(fn func()) {
	spawnOnce.Do(func() {
		spawnReq = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawnReq {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawnReq <- func() { fn(); close(done) }
	<-done
}

// Start starts the process (again), its output appended to its log.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is running", p.name)
		}
	}
	lf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = p.dir, lf, lf, p.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	onSpawnThread(func() { err = cmd.Start() })
	lf.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Running reports whether the process runs.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// LogTail is the end of the process's log.
func (p *Proc) LogTail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// Stack is the server side: Redis, Orthanc and neuronova-server.
type Stack struct {
	Dir                                   string
	URL                                   string // the server, http://127.0.0.1:port
	OrthancURL, OrthancUser, OrthancPassw string
	Redis, Orthanc, Server                *Proc
	// Accounts are the demo accounts: login ID → password.
	Accounts map[string]string
}

// Options configure Start.
type Options struct {
	// Demo seeds with the server's --demo (accounts, patients, orders and the 620-instance demo study).
	Demo bool
}

// serverBin is built once per test binary.
var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// ServerBinary builds cmd/neuronova-server of this module (once per test binary) and returns its path.
func ServerBinary() (string, error) {
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "neuronova-sync-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "neuronova-server")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/neuronova-server")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build neuronova-server: %w\n%s", err, b)
		}
	})
	return buildPath, buildErr
}

// Require stops t (testenv.Missing) unless every program the stack runs is installed.
func Require(t testing.TB) {
	t.Helper()
	for _, p := range []string{"redis-server", "Orthanc", "go"} {
		if _, err := exec.LookPath(p); err != nil {
			testenv.Missing(t, p, "sync against a real Redis, Orthanc and neuronova-server (built with go)",
				"scripts/setup.sh (apt-get install redis-server orthanc orthanc-dicomweb orthanc-gdcm; Go 1.26)")
		}
	}
}

// Start starts Redis, Orthanc and the server (with --demo when asked) and waits until the server is ready.
func Start(opts Options) (*Stack, error) {
	bin, err := ServerBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "neuronova-sync-stack-")
	if err != nil {
		return nil, err
	}
	s := &Stack{Dir: dir}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	rport, err := testsvc.FreePort()
	if err != nil {
		return nil, err
	}
	// Redis and Orthanc run the production configuration (deploy/), as internal/testsvc runs it.
	redisArgs, err := testsvc.PrepareRedis(dir, rport)
	if err != nil {
		return nil, err
	}
	s.Redis = &Proc{name: "redis", dir: dir, log: filepath.Join(dir, "redis.log"),
		argv: append([]string{"redis-server"}, redisArgs...)}
	if err := s.Redis.Start(); err != nil {
		return nil, err
	}
	oport, err := testsvc.FreePort()
	if err != nil {
		return nil, err
	}
	orthanc, err := testsvc.PrepareOrthanc(dir, oport)
	if err != nil {
		return nil, err
	}
	s.OrthancURL, s.OrthancUser, s.OrthancPassw = orthanc.URL, orthanc.User, orthanc.Password
	s.Orthanc = &Proc{name: "orthanc", dir: dir, log: filepath.Join(dir, "orthanc.log"), argv: orthanc.Argv,
		env: orthanc.Env}
	if err := s.StartOrthanc(); err != nil {
		return nil, err
	}
	if err := waitFor(20*time.Second, func() error { return testsvc.PingRedis("127.0.0.1:" + strconv.Itoa(rport)) }); err != nil {
		return nil, fmt.Errorf("redis: %w\n%s", err, s.Redis.LogTail())
	}
	sport, err := testsvc.FreePort()
	if err != nil {
		return nil, err
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(sport)
	env := append(os.Environ(), "ORTHANC_URL="+s.OrthancURL, "ORTHANC_USER="+s.OrthancUser, "ORTHANC_PASSWORD="+s.OrthancPassw,
		"REDIS_ADDR=127.0.0.1:"+strconv.Itoa(rport), "NEURONOVA_DB="+filepath.Join(dir, "server.db"), "NEURONOVA_JWT_SECRET="+testsvc.RandomHex(32),
		"NEURONOVA_RATE=2000", "NEURONOVA_BURST=4000", "NEURONOVA_LOG_LEVEL=warn")
	args := []string{bin, "--addr", "127.0.0.1:" + strconv.Itoa(sport), "--bcrypt-cost", "4"}
	if opts.Demo {
		// The first start seeds; later starts (after a kill) keep the data and the passwords.
		seed := &Proc{name: "server-seed", dir: dir, log: filepath.Join(dir, "server-seed.log"), env: env, argv: append(args, "--demo")}
		out := filepath.Join(dir, "server-seed.log")
		if err := seed.Start(); err != nil {
			return nil, err
		}
		if err := s.waitServer(seed, 120*time.Second); err != nil {
			return nil, err
		}
		s.Accounts = parseAccounts(out)
		seed.Kill()
		if len(s.Accounts) == 0 {
			return nil, fmt.Errorf("the demo server printed no accounts:\n%s", seed.LogTail())
		}
	}
	s.Server = &Proc{name: "server", dir: dir, log: filepath.Join(dir, "server.log"), env: env, argv: args}
	if err := s.StartServer(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

var accountLine = regexp.MustCompile(`(?m)^demo account: ([A-Z]+) (\S+) (\S+)$`)

func parseAccounts(path string) map[string]string {
	b, _ := os.ReadFile(path)
	out := map[string]string{}
	for _, m := range accountLine.FindAllStringSubmatch(string(b), -1) {
		out[m[2]] = m[3]
	}
	return out
}

// StartServer starts the server (again) and waits until it is ready.
func (s *Stack) StartServer() error {
	if err := s.Server.Start(); err != nil {
		return err
	}
	return s.waitServer(s.Server, 60*time.Second)
}

func (s *Stack) waitServer(p *Proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !p.Running() {
			return fmt.Errorf("%s exited before it was ready:\n%s", p.name, p.LogTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v:\n%s", p.name, timeout, p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartOrthanc starts Orthanc (again, on the same port and storage) and waits until it answers.
func (s *Stack) StartOrthanc() error {
	if err := s.Orthanc.Start(); err != nil {
		return err
	}
	return waitFor(30*time.Second, func() error {
		if !s.Orthanc.Running() {
			return errors.New("exited:\n" + s.Orthanc.LogTail())
		}
		_, err := s.OrthancGet("/system")
		return err
	})
}

// OrthancGet calls Orthanc directly (the test's view of the archive).
func (s *Stack) OrthancGet(path string) ([]byte, error) {
	return s.orthancDo(http.MethodGet, path, nil)
}

// OrthancPost posts to Orthanc directly.
func (s *Stack) OrthancPost(path string, body []byte) ([]byte, error) {
	return s.orthancDo(http.MethodPost, path, body)
}

func (s *Stack) orthancDo(method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, s.OrthancURL+path, bytes.NewReader(body))
	req.SetBasicAuth(s.OrthancUser, s.OrthancPassw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("orthanc %s %s: %s: %s", method, path, resp.Status, b)
	}
	return b, nil
}

// CountSOP counts the instances Orthanc holds with a SOP Instance UID.
func (s *Stack) CountSOP(sopUID string) (int, error) {
	q, _ := json.Marshal(map[string]any{"Level": "Instance", "Query": map[string]string{"SOPInstanceUID": sopUID}})
	b, err := s.OrthancPost("/tools/find", q)
	if err != nil {
		return 0, err
	}
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// Close kills everything and removes the folder.
func (s *Stack) Close() {
	for _, p := range []*Proc{s.Server, s.Orthanc, s.Redis} {
		if p != nil {
			p.Kill()
		}
	}
	os.RemoveAll(s.Dir)
}

func waitFor(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
