package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCacheCommands runs the cache's command lines as the README shows them: import the demo study twice,
// list it, export it anonymised, gc and check.
func TestCacheCommands(t *testing.T) {
	dir := t.TempDir()
	study := filepath.Join(dir, "demo")
	data := filepath.Join(dir, "data")
	if code, _, stderr := runCmd("demo", "--out", study); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCmd("import", "--data", data, study)
	if code != 0 || !strings.Contains(out, "620 instances imported") || !strings.Contains(out, "label map (labels.nii.gz beside the images) given to study") ||
		strings.Contains(out, "\nrejected ") {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = runCmd("import", "--data", data, study)
	if code != 0 || !strings.Contains(out, "0 instances imported") || !strings.Contains(out, "620 already in the cache") {
		t.Fatalf("re-import: exit %d\n%s", code, out)
	}

	// NEURONOVA_DATA stands in for --data.
	t.Setenv("NEURONOVA_DATA", data)
	code, out, stderr = runCmd("ls", "type:t1ce,flair", "date:2000-01-01..")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("ls: exit %d\n%s\n%s", code, out, stderr)
	}
	uid := regexp.MustCompile(`[0-9.]{20,}\s*$`).FindString(strings.Split(out, "\n")[1])
	uid = strings.TrimSpace(uid)
	if uid == "" {
		t.Fatalf("no study UID in the ls output:\n%s", out)
	}
	if code, out, _ = runCmd("ls", "nobody-by-this-name"); code != 0 || !strings.Contains(out, "no studies match") {
		t.Fatalf("ls with no match: %d\n%s", code, out)
	}
	if code, _, stderr = runCmd("ls", "colour:red"); code != 2 || !strings.Contains(stderr, "unknown field") {
		t.Fatalf("ls with a bad query: exit %d: %s", code, stderr)
	}

	anon := filepath.Join(dir, "anon")
	code, out, stderr = runCmd("export", "--anonymize", "--out", anon, uid[:24])
	if code != 0 || !strings.Contains(out, "620 files of 4 series anonymised") {
		t.Fatalf("export: exit %d\n%s\n%s", code, out, stderr)
	}
	b, err := os.ReadFile(filepath.Join(anon, "SE001", "IM0001.dcm"))
	if err != nil || strings.Contains(string(b), uid) {
		t.Fatalf("exported file: %v (original study UID present: %v)", err, strings.Contains(string(b), uid))
	}
	if code, _, stderr = runCmd("export", "--out", anon, "no-such-study"); code != 1 || !strings.Contains(stderr, "not in the cache") {
		t.Fatalf("export of an unknown study: exit %d: %s", code, stderr)
	}

	code, out, _ = runCmd("cache", "gc", "--budget", "1MB")
	if code != 0 || !strings.Contains(out, "evicted "+uid) || !strings.Contains(out, "1 studies evicted") {
		t.Fatalf("gc: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd("cache", "check")
	if code != 0 || !strings.Contains(out, "integrity ok") || !strings.Contains(out, "0 orphan files") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	if code, _, stderr = runCmd("cache", "shrink"); code != 2 || !strings.Contains(stderr, "want gc or check") {
		t.Fatalf("cache shrink: exit %d: %s", code, stderr)
	}
	if code, _, stderr = runCmd("import", "--data", data, filepath.Join(dir, "missing")); code != 1 || !strings.Contains(stderr, "nothing imported") {
		t.Fatalf("import of a missing path: exit %d: %s", code, stderr)
	}
}
