package demo

import (
	"context"
	"crypto/sha256"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
)

// demoStudy renders the demo study once for all tests.
var demoStudy = sync.OnceValue(Study)

var uidPattern = regexp.MustCompile(`^2\.25\.[1-9][0-9]{0,38}$`)

func TestStudy(t *testing.T) {
	st := demoStudy()
	if st.PatientName != "DEMO^PHANTOM" || st.PatientID != PatientID || !uidPattern.MatchString(st.UID) {
		t.Fatalf("patient %q id %q study UID %q", st.PatientName, st.PatientID, st.UID)
	}
	want := []string{"AX T1", "AX T1 POST GD", "AX T2", "AX T2 FLAIR"}
	if len(st.Series) != 4 {
		t.Fatalf("%d series", len(st.Series))
	}
	uids := map[string]bool{st.UID: true}
	for n, se := range st.Series {
		if se.Description != want[n] || se.Type != Sequences[n] || viewer.Classify(se.Hints) != se.Type {
			t.Fatalf("series %d: %q typed %s, classified from its hints as %s", n, se.Description, se.Type, viewer.Classify(se.Hints))
		}
		// Classification from the acquisition parameters alone agrees too.
		h := se.Hints
		h.SeriesDescription = ""
		if got := viewer.Classify(h); got != se.Type {
			t.Fatalf("series %d: parameters %+v classify as %s", n, h, got)
		}
		if uids[se.UID] || !uidPattern.MatchString(se.UID) || se.StudyUID != st.UID || se.FrameOfReferenceUID != st.Series[0].FrameOfReferenceUID {
			t.Fatalf("series %d UIDs: %q %q %q", n, se.UID, se.StudyUID, se.FrameOfReferenceUID)
		}
		uids[se.UID] = true
		v, ok := se.InMemory()
		if !ok || v.Geometry != BraTSGrid() || v.Check() != nil || len(v.Windows) != 1 {
			t.Fatalf("series %d volume %+v", n, v.Geometry)
		}
	}
	gt := mustPhantom(t, DefaultParams()).GroundTruth()
	c := st.Labels.Counts()
	for _, r := range []struct {
		name string
		got  int
		want float64
	}{{"NCR", c[viewer.LabelNCR], gt.NCR}, {"ED", c[viewer.LabelED], gt.ED}, {"ET", c[viewer.LabelET], gt.ET}} {
		if math.Abs(float64(r.got)-r.want) > 0.01*r.want {
			t.Errorf("%s: %d voxels of 1 mm³, analytic %.0f mm³", r.name, r.got, r.want)
		}
	}
}

func TestNewStudyUIDsFollowParams(t *testing.T) {
	p := DefaultParams()
	p.Grid = viewer.Geometry{Size: [3]int{48, 56, 40}, Spacing: viewer.Vec3{3.5, 3.5, 3.5},
		Origin: viewer.Vec3{-84, -90, -64}, Direction: viewer.IdentityDirection}
	a, err := NewStudy(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewStudy(p)
	if a.UID != b.UID || a.Series[3].UID != b.Series[3].UID {
		t.Fatal("equal parameters gave different UIDs")
	}
	va, _ := a.Series[1].InMemory()
	vb, _ := b.Series[1].InMemory()
	if !slices.Equal(va.Data, vb.Data) {
		t.Fatal("equal parameters gave different voxels")
	}
	p.Seed++
	c, _ := NewStudy(p)
	if c.UID == a.UID || c.Series[0].UID == a.Series[0].UID {
		t.Fatal("another seed kept the UIDs")
	}
}

func hashTree(t *testing.T, dir string) ([32]byte, int) {
	t.Helper()
	h := sha256.New()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h.Write([]byte(rel))
		h.Write(b)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s, n
}

func TestWrite(t *testing.T) {
	st := demoStudy()
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	sum, files := hashTree(t, dir)
	if files != 4*155+1 {
		t.Fatalf("%d files, want 620 DICOM files and labels.nii.gz", files)
	}
	var series []string
	for n := 1; n <= 4; n++ {
		series = append(series, filepath.Join(dir, "SE00"+string(rune('0'+n))))
	}

	// The project's reader finds one study of four series, typed and shaped as in memory.
	res, err := viewer.Scan(context.Background(), series)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 0 || len(res.Studies) != 1 || len(res.Studies[0].Series) != 4 {
		t.Fatalf("Scan: rejected %v, %d studies", res.Rejected, len(res.Studies))
	}
	got := res.Studies[0]
	if got.UID != st.UID || got.PatientName != PatientName || got.PatientID != PatientID {
		t.Fatalf("scanned study %+v", got)
	}
	for n, se := range got.Series {
		if se.UID != st.Series[n].UID || se.Type != Sequences[n] || se.Description != st.Series[n].Description || len(se.Problems) != 0 {
			t.Fatalf("scanned series %d: %q %s %q problems %v", n, se.UID, se.Type, se.Description, se.Problems)
		}
	}
	for _, n := range []int{1, 3} {
		v, err := viewer.LoadSeries(context.Background(), got.Series[n], nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := st.Series[n].InMemory()
		if !v.SameGrid(want.Geometry, 1e-6) || !slices.Equal(v.Data, want.Data) {
			t.Fatalf("series %d read back differs from the study in memory", n)
		}
	}
	labels, err := viewer.LoadNIfTILabels(filepath.Join(dir, "labels.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !labels.SameGrid(st.Labels.Geometry, 1e-6) || !slices.Equal(labels.Data, st.Labels.Data) {
		t.Fatal("labels.nii.gz differs from the study's labels")
	}

	// Independent tools.
	py := dcmcheck.Pydicom(t, series[1])
	want, _ := st.Series[1].InMemory()
	if len(py.Values) != len(want.Data) || py.Tags["ContrastBolusAgent"] != "GADOLINIUM" {
		t.Fatalf("pydicom read %d values, tags %v", len(py.Values), py.Tags)
	}
	for i, x := range want.Data {
		if py.Values[i] != x {
			t.Fatalf("pydicom voxel %d = %v, want %v", i, py.Values[i], x)
		}
	}
	var all, firsts []string
	for _, s := range series {
		m, _ := filepath.Glob(filepath.Join(s, "*.dcm"))
		all = append(all, m...)
		firsts = append(firsts, m[0], m[len(m)-1])
	}
	dcmcheck.Dcmdump(t, all...)
	if warnings := dcmcheck.Dciodvfy(t, firsts...); len(warnings) > 8*2 {
		t.Errorf("dciodvfy warnings: %v", warnings)
	}

	// The study rendered for TestStudy, written again, gives the bytes of Write's own rendering.
	again := t.TempDir()
	if err := writeStudy(again, st, nil); err != nil {
		t.Fatal(err)
	}
	if sum2, _ := hashTree(t, again); sum2 != sum {
		t.Fatal("writing the demo study twice gave different bytes")
	}
}

func BenchmarkStudy(b *testing.B) {
	for b.Loop() {
		Study()
	}
}

func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if err := Write(dir); err != nil {
			b.Fatal(err)
		}
	}
}
