package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrZipLimit is returned for a ZIP that would unpack beyond the import limits (a ZIP bomb, or simply too
// big): nothing from it is imported.
var ErrZipLimit = errors.New("ZIP exceeds the import limits")

// isZip reports whether the file starts like a ZIP archive (local file header or empty archive).
func isZip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return false
	}
	return bytes.Equal(b[:], []byte("PK\x03\x04")) || bytes.Equal(b[:], []byte("PK\x05\x06"))
}

// unzip unpacks the archive at path into dir, refusing entries that would leave dir, links, more than
// lim.MaxZipEntries entries, an entry over lim.MaxFileBytes or more than lim.MaxUnzipBytes in all —
// counted on the bytes actually inflated, not on the sizes the archive declares. On error dir may hold
// part of the archive; the caller removes it.
func unzip(ctx context.Context, path, dir string, lim Limits) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("ZIP archive: %w", err)
	}
	defer zr.Close()
	return unzipFiles(ctx, zr.File, dirCreator(dir), lim)
}

// createFunc opens the destination of an entry whose path rel is local (filepath.IsLocal); it fails if
// that entry already exists.
type createFunc func(rel string) (io.WriteCloser, error)

// dirCreator writes entries as new files under dir, making their folders.
func dirCreator(dir string) createFunc {
	return func(rel string) (io.WriteCloser, error) {
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		return os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	}
}

// unzipFiles checks the entries and inflates each accepted one into what create opens for it.
func unzipFiles(ctx context.Context, files []*zip.File, create createFunc, lim Limits) error {
	if len(files) > lim.MaxZipEntries {
		return fmt.Errorf("%w: %d entries, at most %d allowed", ErrZipLimit, len(files), lim.MaxZipEntries)
	}
	var total int64
	for _, zf := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := strings.ReplaceAll(zf.Name, `\`, "/")
		if strings.HasSuffix(name, "/") {
			continue
		}
		rel := filepath.FromSlash(name)
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("ZIP entry %q: its path leaves the archive's folder (absolute or ..)", zf.Name)
		}
		mode := zf.Mode()
		if !mode.IsRegular() {
			return fmt.Errorf("ZIP entry %q: not a regular file (%s)", zf.Name, mode.Type())
		}
		if zf.UncompressedSize64 > uint64(lim.MaxFileBytes) {
			return fmt.Errorf("%w: entry %q declares %d bytes, more than the %d-byte limit for one file", ErrZipLimit, zf.Name, zf.UncompressedSize64, lim.MaxFileBytes)
		}
		n, err := unzipOne(zf, rel, create, min(lim.MaxFileBytes, lim.MaxUnzipBytes-total))
		total += n
		if err != nil {
			return err
		}
	}
	return nil
}

// unzipOne inflates one entry into create(rel), at most limit bytes.
func unzipOne(zf *zip.File, rel string, create createFunc, limit int64) (int64, error) {
	r, err := zf.Open()
	if err != nil {
		return 0, fmt.Errorf("ZIP entry %q: %w", zf.Name, err)
	}
	defer r.Close()
	out, err := create(rel)
	if err != nil {
		return 0, fmt.Errorf("ZIP entry %q: %w", zf.Name, err)
	}
	n, err := io.Copy(out, io.LimitReader(r, limit+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("ZIP entry %q: %w", zf.Name, err)
	}
	if n > limit {
		ratio := float64(n) / float64(max(zf.CompressedSize64, 1))
		return n, fmt.Errorf("%w: entry %q inflates past the limit (%d bytes left of the budget; %.0f:1 compression so far) — a ZIP bomb?", ErrZipLimit, zf.Name, limit, ratio)
	}
	return n, nil
}
