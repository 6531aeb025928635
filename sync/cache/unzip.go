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
	return unzipFiles(ctx, zr.File, dir, lim)
}

func unzipFiles(ctx context.Context, files []*zip.File, dir string, lim Limits) error {
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
		n, err := unzipOne(zf, filepath.Join(dir, rel), min(lim.MaxFileBytes, lim.MaxUnzipBytes-total))
		total += n
		if err != nil {
			return err
		}
	}
	return nil
}

// unzipOne inflates one entry into dst, at most limit bytes.
func unzipOne(zf *zip.File, dst string, limit int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, err
	}
	r, err := zf.Open()
	if err != nil {
		return 0, fmt.Errorf("ZIP entry %q: %w", zf.Name, err)
	}
	defer r.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("ZIP entry %q: %w", zf.Name, err)
	}
	defer out.Close()
	n, err := io.Copy(out, io.LimitReader(r, limit+1))
	if err != nil {
		return n, fmt.Errorf("ZIP entry %q: %w", zf.Name, err)
	}
	if n > limit {
		ratio := float64(n) / float64(max(zf.CompressedSize64, 1))
		return n, fmt.Errorf("%w: entry %q inflates past the limit (%d bytes left of the budget; %.0f:1 compression so far) — a ZIP bomb?", ErrZipLimit, zf.Name, limit, ratio)
	}
	return n, nil
}
