package postgres

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
)

// pgDumpMagic starts every pg_dump archive in its custom format.
var pgDumpMagic = []byte("PGDMP")

// clientArgs turns a postgres:// URL into what PostgreSQL's client programs take: the URL without its password,
// which goes into their environment (PGPASSWORD) rather than onto a command line others can read.
func clientArgs(dsn string) (conn string, env []string, err error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("postgres URL: %w", err)
	}
	env = os.Environ()
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	return u.String(), env, nil
}

// runClient runs one of PostgreSQL's client programs and returns its error output with its failure.
func runClient(ctx context.Context, env []string, program string, args ...string) error {
	path, err := exec.LookPath(program)
	if err != nil {
		return fmt.Errorf("%s is not installed (apt-get install postgresql-client): %w", program, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Env, cmd.Stderr = env, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", program, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Backup writes a consistent copy of the database dsn names to path, which must not exist, while the servers
// run: pg_dump's custom format, taken in one snapshot.
func Backup(ctx context.Context, dsn, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup %s exists; choose a new file", path)
	}
	conn, env, err := clientArgs(dsn)
	if err != nil {
		return err
	}
	return runClient(ctx, env, "pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", path, "--dbname", conn)
}

// Restore loads the backup at from into the database dsn names, which must exist and be empty (a restore never
// overwrites data), in one transaction, then opens it to bring its schema up to date.
func Restore(ctx context.Context, from, dsn string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	head := make([]byte, len(pgDumpMagic))
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil || !bytes.Equal(head, pgDumpMagic) {
		return fmt.Errorf("%s is not a PostgreSQL backup of the server (pg_dump custom format)", from)
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var tables int
	err = c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").Scan(&tables)
	c.Close(ctx)
	if err != nil {
		return err
	}
	if tables > 0 {
		return fmt.Errorf("the database holds %d tables; restore into a new, empty database (a restore never overwrites)", tables)
	}
	conn, env, err := clientArgs(dsn)
	if err != nil {
		return err
	}
	if err := runClient(ctx, env, "pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
		"--dbname", conn, from); err != nil {
		return err
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		return fmt.Errorf("the restored database does not open: %w", err)
	}
	return s.Close()
}
