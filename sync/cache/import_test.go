package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer"
)

func TestImportDemoTwiceAndOpen(t *testing.T) {
	ctx := context.Background()
	src := demoDir(t)
	c := openCache(t, t.TempDir())
	var last, total int
	sum, err := c.Import(ctx, []string{src}, func(done, tot int) { last, total = done, tot })
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 620 || len(sum.Studies) != 1 {
		t.Fatalf("imported %d instances of %d studies, want 620 of 1; rejected %v", sum.Imported, len(sum.Studies), sum.Rejected)
	}
	// labels.nii.gz beside the DICOM becomes the study's label map (a stored file of its own).
	if len(sum.Rejected) != 0 || len(sum.Labels) != 1 || sum.Labels[0] != sum.Studies[0] {
		t.Fatalf("rejected %v, label maps for %v", sum.Rejected, sum.Labels)
	}
	if last != total || total != 620 {
		t.Errorf("progress ended at %d/%d, want 620/620", last, total)
	}
	before := mustStats(t, c)
	if before.Instances != 620 || before.Studies != 1 || before.Series != 4 || before.Files != 621 {
		t.Fatalf("stats after import: %+v", before)
	}

	again, err := c.Import(ctx, []string{src, src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Imported != 0 || again.AlreadyPresent() != 620 {
		t.Fatalf("re-import: imported %d, already present %d; want 0 and 620", again.Imported, again.AlreadyPresent())
	}
	if after := mustStats(t, c); after != before {
		t.Fatalf("re-import changed the cache: %+v → %+v", before, after)
	}

	// The study opens with the viewer's loader, voxels equal to reading the original folder.
	uid := sum.Studies[0]
	st, err := c.OpenStudy(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Series) != 4 || st.PatientID == "" {
		t.Fatalf("study: %d series, patient %q", len(st.Series), st.PatientID)
	}
	if st.Labels == nil || !strings.Contains(st.Labels.Source, "labels.nii.gz") || st.Labels.Size != [3]int{240, 240, 155} {
		t.Fatalf("label map of the opened study: %+v", st.Labels)
	}
	orig, err := viewer.Scan(ctx, []string{src})
	if err != nil {
		t.Fatal(err)
	}
	for i, se := range st.Series {
		if !strings.HasPrefix(se.Instances[0].Path, c.Dir()) {
			t.Fatalf("instance path %s is outside the cache", se.Instances[0].Path)
		}
		want := orig.Studies[0].Series[i]
		if se.UID != want.UID || se.Type != want.Type || len(se.Instances) != len(want.Instances) {
			t.Fatalf("series %d: %s %s %d, want %s %s %d", i, se.UID, se.Type, len(se.Instances), want.UID, want.Type, len(want.Instances))
		}
		if i > 0 {
			continue // one full volume comparison is enough
		}
		got, err := viewer.LoadSeries(ctx, se, nil)
		if err != nil {
			t.Fatal(err)
		}
		exp, err := viewer.LoadSeries(ctx, want, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Size != exp.Size || len(got.Data) != len(exp.Data) {
			t.Fatalf("volume %v, want %v", got.Size, exp.Size)
		}
		for k := range got.Data {
			if got.Data[k] != exp.Data[k] {
				t.Fatalf("voxel %d: %v, want %v", k, got.Data[k], exp.Data[k])
			}
		}
	}
	info, err := c.StudyInfo(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if info.OpenedAt.IsZero() || info.NumInstances != 620 || info.Sync != SyncLocal {
		t.Fatalf("study row after open: %+v", info)
	}
	ev, err := c.AuditEvents(ctx, 10)
	if err != nil || len(ev) < 3 || ev[0].Action != "study.open" || ev[0].Target != uid || ev[1].Action != "import" {
		t.Fatalf("audit events: %+v %v", ev, err)
	}
}

// writeZip makes a ZIP of entries name → content.
func writeZip(t *testing.T, path string, entries map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestImportZipDICOMDIRAndBraTS(t *testing.T) {
	ctx := context.Background()
	src, st := smallStudy(t, 11)
	files := dicomFiles(t, src)
	in := t.TempDir()

	// A ZIP of the first series, folders kept.
	entries := map[string][]byte{}
	for _, f := range files[:12] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(src, f)
		entries["export/"+filepath.ToSlash(rel)] = b
	}
	zipPath := filepath.Join(in, "series1.zip")
	writeZip(t, zipPath, entries)

	// A DICOMDIR medium with the other series: importing the DICOMDIR imports its folder.
	media := filepath.Join(in, "cdrom")
	for _, f := range files[12:] {
		rel, _ := filepath.Rel(src, f)
		dst := filepath.Join(media, rel)
		os.MkdirAll(filepath.Dir(dst), 0o700)
		b, _ := os.ReadFile(f)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(media, "DICOMDIR"), []byte("directory records"), 0o600)

	// A BraTS NIfTI folder of another small study.
	_, bst := smallStudy(t, 12)
	brats := filepath.Join(in, "BraTS-GLI-00001-000")
	os.Mkdir(brats, 0o700)
	for _, se := range bst.Series {
		v, _ := se.InMemory()
		name := map[viewer.SeriesType]string{viewer.T1: "t1n", viewer.T1CE: "t1c", viewer.T2: "t2w", viewer.FLAIR: "t2f"}[se.Type]
		if err := viewer.SaveNIfTI(filepath.Join(brats, "BraTS-GLI-00001-000-"+name+".nii.gz"), v); err != nil {
			t.Fatal(err)
		}
	}

	c := openCache(t, t.TempDir())
	sum, err := c.Import(ctx, []string{zipPath, filepath.Join(media, "DICOMDIR"), brats}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != 48+48 || len(sum.Rejected) != 0 || len(sum.Converted) != 1 {
		t.Fatalf("imported %d, rejected %v, converted %v", sum.Imported, sum.Rejected, sum.Converted)
	}
	found := false
	for _, s := range sum.Skipped {
		found = found || strings.Contains(s.Reason, "DICOMDIR")
	}
	if !found {
		t.Errorf("the DICOMDIR file itself is not reported as skipped: %+v", sum.Skipped)
	}
	if s := mustStats(t, c); s.Studies != 2 || s.Instances != 96 {
		t.Fatalf("stats: %+v", s)
	}
	full, err := c.Study(ctx, st.UID)
	if err == nil {
		t.Fatalf("WriteStudy made new UIDs, yet the in-memory UID %s is cached (%d series)", st.UID, len(full.Series))
	}
	// The NIfTI study is stored as DICOM and converting again gives the same UIDs: a no-op.
	again, err := c.Import(ctx, []string{brats}, nil)
	if err != nil || again.Imported != 0 || again.AlreadyPresent() != 48 {
		t.Fatalf("re-import of BraTS: %d imported, %d present, %v", again.Imported, again.AlreadyPresent(), err)
	}
	page, err := c.Worklist(ctx, Query{Text: "brats-gli-00001"})
	if err != nil || len(page.Rows) != 1 || len(page.Rows[0].Types) != 4 {
		t.Fatalf("BraTS study in the worklist: %+v %v", page, err)
	}
}

func TestImportBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	src, _ := smallStudy(t, 21)
	files := dicomFiles(t, src)
	c := openCache(t, t.TempDir())
	c.limits.MaxUnzipBytes = 8 << 20
	if _, err := c.Import(ctx, []string{files[0]}, nil); err != nil {
		t.Fatal(err)
	}
	before := mustStats(t, c)

	bad := t.TempDir()
	good, _ := os.ReadFile(files[1])
	write := func(name string, b []byte) string {
		p := filepath.Join(bad, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.dcm", good[:len(good)/2])
	text := write("notes.txt", []byte("not an image"))
	huge := append([]byte(nil), good...)
	// Declare a 3 GB value length on the first dataset element after the meta: the guard must refuse it.
	idx := bytes.Index(huge, []byte{0x08, 0x00, 0x16, 0x00}) // (0008,0016) SOP Class UID
	copy(huge[idx+4:], []byte("UI\xff\xff"))
	hugePath := write("huge.dcm", huge)
	bomb := filepath.Join(bad, "bomb.zip")
	writeZip(t, bomb, map[string][]byte{"a.dcm": good, "zeros.dcm": make([]byte, 64<<20)})
	escape := filepath.Join(bad, "escape.zip")
	writeZip(t, escape, map[string][]byte{"../../evil.dcm": good})
	missing := filepath.Join(bad, "no-such-folder")

	sum, err := c.Import(ctx, []string{truncated, text, hugePath, bomb, escape, missing}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		truncated: "truncated", text: "not a DICOM file", hugePath: "", bomb: "ZIP bomb", escape: "leaves the archive", missing: "no such file or folder",
	}
	if len(sum.Rejected) != len(want) || sum.Imported != 0 {
		t.Fatalf("imported %d; rejected %d: %v", sum.Imported, len(sum.Rejected), sum.Rejected)
	}
	for _, r := range sum.Rejected {
		frag, ok := want[r.Path]
		if !ok {
			t.Errorf("rejected %s, which was not an input", r.Path)
			continue
		}
		if r.Err == nil || !strings.Contains(r.Err.Error(), frag) {
			t.Errorf("%s: error %v does not say %q", filepath.Base(r.Path), r.Err, frag)
		}
	}
	if after := mustStats(t, c); after != before {
		t.Fatalf("bad input changed the cache: %+v → %+v", before, after)
	}
	if _, err := os.Stat(filepath.Join(bad, "..", "evil.dcm")); err == nil {
		t.Fatal("a ZIP entry escaped its folder")
	}
	rep, err := c.Check(ctx)
	if err != nil || rep.Orphans != 0 || len(rep.MissingFiles) != 0 {
		t.Fatalf("check after bad input: %+v %v", rep, err)
	}
}

func TestImportCancel(t *testing.T) {
	src := demoDir(t)
	dataDir := t.TempDir()
	c := openCache(t, dataDir)
	ctx, cancel := context.WithCancel(context.Background())
	sum, err := c.Import(ctx, []string{src}, func(done, total int) {
		if done >= 100 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("import after cancel: %v", err)
	}
	s := mustStats(t, c)
	if s.Instances != sum.Imported || s.Instances >= 620 {
		t.Fatalf("cancelled import: %d instances stored, summary says %d", s.Instances, sum.Imported)
	}
	assertConsistent(t, dataDir)
	if ev, err := c.AuditEvents(context.Background(), 1); err != nil || len(ev) != 1 || !strings.Contains(ev[0].Detail, "stopped: context canceled") {
		t.Fatalf("the cancelled import is not in the audit trail: %+v %v", ev, err)
	}
	again, err := c.Import(context.Background(), []string{src}, nil)
	if err != nil || mustStats(t, c).Instances != 620 || again.AlreadyPresent() != s.Instances {
		t.Fatalf("import after cancel: %+v %v", mustStats(t, c), err)
	}
}

// TestAdoptMovesDownloadsIntoTheStore: files written under the cache's tmp/ are moved into the store, not
// copied; a file outside tmp/ is refused and left as it is; adopting the same instances again takes
// nothing and leaves the files for the caller; the cache stays consistent and the study opens.
func TestAdoptMovesDownloadsIntoTheStore(t *testing.T) {
	ctx := context.Background()
	src, st := smallStudy(t, 901) // written with fresh UIDs: the study is found by what Adopt reports
	dataDir := t.TempDir()
	c := openCache(t, dataDir)
	files := dicomFiles(t, src)
	download := func() []string {
		work, err := os.MkdirTemp(c.TmpDir(), "pull-*")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(work, fmt.Sprintf("%d.dcm", i))
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}

	outside := files[0]
	got := download()
	sum, err := c.Adopt(ctx, append(got, outside), "server study test")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Imported != len(files) || len(sum.Rejected) != 1 || sum.Rejected[0].Path != outside ||
		!strings.Contains(sum.Rejected[0].Err.Error(), "not under the cache's tmp folder") {
		t.Fatalf("adopt: %d imported, rejected %v; want %d and the outside file", sum.Imported, sum.Rejected, len(files))
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("the file outside tmp/ was touched: %v", err)
	}
	if len(sum.Studies) != 1 {
		t.Fatalf("adopted into studies %v, want one", sum.Studies)
	}
	studyUID := sum.Studies[0]
	for _, f := range got {
		if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s was not moved into the store: %v", f, err)
		}
	}

	again := download()
	sum, err = c.Adopt(ctx, again, "server study test")
	if err != nil || sum.Imported != 0 || sum.AlreadyPresent() != len(files) {
		t.Fatalf("second adopt: %+v %v", sum, err)
	}
	for _, f := range again {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("a file not taken was removed: %v", err)
		}
	}
	if s := mustStats(t, c); s.Instances != len(files) || s.Files != len(files) {
		t.Fatalf("stats %+v, want %d instances and files", s, len(files))
	}
	opened, err := c.Study(ctx, studyUID)
	if err != nil || len(opened.Series) != len(st.Series) {
		t.Fatalf("study %v: %v", opened, err)
	}
	c.Close()
	assertConsistent(t, dataDir)
}
