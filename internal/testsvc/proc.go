package testsvc

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// StartChild starts cmd as the harness starts its services: on the one spawning thread, with SIGKILL as its
// parent-death signal, in its own process group. Tests that run a child of their own (the fault test's
// sync process) use it so that the child dies with the test binary.
func StartChild(cmd *exec.Cmd) error { return start(cmd) }

// Proc is a child process a test can kill with SIGKILL and start again, with the same command line and
// environment, in the same folder, appending to the same log (<dir>/<name>.log): a service that a fault test
// takes down mid-transfer.
type Proc struct {
	name string
	dir  string
	argv []string // the program and its arguments
	env  []string // nil: this process's environment

	mu  sync.Mutex
	svc *service // nil before the first Start
}

// NewProc describes a process; Start starts it.
func NewProc(name, dir string, argv, env []string) *Proc {
	return &Proc{name: name, dir: dir, argv: argv, env: env}
}

// Start starts the process (again).
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.svc != nil && p.svc.running() {
		return fmt.Errorf("%s is running", p.name)
	}
	svc, err := launchIn(p.name, p.dir, p.argv, p.env)
	if err != nil {
		return err
	}
	p.svc = svc
	return nil
}

// Kill sends SIGKILL and waits until the process has exited.
func (p *Proc) Kill() {
	if svc := p.current(); svc != nil {
		svc.kill(syscall.SIGKILL)
	}
}

// Running reports whether the process runs.
func (p *Proc) Running() bool {
	svc := p.current()
	return svc != nil && svc.running()
}

// LogTail is the end of the process's log.
func (p *Proc) LogTail() string {
	return (&service{name: p.name, dir: p.dir}).logTail()
}

// waitReady polls ready until it succeeds, the process exits or timeout passes.
func (p *Proc) waitReady(timeout time.Duration, ready func() error) error {
	svc := p.current()
	if svc == nil {
		return fmt.Errorf("%s was not started", p.name)
	}
	return svc.waitReady(timeout, ready)
}

func (p *Proc) current() *service {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.svc
}
