package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
)

func TestExportAnonymizedDemo(t *testing.T) {
	ctx := context.Background()
	src := demoDir(t)
	c := openCache(t, t.TempDir())
	sum, err := c.Import(ctx, []string{src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	uid := sum.Studies[0]
	orig, err := c.Study(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	// Every identifying value and original UID that must not survive.
	secrets := []string{orig.PatientName, orig.PatientID, orig.AccessionNumber, orig.UID}
	for _, se := range orig.Series {
		secrets = append(secrets, se.UID, se.FrameOfReferenceUID)
		for _, in := range se.Instances {
			secrets = append(secrets, in.SOPInstanceUID)
		}
	}

	out := filepath.Join(t.TempDir(), "anon")
	rep, err := c.Export(ctx, uid, out, ExportOptions{Anonymize: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 620 || rep.Series != 4 || rep.StudyUID == uid {
		t.Fatalf("export report: %+v", rep)
	}
	files := dicomFiles(t, out)
	if len(files) != 620 {
		t.Fatalf("%d files written", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if s != "" && bytes.Contains(b, []byte(s)) {
				t.Fatalf("%s still contains %q", f, s)
			}
		}
	}

	// The viewer reads the export as one study of four series with the same geometry and new UIDs.
	res, err := viewer.Scan(ctx, []string{out})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Studies) != 1 || len(res.Studies[0].Series) != 4 || len(res.Rejected) != 0 {
		t.Fatalf("export scans as %d studies, %v rejected", len(res.Studies), res.Rejected)
	}
	got := res.Studies[0]
	if got.UID != rep.StudyUID || got.PatientName != "" || got.PatientID != "" {
		t.Fatalf("exported study %s, patient %q %q", got.UID, got.PatientName, got.PatientID)
	}
	frames := map[string]bool{}
	for i, se := range got.Series {
		frames[se.FrameOfReferenceUID] = true
		if se.Grid.Size != orig.Series[i].Grid.Size && orig.Series[i].Grid.Size != [3]int{} {
			t.Errorf("series %d grid %v", i, se.Grid.Size)
		}
		if len(se.Instances) != 155 || len(se.Problems) != 0 {
			t.Errorf("series %d: %d instances, problems %v", i, len(se.Instances), se.Problems)
		}
	}
	if len(frames) != 1 {
		t.Errorf("the series shared one frame of reference; after export they have %d", len(frames))
	}

	// dciodvfy: no errors on the first file of each series; dcmdump reads all; pydicom reads each series
	// and sees the de-identification attributes.
	var firsts []string
	for _, se := range got.Series {
		firsts = append(firsts, se.Instances[0].Path)
	}
	for _, w := range dcmcheck.Dciodvfy(t, firsts...) {
		t.Logf("dciodvfy: %s", w)
	}
	dcmcheck.Dcmdump(t, files...)
	py := dcmcheck.Pydicom(t, filepath.Dir(firsts[0]))
	if py.Tags["PatientName"] != "" || py.Tags["PatientID"] != "" || py.Tags["StudyInstanceUID"] != rep.StudyUID {
		t.Errorf("pydicom tags: %v", py.Tags)
	}
	dump := dcmdumpText(t, firsts[0])
	for _, want := range []string{"(0012,0062) CS [YES]", "(0012,0064) SQ", "(0008,0100) SH [113100]", "(0008,0102) SH [DCM]"} {
		if !strings.Contains(dump, want) {
			t.Errorf("dcmdump lacks %q", want)
		}
	}

	// The same study to a ZIP, consistent with itself.
	zipOut := filepath.Join(t.TempDir(), "anon.zip")
	zrep, err := c.Export(ctx, uid, zipOut, ExportOptions{Anonymize: true, Salt: "fixed"})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zipOut)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 620 || zrep.StudyUID == rep.StudyUID {
		t.Fatalf("zip: %d entries, study %s (folder export %s: salts differ, so must UIDs)", len(zr.File), zrep.StudyUID, rep.StudyUID)
	}
	// Exporting into a non-empty folder is refused and leaves it alone.
	if _, err := c.Export(ctx, uid, out, ExportOptions{Anonymize: true}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("export into a non-empty folder: %v", err)
	}
}

func dcmdumpText(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("dcmdump"); err != nil {
		testenv.Missing(t, "dcmdump", "check the exported files with an independent reader", "apt-get install dcmtk")
	}
	out, err := execOutput("dcmdump", path)
	if err != nil {
		t.Fatalf("dcmdump cannot read %s: %v", path, err)
	}
	return out
}
