// Package sqlite implements server.Store on SQLite (github.com/mattn/go-sqlite3; build with -tags libsqlite3 to
// link the system library). One connection writes, a pool reads, in WAL mode. Schema changes are numbered SQL
// files in migrations/, applied in order once each.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

//go:embed migrations/*.sql
var migrations embed.FS

// timeLayout is fixed-width so that stored times sort as they compare.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Store is the SQLite store.
type Store struct {
	write *sql.DB // one connection: SQLite has one writer
	read  *sql.DB
	// auditInsert is prepared once on the writer: every audited call inserts through it.
	auditInsert *sql.Stmt
}

var _ server.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.Contains(path, "mode=memory") {
		return nil, fmt.Errorf("sqlite store needs a database file, not %q (the writer and the readers share it)", path)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	q.Set("_query_only", "true")
	q.Del("_txlock")
	q.Del("_journal_mode") // set once by the writer; it persists in the file
	read, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	s := &Store{write: write, read: read}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if s.auditInsert, err = write.PrepareContext(ctx, auditInsertSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare the audit insert of %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	var err error
	if s.auditInsert != nil {
		err = s.auditInsert.Close()
	}
	return errors.Join(err, s.read.Close(), s.write.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE name = ?", name).Scan(&n); err != nil || n > 0 {
				return err
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", name, ts(time.Now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tx runs fn in a write transaction and commits unless fn fails. The audit record ctx carries for the call's
// first write (server.WithTxAudit) is inserted in the same transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.auditedTx(ctx, nil, fn)
}

// errNoWrite ends a transaction that found nothing to write: it rolls back, carrying no audit record, and
// the write returns nil.
var errNoWrite = errors.New("nothing to write")

// auditedTx is tx for a write that answers refusal (nil: the write the call asked for).
func (s *Store) auditedTx(ctx context.Context, refusal error, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	err = fn(tx)
	if errors.Is(err, errNoWrite) {
		return tx.Rollback()
	}
	if err != nil {
		tx.Rollback()
		return err
	}
	a := server.TxAuditOf(ctx)
	if a != nil {
		stmt := tx.StmtContext(ctx, s.auditInsert)
		_, err := insertAudit(ctx, stmt, a.Build(refusal))
		stmt.Close()
		if err == nil && refusal == nil {
			err = appendEvents(ctx, tx, a.Events())
		}
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("audit record and events of the write: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if a != nil {
		a.Committed()
	}
	return nil
}

// nextID takes the next value of a friendly-ID sequence inside tx.
func nextID(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `INSERT INTO counters (name, value) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`, name).Scan(&v)
	return v, err
}

// appendChange adds an entry to the change feed inside tx.
func appendChange(ctx context.Context, tx *sql.Tx, kind, objectID, op string, at time.Time, patientID int64, jobRole string, data []byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO changes (kind, object_id, op, at, patient_id, job_role, data)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, kind, objectID, op, ts(at), patientID, jobRole, string(data))
	return err
}

// Setting returns a stored setting.
func (s *Store) Setting(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.read.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// EnsureSetting stores value under key unless the key exists, and returns the stored value.
func (s *Store) EnsureSetting(ctx context.Context, key, value string) (string, error) {
	var stored string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&stored)
	})
	return stored, err
}

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func parseTS(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// timeCol scans a time column.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("time column holds %T, not text", v)
	}
	t, err := parseTS(s)
	*c.t = t
	return err
}

// nullTimeCol scans a nullable time column.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// nullInt scans a nullable integer column into a *int64.
type nullInt struct{ p **int64 }

func (c nullInt) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.p = nil
	case int64:
		*c.p = &x
	default:
		return fmt.Errorf("integer column holds %T", v)
	}
	return nil
}

// rawJSON scans a nullable JSON text column.
type rawJSON struct{ p *[]byte }

func (c rawJSON) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.p = nil
	case string:
		*c.p = []byte(x)
	case []byte:
		*c.p = append([]byte(nil), x...)
	default:
		return fmt.Errorf("JSON column holds %T", v)
	}
	return nil
}

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func nullID(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return server.Errorf(api.CodeNotFound, format, args...)
	}
	return err
}

func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

func limitOf(n, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(n, max)
}
