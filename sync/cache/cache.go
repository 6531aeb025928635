// Package cache is the workstation's local study cache: an SQLite index (patients, studies, series,
// instances, files, AI results, outbox, sync state, local audit events, settings) over a content-addressed
// store of DICOM files, built to survive power cuts and killed processes.
//
// Layout of a cache directory:
//
//	index.db (+ -wal, -shm)   the SQLite index, WAL mode, foreign keys on, synchronous FULL
//	objects/ab/cdef…          one file per distinct content, named by its SHA-256
//	tmp/                      files being written and folders being unpacked; swept by Check
//	writer.lock               held (flock) by whoever writes: one writer across processes
//
// Crash safety rests on one ordering: a stored file is written to tmp/, fsynced, renamed into objects/ and
// its folder fsynced before the transaction that records it commits; rows are deleted (eviction) before
// their files. So the index never names a missing file; a crash leaves at worst files no row names, which
// Check removes.
//
// Everything here is plain Go, safe for concurrent use; call it from worker goroutines, never from the UI
// goroutine.
package cache

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// driverName is go-sqlite3 with a connect hook that maps the database into memory (mmap_size), so that
// every connection reads the same OS page cache instead of warming a private page cache of its own.
const driverName = "sqlite3_neuronova_cache"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		_, err := conn.Exec("PRAGMA mmap_size = 1073741824", nil)
		return err
	}})
}

// EnvDataDir names the environment variable that overrides the default data directory.
const EnvDataDir = "NEURONOVA_DATA"

// DefaultBudget is the size the cache is trimmed to by GC unless a budget was set: 20 GB.
const DefaultBudget int64 = 20_000_000_000

const (
	dbName     = "index.db"
	objectsDir = "objects"
	tmpDir     = "tmp"
	lockName   = "writer.lock"
)

var (
	// ErrNotFound is returned for a study UID the cache does not hold.
	ErrNotFound = errors.New("not in the cache")
	// ErrNewerSchema is returned by Open for an index written by a newer NeuroNova.
	ErrNewerSchema = errors.New("cache index was created by a newer NeuroNova")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives warnings (network folder) and summaries; nil means slog.Default().
	Logger *slog.Logger
	// ReadOnly opens the index without taking part in writes (no migrations are run; the index must exist).
	ReadOnly bool
	// Limits for import; zero values take the defaults described on Limits.
	Limits Limits
	// Actor is who the cache's own audit events (import, export, evict, check, opening a study) name until
	// SetActor names another: the workstation's account ($USER, which cmd/ reads).
	Actor string
}

// Limits bound what an import accepts, so that a hostile or broken input fails cleanly instead of filling
// the disk or the memory.
type Limits struct {
	MaxFileBytes  int64 // largest single file imported or unpacked (default 4 GiB)
	MaxUnzipBytes int64 // most bytes one ZIP may unpack to in all (default 64 GiB)
	MaxZipEntries int   // most entries one ZIP may hold (default 1,000,000)
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 4 << 30
	}
	if l.MaxUnzipBytes <= 0 {
		l.MaxUnzipBytes = 64 << 30
	}
	if l.MaxZipEntries <= 0 {
		l.MaxZipEntries = 1_000_000
	}
	return l
}

// Cache is an open cache directory.
type Cache struct {
	dir       string
	log       *slog.Logger
	limits    Limits
	readOnly  bool
	actor     string                 // Options.Actor
	actorName atomic.Pointer[string] // SetActor's, when set
	wdb       *sql.DB                // the one writing connection
	rdb       *sql.DB                // readers
	wmu       sync.Mutex             // one writer in this process; writer.lock serialises processes
	warnings  []string
}

// DefaultDir is where the cache lives unless --data or NEURONOVA_DATA says otherwise: the user's data
// directory (Linux: $XDG_DATA_HOME/neuronova or ~/.local/share/neuronova; macOS: ~/Library/Application
// Support/NeuroNova; Windows: %LocalAppData%\NeuroNova). getenv reads the environment (cmd/ passes
// os.Getenv).
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv(EnvDataDir); d != "" {
		return d, nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "NeuroNova"), nil
		}
	case "darwin":
		home, err := homeDir(getenv)
		if err != nil {
			return "", fmt.Errorf("data directory: %w", err)
		}
		return filepath.Join(home, "Library", "Application Support", "NeuroNova"), nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "neuronova"), nil
	}
	home, err := homeDir(getenv)
	if err != nil {
		return "", fmt.Errorf("data directory: %w (set %s or pass --data DIR)", err, EnvDataDir)
	}
	return filepath.Join(home, ".local", "share", "neuronova"), nil
}

// homeDir is os.UserHomeDir on the environment getenv reads.
func homeDir(getenv func(string) string) (string, error) {
	v := "HOME"
	if runtime.GOOS == "windows" {
		v = "USERPROFILE"
	}
	if h := getenv(v); h != "" {
		return h, nil
	}
	return "", fmt.Errorf("$%s is not defined", v)
}

// ResolveDir returns flagValue when set, else DefaultDir.
func ResolveDir(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	return DefaultDir(getenv)
}

// Open opens (creating it if needed) the cache in dir, brings its schema up to date and checks where it
// lives: a network or synced folder is reported by Warnings and logged.
func Open(dir string, opts Options) (*Cache, error) {
	if dir == "" {
		return nil, fmt.Errorf("open cache: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	c := &Cache{dir: abs, log: opts.Logger, limits: opts.Limits.withDefaults(), readOnly: opts.ReadOnly, actor: opts.Actor}
	if c.log == nil {
		c.log = slog.Default()
	}
	dbPath := filepath.Join(abs, dbName)
	if opts.ReadOnly {
		if _, err := os.Stat(dbPath); err != nil {
			return nil, fmt.Errorf("open cache %s: %w", abs, err)
		}
	} else {
		for _, d := range []string{abs, filepath.Join(abs, objectsDir), filepath.Join(abs, tmpDir)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, fmt.Errorf("open cache %s: %w", abs, err)
			}
		}
	}
	c.warnings = locationWarnings(abs)
	for _, w := range c.warnings {
		c.log.Warn("cache location", "dir", abs, "warning", w)
	}
	// _txlock=immediate: every write transaction takes the write lock at BEGIN, so two writers never
	// deadlock upgrading a read lock; busy_timeout makes them wait for each other instead of failing.
	common := "_foreign_keys=on&_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL"
	uri := "file:" + (&urlPath{dbPath}).String()
	if !opts.ReadOnly {
		c.wdb, err = sql.Open(driverName, uri+"?"+common+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open cache %s: %w", abs, err)
		}
		c.wdb.SetMaxOpenConns(1)
		c.wdb.SetConnMaxIdleTime(0)
		if err := c.checkWAL(); err != nil {
			c.wdb.Close()
			return nil, fmt.Errorf("open cache %s: %w", abs, err)
		}
		if err := c.migrate(); err != nil {
			c.wdb.Close()
			return nil, fmt.Errorf("open cache %s: %w", abs, err)
		}
	}
	c.rdb, err = sql.Open(driverName, uri+"?"+common+"&mode=ro&_query_only=1")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("open cache %s: %w", abs, err)
	}
	c.rdb.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	c.rdb.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	if opts.ReadOnly {
		var v int
		if err := c.rdb.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			c.Close()
			return nil, fmt.Errorf("open cache %s: %w", abs, err)
		}
		if v > len(migrationNames()) {
			c.Close()
			return nil, fmt.Errorf("open cache %s: %w (schema %d, this build knows %d)", abs, ErrNewerSchema, v, len(migrationNames()))
		}
	}
	return c, nil
}

// urlPath escapes a file path for an SQLite URI filename.
type urlPath struct{ p string }

func (u *urlPath) String() string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return r.Replace(filepath.ToSlash(u.p))
}

// Close closes the index.
func (c *Cache) Close() error {
	var errs []error
	if c.rdb != nil {
		errs = append(errs, c.rdb.Close())
	}
	if c.wdb != nil {
		errs = append(errs, c.wdb.Close())
	}
	return errors.Join(errs...)
}

// Dir is the cache directory (absolute).
func (c *Cache) Dir() string { return c.dir }

// TmpDir is the cache's scratch folder, on the same file system as its store (see Adopt).
func (c *Cache) TmpDir() string { return filepath.Join(c.dir, tmpDir) }

// Warnings says what is wrong with where the cache lives (a network or synced folder), empty when nothing.
func (c *Cache) Warnings() []string { return c.warnings }

func migrationNames() []string {
	names, _ := fs.Glob(migrationFS, "migrations/*.sql")
	sort.Strings(names)
	return names
}

// checkWAL fails unless the writing connection is in WAL mode, which crash safety and concurrent readers rely on.
func (c *Cache) checkWAL() error {
	var mode string
	if err := c.wdb.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not WAL (is the folder on a file system without shared memory?)", mode)
	}
	return nil
}

// migrate applies the embedded migrations the index lacks, each in its own transaction, and records the
// version in PRAGMA user_version. Migration N is the file whose name starts with N (0001_…, 0002_…).
func (c *Cache) migrate() error {
	names := migrationNames()
	for i, n := range names {
		v, err := strconv.Atoi(strings.SplitN(filepath.Base(n), "_", 2)[0])
		if err != nil || v != i+1 {
			return fmt.Errorf("migration %s: names must be numbered 0001_, 0002_ … without gaps", n)
		}
	}
	ctx := context.Background()
	conn, err := c.wdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var have int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return err
	}
	if have > len(names) {
		return fmt.Errorf("%w (schema %d, this build knows %d)", ErrNewerSchema, have, len(names))
	}
	for v := have + 1; v <= len(names); v++ {
		body, err := migrationFS.ReadFile(names[v-1])
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// Another process may have migrated between our read and our BEGIN IMMEDIATE.
		var now int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&now); err != nil {
			tx.Rollback()
			return err
		}
		if now >= v {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", filepath.Base(names[v-1]), err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", filepath.Base(names[v-1]), err)
		}
	}
	return nil
}

// SchemaVersion returns the index's schema version (PRAGMA user_version).
func (c *Cache) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := c.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// write runs fn inside one write transaction, holding the in-process writer mutex and the cross-process
// writer lock (see lockWriter).
func (c *Cache) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if c.readOnly {
		return fmt.Errorf("cache %s is open read-only", c.dir)
	}
	tx, err := c.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exclusive holds the writer locks (this process's mutex and writer.lock) while fn runs. Import, GC,
// Check and export's audit record go through it; plain reads never wait for it.
func (c *Cache) exclusive(ctx context.Context, fn func() error) error {
	if c.readOnly {
		return fmt.Errorf("cache %s is open read-only", c.dir)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	unlock, err := lockFile(ctx, filepath.Join(c.dir, lockName))
	if err != nil {
		return fmt.Errorf("cache %s: writer lock: %w", c.dir, err)
	}
	defer unlock()
	return fn()
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// audit records a local audit event of the cache in tx, in the name of Actor.
func (c *Cache) audit(ctx context.Context, tx *sql.Tx, action, target, detail string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events(at, actor, action, target, detail) VALUES (?,?,?,?,?)`,
		nowMillis(), c.Actor(), action, target, detail)
	return err
}

// AuditEvent is one local audit record.
type AuditEvent struct {
	At                            time.Time
	Actor, Action, Target, Detail string
}

// AuditEvents returns the latest n local audit events, newest first.
func (c *Cache) AuditEvents(ctx context.Context, n int) ([]AuditEvent, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT at, actor, action, target, detail FROM audit_events ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Setting returns a stored setting, or def when unset.
func (c *Cache) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := c.rdb.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	return v, err
}

// SetSetting stores a setting.
func (c *Cache) SetSetting(ctx context.Context, key, value string) error {
	return c.exclusive(ctx, func() error {
		return c.write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
			return err
		})
	})
}
