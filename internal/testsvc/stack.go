package testsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neuronova/neuronova/internal/testenv"
)

// Stack is the whole server side for the sync tests, each part a Proc that a fault test can kill and start
// again on the same port and storage: a redis-server and an Orthanc with the production configuration of
// deploy/ (as Redis and Orthanc run it), and the real neuronova-server binary built from this tree.
// Everything lives in one temporary folder removed by Close.
type Stack struct {
	Dir                                   string
	URL                                   string // the server, http://127.0.0.1:port
	OrthancURL, OrthancUser, OrthancPassw string
	Redis, Orthanc, Server                *Proc
	// Accounts are the demo accounts: login ID → password.
	Accounts map[string]string

	bin      string   // the server binary
	env      []string // the server's environment
	replicas []*Proc  // started by StartReplica
}

// StackOptions configure StartStack.
type StackOptions struct {
	// Demo seeds with the server's --demo (accounts, patients, orders and the 620-instance demo study).
	Demo bool
}

// The server binary is built once per test binary.
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
		dir, err := newDir("server-bin")
		if err != nil {
			buildErr = err
			return
		}
		sharedMu.Lock()
		sharedDirs = append(sharedDirs, dir)
		sharedMu.Unlock()
		buildPath = filepath.Join(dir, "neuronova-server")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/neuronova-server")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build neuronova-server: %w\n%s", err, b)
		}
	})
	return buildPath, buildErr
}

// RequireStack stops t (testenv.Missing) unless every program the stack runs is installed.
func RequireStack(t testing.TB) {
	t.Helper()
	for _, p := range []string{"redis-server", "Orthanc", "go"} {
		if _, err := exec.LookPath(p); err != nil {
			testenv.Missing(t, p, "sync against a real Redis, Orthanc and neuronova-server (built with go)",
				"scripts/setup.sh (apt-get install redis-server orthanc orthanc-dicomweb orthanc-gdcm; Go 1.26)")
		}
	}
}

// StartStack starts Redis, Orthanc and the server (with --demo when asked) and waits until the server is
// ready.
func StartStack(opts StackOptions) (*Stack, error) {
	bin, err := ServerBinary()
	if err != nil {
		return nil, err
	}
	dir, err := newDir("stack")
	if err != nil {
		return nil, err
	}
	s := &Stack{Dir: dir, bin: bin}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	redisAddr, err := s.startRedis()
	if err != nil {
		return nil, err
	}
	if err := s.startOrthanc(); err != nil {
		return nil, err
	}
	sport, err := FreePort()
	if err != nil {
		return nil, err
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(sport)
	env := append(os.Environ(), "ORTHANC_URL="+s.OrthancURL, "ORTHANC_USER="+s.OrthancUser, "ORTHANC_PASSWORD="+s.OrthancPassw,
		"REDIS_ADDR="+redisAddr, "NEURONOVA_DB="+filepath.Join(dir, "server.db"), "NEURONOVA_JWT_SECRET="+RandomHex(32),
		"NEURONOVA_RATE=2000", "NEURONOVA_BURST=4000", "NEURONOVA_LOG_LEVEL=warn")
	s.env = env
	args := []string{bin, "--addr", "127.0.0.1:" + strconv.Itoa(sport), "--bcrypt-cost", "4"}
	if opts.Demo {
		// The first start seeds; later starts (after a kill) keep the data and the passwords.
		seed := NewProc("server-seed", dir, append(args, "--demo"), env)
		if err := seed.Start(); err != nil {
			return nil, err
		}
		err := waitServer(seed, s.URL, 120*time.Second)
		seed.Kill()
		if err != nil {
			return nil, err
		}
		if s.Accounts = parseAccounts(filepath.Join(dir, "server-seed.log")); len(s.Accounts) == 0 {
			return nil, fmt.Errorf("the demo server printed no accounts:\n%s", seed.LogTail())
		}
	}
	s.Server = NewProc("server", dir, args, env)
	if err := s.StartServer(); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// startRedis starts Redis with the configuration Redis and FreshRedis run, and returns its address.
func (s *Stack) startRedis() (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	argv, err := PrepareRedis(s.Dir, port)
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.Redis = NewProc("redis", s.Dir, append([]string{"redis-server"}, argv...), nil)
	if err := s.Redis.Start(); err != nil {
		return "", err
	}
	return addr, s.Redis.waitReady(20*time.Second, func() error { return PingRedis(addr) })
}

// startOrthanc starts Orthanc with the configuration Orthanc and FreshOrthanc run.
func (s *Stack) startOrthanc() error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	setup, err := PrepareOrthanc(s.Dir, port)
	if err != nil {
		return err
	}
	s.OrthancURL, s.OrthancUser, s.OrthancPassw = setup.URL, setup.User, setup.Password
	s.Orthanc = NewProc("orthanc", s.Dir, setup.Argv, setup.Env)
	return s.StartOrthanc()
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
	return waitServer(s.Server, s.URL, 60*time.Second)
}

// waitServer waits until the server p, at base, answers /readyz with 200.
func waitServer(p *Proc, base string, timeout time.Duration) error {
	return p.waitReady(timeout, func() error {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answered %s", resp.Status)
		}
		return nil
	})
}

// StartReplica starts one more server on the stack's database, Redis and Orthanc — a second replica — on a
// port of its own, waits until it is ready and returns it with its address (host:port). Close stops it too.
func (s *Stack) StartReplica() (*Proc, string, error) {
	port, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p := NewProc(fmt.Sprintf("replica%d", len(s.replicas)+2), s.Dir, []string{s.bin, "--addr", addr, "--bcrypt-cost", "4"}, s.env)
	s.replicas = append(s.replicas, p)
	if err := p.Start(); err != nil {
		return nil, "", err
	}
	return p, addr, waitServer(p, "http://"+addr, 60*time.Second)
}

// StartOrthanc starts Orthanc (again, on the same port and storage) and waits until it answers.
func (s *Stack) StartOrthanc() error {
	if err := s.Orthanc.Start(); err != nil {
		return err
	}
	return s.Orthanc.waitReady(30*time.Second, func() error {
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
	for _, p := range append(s.replicas, s.Server, s.Orthanc, s.Redis) {
		if p != nil {
			p.Kill()
		}
	}
	os.RemoveAll(s.Dir)
}
