package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// objectPath is where the content with SHA-256 sum (hex) lives.
func (c *Cache) objectPath(sum string) string {
	return filepath.Join(c.dir, objectsDir, sum[:2], sum[2:])
}

// ObjectPath returns the stored file of a content hash (hex SHA-256), as Study's instances name them.
func (c *Cache) ObjectPath(sum string) (string, error) {
	if len(sum) != 64 {
		return "", fmt.Errorf("%q is not a SHA-256 in hex", sum)
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return "", fmt.Errorf("%q is not a SHA-256 in hex", sum)
	}
	return c.objectPath(sum), nil
}

// stored is a file put into the store.
type stored struct {
	sum    string
	size   int64
	dir    string // folder of the object, to fsync before the row naming it commits
	synced bool   // the file itself is fsynced (else the batch's file-system sync covers it)
}

// storeFile copies src into the store atomically: into a temporary file in tmp/, hashing as it goes,
// fsynced, then renamed to objects/ab/cdef…. A file larger than maxBytes is refused. When the content is
// already stored the copy is dropped. The caller fsyncs the returned folder before it records the file.
func (c *Cache) storeFile(src string, maxBytes int64) (stored, error) {
	in, err := os.Open(src)
	if err != nil {
		return stored{}, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Join(c.dir, tmpDir), "obj-*")
	if err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(in, maxBytes+1))
	if err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	if n > maxBytes {
		return stored{}, fmt.Errorf("store %s: larger than the %d-byte limit for one file", src, maxBytes)
	}
	if err := tmp.Sync(); err != nil {
		return stored{}, fmt.Errorf("store %s: fsync: %w", src, err)
	}
	if err := tmp.Close(); err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst := c.objectPath(sum)
	dir := filepath.Dir(dst)
	if st, err := os.Stat(dst); err == nil && st.Size() == n {
		os.Remove(tmpName)
		ok = true
		return stored{sum: sum, size: n, dir: dir, synced: true}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	if err := os.Rename(tmpName, dst); err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	ok = true
	return stored{sum: sum, size: n, dir: dir, synced: true}, nil
}

// adoptFile moves src, a file of the cache's tmp/, into the store: hashed and renamed to objects/ab/cdef….
// When the content is already stored src is left alone. Where the file system can be synced as a whole
// (Linux syncfs), the batch's commit does that once for all its files and folders; elsewhere the file is
// fsynced here and the caller fsyncs the returned folder before it records the file.
func (c *Cache) adoptFile(src string, maxBytes int64) (stored, error) {
	f, err := os.Open(src)
	if err != nil {
		return stored{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, maxBytes+1))
	if err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	if n > maxBytes {
		return stored{}, fmt.Errorf("store %s: larger than the %d-byte limit for one file", src, maxBytes)
	}
	if !canSyncFS {
		if err := f.Sync(); err != nil {
			return stored{}, fmt.Errorf("store %s: fsync: %w", src, err)
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst := c.objectPath(sum)
	dir := filepath.Dir(dst)
	if st, err := os.Stat(dst); err == nil && st.Size() == n {
		return stored{sum: sum, size: n, dir: dir, synced: true}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return stored{}, fmt.Errorf("store %s: %w", src, err)
	}
	return stored{sum: sum, size: n, dir: dir, synced: !canSyncFS}, nil
}

// syncDir fsyncs a folder so that renames into it survive a power cut.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
