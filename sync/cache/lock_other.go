//go:build !unix

package cache

import (
	"context"
	"os"
)

// lockFile on systems without flock creates the lock file and relies on SQLite's own locking between
// processes; within a process Cache's mutex keeps one writer.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
