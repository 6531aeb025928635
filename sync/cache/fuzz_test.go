package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseQuery: the ls query language never panics, and what it accepts the worklist (an index in memory)
// accepts.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "smith", `date:2024-01-01..2024-03-31 mod:mr desc:"brain tumour" type:t1ce,flair sync:pending sort:-name limit:20`,
		"date:..", `"`, "sort:-", "limit:99999999999", "type:,", "from:2024-02-30"} {
		f.Add(s)
	}
	c := openMemory(f)
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

// openMemory opens a cache whose index is an SQLite database in memory, on one connection, with the full
// schema and no files at all: for fuzz targets, which must not touch the disk. Only index reads work.
func openMemory(tb testing.TB) *Cache {
	db, err := sql.Open(driverName, "file:fuzz?mode=memory&_foreign_keys=on")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1) // the database lives as long as its one connection
	db.SetMaxIdleConns(1)
	tb.Cleanup(func() { db.Close() })
	c := &Cache{log: quiet, limits: Limits{}.withDefaults(), wdb: db, rdb: db}
	if err := c.migrate(); err != nil {
		tb.Fatal(err)
	}
	return c
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

// FuzzUnzip: unpacking any archive never panics, never creates a path outside its folder and never inflates
// more than the limits allow. Entries go to memory (memEntries), not to the disk.
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
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		m := memEntries{}
		err = unzipFiles(context.Background(), zr.File, m.create, lim)
		var total int64
		for rel, n := range m {
			if !filepath.IsLocal(rel) {
				t.Fatalf("created %q, outside the folder", rel)
			}
			if *n > lim.MaxFileBytes+1 || err == nil && *n > lim.MaxFileBytes {
				t.Fatalf("entry %q: %d bytes, limit %d (error %v)", rel, *n, lim.MaxFileBytes, err)
			}
			total += *n
		}
		if total > lim.MaxUnzipBytes+1 || err == nil && total > lim.MaxUnzipBytes {
			t.Fatalf("unpacked %d bytes, limit %d (error %v)", total, lim.MaxUnzipBytes, err)
		}
	})
}

// memEntries counts the bytes written to each entry, by cleaned path; like dirCreator it refuses a path twice.
type memEntries map[string]*int64

func (m memEntries) create(rel string) (io.WriteCloser, error) {
	rel = filepath.Clean(rel)
	if m[rel] != nil {
		return nil, fs.ErrExist
	}
	n := new(int64)
	m[rel] = n
	return countWriter{n}, nil
}

type countWriter struct{ n *int64 }

func (w countWriter) Write(p []byte) (int, error) { *w.n += int64(len(p)); return len(p), nil }
func (w countWriter) Close() error                { return nil }
