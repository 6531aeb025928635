package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseQuery: the ls query language never panics, and what it accepts the worklist accepts.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "smith", `date:2024-01-01..2024-03-31 mod:mr desc:"brain tumour" type:t1ce,flair sync:pending sort:-name limit:20`,
		"date:..", `"`, "sort:-", "limit:99999999999", "type:,", "from:2024-02-30"} {
		f.Add(s)
	}
	c, err := Open(f.TempDir(), Options{Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("%q: error %v is not ErrBadQuery", s, err)
			}
			return
		}
		if _, err := c.Worklist(context.Background(), q); err != nil {
			t.Fatalf("%q parsed to %+v, which the worklist refuses: %v", s, q, err)
		}
	})
}

// FuzzParseSize: sizes never panic and are positive when accepted.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"20GB", "1.5 GiB", "0", "", "9999999999999TB", "1e3", ".5kB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n <= 0 {
			t.Fatalf("%q: accepted as %d", s, n)
		}
	})
}

// FuzzUnzip: unpacking any archive never panics, never writes outside its folder and never more than the
// limits allow.
func FuzzUnzip(f *testing.F) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("a/b.dcm")
	w.Write(bytes.Repeat([]byte{0}, 5000))
	w, _ = zw.Create("../x")
	w.Write([]byte("x"))
	zw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add([]byte("PK\x03\x04garbage"))
	lim := Limits{MaxFileBytes: 1 << 16, MaxUnzipBytes: 1 << 17, MaxZipEntries: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "out")
		os.Mkdir(dir, 0o700)
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		unzipFiles(context.Background(), zr.File, dir, lim)
		var total int64
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if !strings.HasPrefix(p, dir) && p != root {
				t.Fatalf("wrote %s outside %s", p, dir)
			}
			if !info.IsDir() {
				total += info.Size()
			}
			return nil
		})
		if total > lim.MaxUnzipBytes+1 {
			t.Fatalf("unpacked %d bytes, limit %d", total, lim.MaxUnzipBytes)
		}
	})
}
