package cache

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// canSyncFS: Linux flushes a whole file system with one syncfs(2), which Adopt uses instead of one fsync
// per file.
const canSyncFS = true

// syncFS makes everything written to the file system holding dir durable, files and folders alike.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}
