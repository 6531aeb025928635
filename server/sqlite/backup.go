package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// Backup writes a consistent copy of the database to path, which must not exist, while the server runs
// (VACUUM INTO: writes wait for it; reads go on).
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup %s exists; choose a new file", path)
	}
	if _, err := s.write.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("back up into %s: %w", path, err)
	}
	return nil
}

// Restore makes the backup at from the database at path, which must not exist or must be empty: a restore
// never overwrites data. The copy is checked (integrity, schema brought up to date) before it takes the
// name path.
func Restore(ctx context.Context, from, path string) error {
	head := make([]byte, len(sqliteMagic))
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteMagic) {
		return fmt.Errorf("%s is not an SQLite backup of the server", from)
	}
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return fmt.Errorf("%s exists and holds data; restore into a new file (a restore never overwrites)", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := f.Seek(0, io.SeekStart); err == nil {
		_, err = io.Copy(tmp, f)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	s, err := Open(ctx, tmp.Name())
	if err != nil {
		return fmt.Errorf("the backup %s does not open: %w", from, err)
	}
	var check string
	err = s.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check)
	s.Close()
	if err == nil && check != "ok" {
		err = errors.New(check)
	}
	if err != nil {
		return fmt.Errorf("the backup %s is damaged: %w", from, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(tmp.Name() + suffix)
	}
	return os.Rename(tmp.Name(), path)
}
