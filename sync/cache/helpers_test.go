package cache

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/demo"
)

var (
	demoOnce sync.Once
	demoPath string
	demoErr  error
	tmpRoot  string
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runKillChild())
	}
	var err error
	tmpRoot, err = os.MkdirTemp("", "neuronova-cache-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

// demoDir returns a folder holding the 620-file demo study (written once per test binary).
func demoDir(tb testing.TB) string {
	tb.Helper()
	demoOnce.Do(func() {
		demoPath = filepath.Join(tmpRoot, "demo")
		demoErr = demo.Write(demoPath)
	})
	if demoErr != nil {
		tb.Fatal(demoErr)
	}
	return demoPath
}

// smallStudy writes a small synthetic MR study (4 series of 12 slices of 40×40) with fresh UIDs into a
// new folder and returns the folder and the in-memory study; n names the patient.
func smallStudy(tb testing.TB, n uint64) (string, *viewer.Study) {
	tb.Helper()
	p := demo.DefaultParams()
	// The default phantom (its seed is known to be valid); WriteStudy gives each copy fresh UIDs.
	p.Grid = viewer.Geometry{Size: [3]int{40, 40, 12}, Spacing: viewer.Vec3{5, 5, 10}, Origin: viewer.Vec3{-97.5, -97.5, -55},
		Direction: viewer.IdentityDirection}
	st, err := demo.NewStudy(p)
	if err != nil {
		tb.Fatal(err)
	}
	st.PatientName = fmt.Sprintf("SMALL^PATIENT%d", n)
	st.PatientID = fmt.Sprintf("SP%04d", n)
	dir := tb.TempDir()
	if _, err := dcmwrite.WriteStudy(dir, st); err != nil {
		tb.Fatal(err)
	}
	return dir, st
}

// quiet keeps the cache's log lines out of test output.
var quiet = slog.New(slog.DiscardHandler)

func openCache(tb testing.TB, dir string) *Cache {
	tb.Helper()
	c, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func mustStats(tb testing.TB, c *Cache) Stats {
	tb.Helper()
	s, err := c.Stats(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// dicomFiles lists the *.dcm files under dir.
func dicomFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".dcm") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// assertConsistent checks the cache's invariants: integrity_check ok, every file row and instance row
// names a file that exists with its size, and SOP Instance UIDs are unique.
func assertConsistent(tb testing.TB, dataDir string) {
	tb.Helper()
	c, err := Open(dataDir, Options{Logger: quiet})
	if err != nil {
		tb.Fatalf("open after crash: %v", err)
	}
	defer c.Close()
	ctx := context.Background()
	var integrity string
	if err := c.rdb.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		tb.Fatalf("integrity_check: %q %v", integrity, err)
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT f.sha256, f.size FROM files f UNION SELECT i.sha256, -1 FROM instances i`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var sum string
		var size int64
		if err := rows.Scan(&sum, &size); err != nil {
			tb.Fatal(err)
		}
		st, err := os.Stat(c.objectPath(sum))
		if err != nil {
			tb.Fatalf("index row names a missing file: %v", err)
		}
		if size >= 0 && st.Size() != size {
			tb.Fatalf("file %s has %d bytes, the index says %d", sum, st.Size(), size)
		}
		n++
	}
	var dup int
	if err := c.rdb.QueryRowContext(ctx, `SELECT count(*) - count(DISTINCT sop_uid) FROM instances`).Scan(&dup); err != nil || dup != 0 {
		tb.Fatalf("duplicate instances: %d %v", dup, err)
	}
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
