package cache

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill test re-executes this test binary as the importing child (TestMain sees childEnv).
const (
	childEnv     = "NEURONOVA_CACHE_KILLTEST_CHILD"
	childDataEnv = "NEURONOVA_CACHE_KILLTEST_DATA"
	childSrcEnv  = "NEURONOVA_CACHE_KILLTEST_SRC"
)

// runKillChild imports childSrcEnv into childDataEnv, printing "P done total" after each step and "DONE n"
// at the end.
func runKillChild() int {
	c, err := Open(os.Getenv(childDataEnv), Options{Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	defer c.Close()
	sum, err := c.Import(context.Background(), []string{os.Getenv(childSrcEnv)}, func(done, total int) {
		fmt.Fprintf(os.Stdout, "P %d %d\n", done, total)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 4
	}
	fmt.Fprintf(os.Stdout, "DONE %d\n", sum.Imported)
	return 0
}

// killRun starts a child import and SIGKILLs it: after delay when atFraction < 0, else once the child's
// progress passes atFraction of its files (plus a random sub-millisecond pause, so the kill lands inside
// whatever comes next: a file copy, an fsync, a transaction). It reports whether the kill happened before
// the child finished.
func killRun(t *testing.T, rng *rand.Rand, dataDir, src string, atFraction float64, delay time.Duration) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDataEnv+"="+dataDir, childSrcEnv+"="+src)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { cmd.Process.Signal(syscall.SIGKILL) }
	killed := false
	if atFraction < 0 {
		timer := time.AfterFunc(delay, func() { kill() })
		defer timer.Stop()
	}
	sc := bufio.NewScanner(out)
	finished := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "DONE") {
			finished = true
			continue
		}
		f := strings.Fields(line)
		if atFraction < 0 || killed || len(f) != 3 {
			continue
		}
		done, _ := strconv.Atoi(f[1])
		total, _ := strconv.Atoi(f[2])
		if float64(done) >= atFraction*float64(total) {
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
			kill()
			killed = true
		}
	}
	err = cmd.Wait()
	if finished && err == nil {
		return false
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child import failed on its own: %v\n%s", err, stderr.String())
	}
	return true
}

// orphanFiles counts files under objects/ that no file row names.
func orphanFiles(t *testing.T, dataDir string) int {
	t.Helper()
	c := openCache(t, dataDir)
	known := map[string]bool{}
	rows, err := c.rdb.Query(`SELECT sha256 FROM files`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		known[s] = true
	}
	rows.Close()
	n := 0
	filepath.WalkDir(filepath.Join(dataDir, objectsDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !known[filepath.Base(filepath.Dir(p))+d.Name()] {
			n++
		}
		return err
	})
	tmp, _ := os.ReadDir(filepath.Join(dataDir, tmpDir))
	return n + len(tmp)
}

// TestKillDuringImport kills an importing child process with SIGKILL at 20 random points and checks after
// each kill that the index is intact, names no missing file, that Check sweeps the orphans, and that the
// import then completes with every instance exactly once.
func TestKillDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the kill test SIGKILLs an importing child process 20 times, which takes tens of seconds; run without -short")
	}
	src := demoDir(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	const kills, perRound = 20, 5
	done, attempts, swept := 0, 0, 0
	start := time.Now()
	for round := 0; done < kills; round++ {
		dataDir := filepath.Join(t.TempDir(), fmt.Sprint("round", round))
		for k := 0; k < perRound && done < kills; k++ {
			attempts++
			if attempts > 3*kills {
				t.Fatalf("only %d of %d kills landed before the child finished", done, kills)
			}
			frac, delay := rng.Float64(), time.Duration(0)
			if rng.IntN(5) == 0 {
				frac, delay = -1, time.Duration(rng.IntN(60))*time.Millisecond // during start-up and Open
			}
			if !killRun(t, rng, dataDir, src, frac, delay) {
				continue
			}
			done++
			if _, err := os.Stat(filepath.Join(dataDir, dbName)); err != nil {
				continue // killed before the index was created: nothing to check
			}
			assertConsistent(t, dataDir)
			orphans := orphanFiles(t, dataDir)
			c := openCache(t, dataDir)
			rep, err := c.Check(context.Background())
			if err != nil || !rep.OK() || len(rep.MissingFiles) != 0 {
				t.Fatalf("kill %d: check: %+v %v", done, rep, err)
			}
			c.Close()
			if left := orphanFiles(t, dataDir); left != 0 {
				t.Fatalf("kill %d: %d orphans left after check (%d before)", done, left, orphans)
			}
			swept += orphans
		}
		// Re-running the import completes with every instance exactly once.
		if killRun(t, rng, dataDir, src, 2, 0) {
			t.Fatal("the final import did not finish")
		}
		assertConsistent(t, dataDir)
		c := openCache(t, dataDir)
		var n, distinct int
		if err := c.rdb.QueryRow(`SELECT count(*), count(DISTINCT sop_uid) FROM instances`).Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		if n != 620 || distinct != 620 {
			t.Fatalf("round %d: %d instances (%d distinct) after re-import, want 620", round, n, distinct)
		}
		if s := mustStats(t, c); s.Files != 621 || s.Studies != 1 || s.Series != 4 { // 620 images and labels.nii.gz
			t.Fatalf("round %d: stats %+v", round, s)
		}
		c.Close()
	}
	t.Logf("%d kills in %d attempts, %d orphan files swept, %v", done, attempts, swept, time.Since(start).Round(time.Millisecond))
}
