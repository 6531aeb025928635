// Package testsvc is the one test harness of real services: it starts redis-server, Orthanc, PostgreSQL,
// HAProxy and, for the sync tests, the whole server side (Stack: Redis, Orthanc and the neuronova-server binary
// built from this tree) on free loopback ports with temporary storage, and stops them afterwards. They run
// the production configuration of deploy/ (Orthanc with loopback-bind preloaded), with only ports, folders
// and passwords replaced. A test that needs a program that is not installed stops through testenv.Missing: it
// is skipped, naming the program, under a plain go test, and fails under make test (NEURONOVA_STRICT_TESTS),
// where set-up should have installed it.
//
// Shared instances (Redis, Orthanc) start once per test binary on first use; FreshRedis and FreshOrthanc start
// one for the calling test alone and stop it when the test ends. Every child process is started on one
// spawning thread and dies with the test binary even when it crashes (the kernel sends it SIGKILL when its
// parent dies); a Proc (each part of a Stack) can be killed and started again on the same port and storage,
// and Cutter cuts every connection to a server mid-transfer, for the fault tests. Call Run from TestMain to
// also remove the temporary folders of the shared instances at the end; folders left by crashed runs are
// removed by the next run.
//
//	func TestMain(m *testing.M) { os.Exit(testsvc.Run(m)) }
package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/internal/workpool"
)

// dirPrefix names the temporary folders; the PID in them tells whose they are.
const dirPrefix = "neuronova-testsvc-"

// service is one running child process and its folder.
type service struct {
	name string
	cmd  *exec.Cmd
	dir  string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, valid after done
}

// kill sends sig to the process and waits until it has exited.
func (s *service) kill(sig syscall.Signal) {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(sig)
		<-s.done
	}
}

// running reports whether the process has not exited yet.
func (s *service) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop kills the process (its storage is temporary, so there is nothing to flush) and removes its folder.
func (s *service) stop() {
	s.kill(syscall.SIGKILL)
	os.RemoveAll(s.dir)
}

// logTail returns the end of the service's log, for failure messages.
func (s *service) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, s.name+".log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

var (
	sharedMu   sync.Mutex
	shared     []*service
	sharedDirs []string // folders of the binary's life that are not a service's (the loopback-bind build)
	sweep      sync.Once
)

// Run runs the tests of m, then stops the shared services and removes their folders. Use it from TestMain.
func Run(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared services now (Run calls it).
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	workpool.ForEach(context.Background(), len(shared), len(shared), func(_ context.Context, _, i int) error {
		shared[i].stop()
		return nil
	})
	for _, d := range sharedDirs {
		os.RemoveAll(d)
	}
	shared, sharedDirs = nil, nil
}

// newDir makes a temporary folder for one service, after removing those of test binaries that no longer run.
func newDir(name string) (string, error) {
	sweep.Do(func() {
		old, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
		for _, d := range old {
			rest := strings.TrimPrefix(filepath.Base(d), dirPrefix)
			pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
			if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
				os.RemoveAll(d)
			}
		}
	})
	return os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", dirPrefix, os.Getpid(), name))
}

// spawn requests go to one goroutine locked to its OS thread for the life of the binary: Linux sends the
// parent-death signal when the thread that started a child exits, so that thread must never exit.
var (
	spawnOnce sync.Once
	spawnReq  chan spawnJob
)

type spawnJob struct {
	cmd *exec.Cmd
	err chan error
}

func start(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReq = make(chan spawnJob)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for j := range spawnReq {
				j.err <- j.cmd.Start()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	j := spawnJob{cmd: cmd, err: make(chan error)}
	spawnReq <- j
	return <-j.err
}

// launch starts program with args in a new folder, logging to <dir>/<name>.log.
func launch(name, program string, args func(dir string) ([]string, error)) (*service, error) {
	dir, err := newDir(name)
	if err != nil {
		return nil, err
	}
	argv, err := args(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s, err := launchIn(name, dir, append([]string{program}, argv...), nil)
	if err != nil {
		os.RemoveAll(dir)
	}
	return s, err
}

// launchIn starts argv (a program and its arguments) in dir, again for a restart, appending to <dir>/<name>.log;
// env nil is this process's environment.
func launchIn(name, dir string, argv, env []string) (*service, error) {
	log, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.Env = dir, log, log, env
	s := &service{name: name, cmd: cmd, dir: dir, done: make(chan struct{})}
	if err := start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	return s, nil
}

// waitReady polls ready until it succeeds, the process exits or timeout passes.
func (s *service) waitReady(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v); log:\n%s", s.name, s.err, s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %v; log:\n%s", s.name, timeout, err, s.logTail())
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// findProgram returns the path of a program or skips the test naming it.
func findProgram(t testing.TB, install string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	testenv.Missing(t, candidates[0], "run against the real service", install)
	return ""
}

// RandomHex returns n random bytes in hex (passwords, secrets).
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// withRetries starts a service up to three times: a free port can be taken between choosing and binding it.
func withRetries(fn func() (*service, error)) (*service, error) {
	var errs []error
	for range 3 {
		s, err := fn()
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
