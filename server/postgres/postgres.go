// Package postgres implements server.Store on PostgreSQL (github.com/jackc/pgx/v5 with a pgxpool pool), for
// hospitals that run several server processes on one database. Schema changes are numbered SQL files in
// migrations/, applied in order once each, under a lock so that servers starting together apply each once.
//
// Transactions run at READ COMMITTED. What SQLite gets from its single writer is made explicit here: writes
// that read before they write lock the rows they read (SELECT … FOR NO KEY UPDATE, which leaves inserts that
// refer to the row free to proceed), and the friendly IDs and the change feed's sequence numbers come from
// counter rows whose lock lasts until the transaction ends.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/neuronova/neuronova/api"
	"github.com/neuronova/neuronova/server"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the advisory lock held while migrations run.
const migrationLock = 0x4e4e_6d69_6772 // "NNmigr"

// Store is the PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool
}

var _ server.Store = (*Store)(nil)

// IsURL reports whether a --db value names a PostgreSQL database (postgres:// or postgresql://) rather than
// an SQLite file.
func IsURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Open connects to the database dsn names (a postgres:// URL or key=value pairs; pool_max_conns and the other
// pgxpool keys apply) and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "neuronova-server"
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// Times come back in UTC, as the SQLite store returns them.
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

// Close closes the pool, waiting for the connections in use to be given back.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

// migrate applies the migrations not applied yet, each in a transaction of its own that holds the migration
// lock, so that servers starting at once on an empty database apply each exactly once.
func (s *Store) migrate(ctx context.Context) error {
	locked := func(fn func(pgx.Tx) error) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
				return err
			}
			return fn(tx)
		})
	}
	err := locked(func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name text PRIMARY KEY, applied_at timestamptz NOT NULL)`)
		return err
	})
	if err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		err := locked(func(tx pgx.Tx) error {
			var applied bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)", name).Scan(&applied); err != nil || applied {
				return err
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			// Without arguments, Exec sends the file as one simple query: all its statements run.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)", name, time.Now())
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
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.auditedTx(ctx, nil, fn)
}

// errNoWrite ends a transaction that found nothing to write: it rolls back, carrying no audit record, and
// the write returns nil.
var errNoWrite = errors.New("nothing to write")

// auditedTx is tx for a write that answers refusal (nil: the write the call asked for).
func (s *Store) auditedTx(ctx context.Context, refusal error, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// A rollback must reach the database even when the call's context has ended.
	rollback := func() error { return tx.Rollback(context.WithoutCancel(ctx)) }
	err = fn(tx)
	if errors.Is(err, errNoWrite) {
		return rollback()
	}
	if err != nil {
		rollback()
		return refusedText(err)
	}
	a := server.TxAuditOf(ctx)
	if a != nil {
		_, err := tx.Exec(ctx, auditInsertSQL, auditArgs(a.Build(refusal))...)
		if err == nil && refusal == nil {
			err = appendEvents(ctx, tx, a.Events())
		}
		if err != nil {
			rollback()
			return fmt.Errorf("audit record and events of the write: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if a != nil {
		a.Committed()
	}
	return nil
}

// nextSQL takes the next value of a counter; its row stays locked until the transaction ends.
const nextSQL = `INSERT INTO counters (name, value) VALUES ($1, 1)
	ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`

// nextID takes the next value of a friendly-ID counter inside tx. Two servers creating at once wait for each
// other on the counter's row, so no value is given twice; a transaction that rolls back gives its value back.
func nextID(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, nextSQL, name).Scan(&v)
	return v, err
}

// appendChange adds an entry to the change feed inside tx. Its seq is the next value of the counter
// 'changes', whose row stays locked until tx ends: the next writer's seq is taken only after tx committed or
// rolled back, so changes become visible in seq order and a reader's cursor never passes one still to come.
// Every write appends its change last, after the counters and rows it locks, so the locks are always taken
// in the same order.
func appendChange(ctx context.Context, tx pgx.Tx, kind, objectID, op string, at time.Time, patientID int64, jobRole string, data []byte) error {
	_, err := tx.Exec(ctx, `WITH n AS (`+nextSQL+`)
		INSERT INTO changes (seq, kind, object_id, op, at, patient_id, job_role, data)
		VALUES ((SELECT value FROM n), $2, $3, $4, $5, $6, $7, $8)`, "changes", kind, objectID, op, at, patientID, jobRole, string(data))
	return err
}

// Setting returns a stored setting.
func (s *Store) Setting(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT value FROM settings WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// EnsureSetting stores value under key unless the key exists, and returns the stored value.
func (s *Store) EnsureSetting(ctx context.Context, key, value string) (string, error) {
	var stored string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, value); err != nil {
			return err
		}
		// A new statement: it sees the value of a server that inserted first, which the INSERT waited for.
		return tx.QueryRow(ctx, "SELECT value FROM settings WHERE key = $1", key).Scan(&stored)
	})
	return stored, err
}

// usec is t as PostgreSQL keeps it: to the microsecond. Objects a write returns carry their times so, as a
// later read returns them.
func usec(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func usecPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := usec(*t)
	return &u
}

// nullJSON is a JSON column's argument: SQL NULL for none.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

type rowScanner interface{ Scan(...any) error }

// querier is what the store reads through: the pool, or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, refusedText(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, refusedText(rows.Err())
}

// params numbers the arguments of a query built in pieces.
type params []any

// add appends v and returns its placeholder.
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// notFound turns "no rows" into CodeNotFound, as it does a key PostgreSQL cannot hold (NUL, invalid UTF-8: a
// client may put either in a URL): no row has it.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) || isUnstorable(err) {
		return server.Errorf(api.CodeNotFound, format, args...)
	}
	return err
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUniqueViolation(err error) bool { return pgCode(err) == "23505" }

// isUnstorable reports whether err is PostgreSQL refusing text it cannot hold: NUL or bytes that are not UTF-8.
func isUnstorable(err error) bool {
	code := pgCode(err)
	return code == "22021" || code == "22P05"
}

// refusedText turns the database's refusal of text or JSON it cannot hold (NUL, invalid UTF-8, JSON the json
// type rejects) into CodeInvalid: the client sent it.
func refusedText(err error) error {
	var se *server.Error
	if errors.As(err, &se) {
		return err
	}
	if isUnstorable(err) || pgCode(err) == "22P02" {
		return server.Errorf(api.CodeInvalid, "the database cannot hold this text: %v", err)
	}
	return err
}

func limitOf(n, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(n, max)
}
