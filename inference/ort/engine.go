// Package ort runs ONNX models with ONNX Runtime (github.com/yalue/onnxruntime_go): it loads the shared library
// once per process, picks the execution provider (auto, cuda or cpu) and records which one ran and why, checks
// each model's inputs and outputs against what its card declares, caches sessions and warms them up.
package ort

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	onnx "github.com/yalue/onnxruntime_go"
)

// LibraryEnv is the environment variable naming the ONNX Runtime shared library (the one onnxruntime_go's own
// tests use).
const LibraryEnv = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

// RepoLibraryPath is where `make setup` puts the library, relative to the repository root.
const RepoLibraryPath = ".deps/onnxruntime-1.30.0/libonnxruntime.so.1"

// BindingVersion is the Go binding this package is built against.
const BindingVersion = "github.com/yalue/onnxruntime_go v1.27.0"

// Sentinel errors callers branch on.
var (
	ErrLibraryNotFound     = errors.New("ONNX Runtime library not found")
	ErrLibraryConflict     = errors.New("ONNX Runtime is already loaded from another library")
	ErrProviderUnavailable = errors.New("execution provider unavailable")
	ErrSignatureMismatch   = errors.New("model inputs or outputs differ from its card")
	ErrBadInput            = errors.New("input tensor does not fit the model")
	ErrUnsupportedType     = errors.New("tensor element type not supported")
	ErrClosed              = errors.New("engine closed")
)

// Provider is an execution provider choice.
type Provider string

// The execution providers an engine can be asked for.
const (
	ProviderAuto Provider = "auto" // CUDA when it works, else CPU (the reason is recorded)
	ProviderCUDA Provider = "cuda" // CUDA or an error
	ProviderCPU  Provider = "cpu"
)

// ParseProvider reads a provider name as given in configuration or on the command line.
func ParseProvider(s string) (Provider, error) {
	switch p := Provider(s); p {
	case ProviderAuto, ProviderCUDA, ProviderCPU:
		return p, nil
	}
	return "", fmt.Errorf("execution provider %q: want auto, cuda or cpu", s)
}

type config struct {
	libraryPath     string
	provider        Provider
	cudaDevice      int
	cudaMemoryLimit int64
	intraOpThreads  int
	logger          *slog.Logger
}

// Option configures New.
type Option func(*config) error

// WithLibraryPath sets the ONNX Runtime shared library; it overrides ONNXRUNTIME_SHARED_LIBRARY_PATH.
func WithLibraryPath(path string) Option {
	return func(c *config) error { c.libraryPath = path; return nil }
}

// WithProvider sets the execution provider (default auto).
func WithProvider(p Provider) Option {
	return func(c *config) error {
		_, err := ParseProvider(string(p))
		c.provider = p
		return err
	}
}

// WithCUDADevice selects the GPU used by the CUDA provider (default 0).
func WithCUDADevice(id int) Option {
	return func(c *config) error {
		if id < 0 {
			return fmt.Errorf("CUDA device id %d is negative", id)
		}
		c.cudaDevice = id
		return nil
	}
}

// WithCUDAMemoryLimit caps the CUDA provider's memory arena in bytes (0: ONNX Runtime's default, no cap).
func WithCUDAMemoryLimit(bytes int64) Option {
	return func(c *config) error {
		if bytes < 0 {
			return fmt.Errorf("CUDA memory limit %d is negative", bytes)
		}
		c.cudaMemoryLimit = bytes
		return nil
	}
}

// WithIntraOpThreads sets the threads one operator may use (default 1, the fastest on 2 shared cores).
func WithIntraOpThreads(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("intra-op threads %d: want at least 1", n)
		}
		c.intraOpThreads = n
		return nil
	}
}

// WithLogger sets where the engine logs provider choices and session loads (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// Engine owns the sessions of one process. It is safe for concurrent use.
type Engine struct {
	cfg        config
	envInit    time.Duration
	mu         sync.Mutex
	sessions   map[string]*Session
	cudaBroken error // set once appending the CUDA provider failed: no session will get it
	closed     bool
}

// The environment is per process: onnxruntime_go keeps it in package state.
var (
	envMu       sync.Mutex
	envLibrary  string
	envErr      error
	envDuration time.Duration
)

// New loads the library (once per process) and returns an engine.
func New(opts ...Option) (*Engine, error) {
	cfg := config{provider: ProviderAuto, intraOpThreads: 1, logger: slog.Default()}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	lib, err := resolveLibrary(cfg.libraryPath)
	if err != nil {
		return nil, err
	}
	cfg.libraryPath = lib
	d, err := initEnvironment(lib)
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, envInit: d, sessions: map[string]*Session{}}, nil
}

// resolveLibrary picks the library: the configured path, else $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the
// repository's .deps copy found upward from the working directory or the executable.
func resolveLibrary(configured string) (string, error) {
	candidate, from := configured, "configuration"
	if candidate == "" {
		candidate, from = os.Getenv(LibraryEnv), LibraryEnv
	}
	if candidate == "" {
		if p, ok := findRepoLibrary(); ok {
			return p, nil
		}
		return "", fmt.Errorf("%w: set %s or run `make setup` (which installs %s)", ErrLibraryNotFound, LibraryEnv, RepoLibraryPath)
	}
	abs, err := filepath.Abs(candidate)
	if err != nil {
		return "", err
	}
	if info, err := os.Stat(abs); err != nil || info.IsDir() {
		return "", fmt.Errorf("%w: %s (from %s) is not a readable file", ErrLibraryNotFound, candidate, from)
	}
	return abs, nil
}

func findRepoLibrary() (string, bool) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, RepoLibraryPath)
			if info, err := os.Stat(p); err == nil && !info.IsDir() {
				return p, true
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", false
}

func initEnvironment(lib string) (time.Duration, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if envLibrary != "" {
		if envLibrary != lib {
			return 0, fmt.Errorf("%w: %s is loaded; cannot also load %s", ErrLibraryConflict, envLibrary, lib)
		}
		return envDuration, envErr
	}
	start := time.Now()
	onnx.SetSharedLibraryPath(lib)
	envLibrary = lib
	envErr = onnx.InitializeEnvironment(onnx.WithLogLevelError())
	envDuration = time.Since(start)
	if envErr != nil {
		envErr = fmt.Errorf("initialise ONNX Runtime from %s: %w", lib, envErr)
	}
	return envDuration, envErr
}

// ORTVersion is the version the loaded library reports.
func (e *Engine) ORTVersion() string { return onnx.GetVersion() }

// LibraryPath is the library in use.
func (e *Engine) LibraryPath() string { return e.cfg.libraryPath }

// RequestedProvider is the provider the engine was configured with.
func (e *Engine) RequestedProvider() Provider { return e.cfg.provider }

// IntraOpThreads is the configured intra-op thread count.
func (e *Engine) IntraOpThreads() int { return e.cfg.intraOpThreads }

// EnvironmentInit is how long loading the library and creating the environment took (in the first engine).
func (e *Engine) EnvironmentInit() time.Duration { return e.envInit }

// Close destroys the engine's sessions. The process-wide environment stays for later engines.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for k, s := range e.sessions {
		errs = append(errs, s.destroy())
		delete(e.sessions, k)
	}
	e.closed = true
	return errors.Join(errs...)
}

// Load returns the session for spec.Key, creating, checking and warming it up the first time. Later calls with
// the same key return the cached session.
func (e *Engine) Load(ctx context.Context, spec Spec) (*Session, error) {
	if spec.Key == "" {
		return nil, errors.New("session spec without a key")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if s, ok := e.sessions[spec.Key]; ok {
		return s, nil
	}
	s, err := e.newSession(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", spec.Key, err)
	}
	e.sessions[spec.Key] = s
	return s, nil
}

// Evict destroys and forgets the cached session for key, if any.
func (e *Engine) Evict(key string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.sessions[key]
	if !ok {
		return nil
	}
	delete(e.sessions, key)
	return s.destroy()
}
