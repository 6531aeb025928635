//go:build !unix

package jobs

import "os"

// lockDir on systems without flock creates the lock file only: two processes must not open one store.
func lockDir(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
