package viewer

import (
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/viewer/nifti"
)

const bratsSample = "/work/shared/data/brats-sub-0004"

func needBraTSSample(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(bratsSample); err != nil {
		t.Skipf("the shared BraTS subject %s is absent (%v): this test reads real data, which lies beside the project checkout (../shared), never in it", bratsSample, err)
	}
}

// rawSForm reads srow_x/y/z and a few voxels of a little-endian uint8 .nii.gz without the nifti package.
func rawSForm(t *testing.T, path string, voxels []int) (srow [3][4]float64, values []uint8) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			srow[r][c] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[280+16*r+4*c:])))
		}
	}
	off := int(math.Float32frombits(binary.LittleEndian.Uint32(b[108:])))
	for _, v := range voxels {
		values = append(values, b[off+v])
	}
	return srow, values
}

func TestLoadBraTSSubject0004(t *testing.T) {
	needBraTSSample(t)
	if !IsBraTSDir(bratsSample) {
		t.Fatalf("IsBraTSDir(%s) = false", bratsSample)
	}
	st, err := LoadBraTS(bratsSample)
	if err != nil {
		t.Fatal(err)
	}
	wantStems := map[SeriesType]string{T1: "sub-0004_T1w", T1CE: "sub-0004_ce-T1w", T2: "sub-0004_T2w", FLAIR: "sub-0004_FLAIR"}
	if len(st.Series) != 4 {
		t.Fatalf("%d series, want 4", len(st.Series))
	}
	for n, se := range st.Series {
		if se.Type != BrainTumourTypes[n] || se.Description != wantStems[se.Type] || se.Number != n+1 {
			t.Fatalf("series %d: type %s description %q number %d", n, se.Type, se.Description, se.Number)
		}
		if Classify(se.Hints) != se.Type || se.StudyUID != st.UID || se.FrameOfReferenceUID == "" {
			t.Fatalf("series %d: hints %+v classify to %s; study %q frame %q", n, se.Hints, Classify(se.Hints), se.StudyUID, se.FrameOfReferenceUID)
		}
		v, ok := se.InMemory()
		if !ok || v.Check() != nil {
			t.Fatalf("series %d has no valid in-memory volume", n)
		}
		if v.Size != [3]int{240, 240, 155} || v.Spacing != (Vec3{1, 1, 1}) {
			t.Fatalf("series %d: size %v spacing %v", n, v.Size, v.Spacing)
		}
		// Voxel values and placement against the file's own bytes and sform.
		probe := []int{v.Index(120, 120, 77), v.Index(100, 140, 60), v.Index(0, 0, 0), v.Index(239, 239, 154)}
		srow, raw := rawSForm(t, filepath.Join(bratsSample, se.Description+".nii.gz"), probe)
		for p, idx := range probe {
			if v.Data[idx] != float32(raw[p]) {
				t.Fatalf("%s voxel %d = %v, file has %d", se.Description, idx, v.Data[idx], raw[p])
			}
		}
		for _, ijk := range [][3]float64{{0, 0, 0}, {239, 0, 0}, {0, 239, 154}, {17, 201, 93}} {
			var ras [3]float64
			for r := 0; r < 3; r++ {
				ras[r] = srow[r][0]*ijk[0] + srow[r][1]*ijk[1] + srow[r][2]*ijk[2] + srow[r][3]
			}
			want := Vec3{-ras[0], -ras[1], ras[2]}
			if got := v.ToPatient(Vec3(ijk)); got.Sub(want).Norm() > 1e-4 {
				t.Fatalf("%s voxel %v at %v, sform says LPS %v", se.Description, ijk, got, want)
			}
		}
	}
	if st.Labels == nil {
		t.Fatal("no labels")
	}
	c := st.Labels.Counts()
	if c[LabelNCR] != 7593 || c[LabelED] != 18654 || c[LabelET] != 15672 || c[4] != 0 {
		t.Fatalf("label counts NCR %d ED %d ET %d (value 4: %d)", c[LabelNCR], c[LabelED], c[LabelET], c[4])
	}
	if st.PatientID != "sub-0004" || !uidPattern.MatchString(st.UID) {
		t.Fatalf("patient %q study UID %q", st.PatientID, st.UID)
	}
}

var uidPattern = regexp.MustCompile(`^2\.25\.[1-9][0-9]{0,38}$`)

// writeFolder writes a small BraTS-style folder: one image per name, values from fill, all on affine
// unless another is given for a name.
func writeFolder(t *testing.T, names []string, affine nifti.Affine, fill func(name string, i int) float32, other map[string]nifti.Affine) string {
	t.Helper()
	dir := t.TempDir()
	size := [3]int{6, 5, 4}
	for _, name := range names {
		data := make([]float32, 6*5*4)
		for i := range data {
			data[i] = fill(name, i)
		}
		a := affine
		if o, ok := other[name]; ok {
			a = o
		}
		dt := nifti.Float32
		if strings.Contains(name, "seg") {
			dt = nifti.Uint8
		}
		if err := nifti.WriteFile(filepath.Join(dir, name), nifti.NewImage(size, a, dt, data)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// An oblique RAS affine with anisotropic voxels.
var obliqueRAS = nifti.Affine{
	{0.9 * math.Cos(0.2), -1.1 * math.Sin(0.2), 0, 80},
	{0.9 * math.Sin(0.2), 1.1 * math.Cos(0.2), 0, -100},
	{0, 0, 2.5, -40},
}

func segFill(et float32) func(string, int) float32 {
	return func(name string, i int) float32 {
		if strings.Contains(name, "seg") {
			return []float32{0, 1, 2, et, 0}[i%5]
		}
		return float32(i) * 1.5
	}
}

func TestLoadBraTSNamingSchemes(t *testing.T) {
	schemes := []struct {
		name  string
		files []string
		et    float32
	}{
		{"BraTS 2020", []string{"BraTS20_Training_001_t1.nii.gz", "BraTS20_Training_001_t1ce.nii.gz", "BraTS20_Training_001_t2.nii.gz", "BraTS20_Training_001_flair.nii.gz", "BraTS20_Training_001_seg.nii.gz"}, 4},
		{"BIDS-like", []string{"sub-01_T1w.nii", "sub-01_ce-T1w.nii", "sub-01_T2w.nii", "sub-01_FLAIR.nii", "sub-01_seg.nii"}, 4},
		{"BraTS 2023", []string{"BraTS-GLI-00000-000-t1n.nii.gz", "BraTS-GLI-00000-000-t1c.nii.gz", "BraTS-GLI-00000-000-t2w.nii.gz", "BraTS-GLI-00000-000-t2f.nii.gz", "BraTS-GLI-00000-000-seg.nii.gz"}, 3},
	}
	for _, s := range schemes {
		t.Run(s.name, func(t *testing.T) {
			dir := writeFolder(t, s.files, obliqueRAS, segFill(s.et), nil)
			if !IsBraTSDir(dir) {
				t.Fatal("IsBraTSDir = false")
			}
			st, err := LoadBraTS(dir)
			if err != nil {
				t.Fatal(err)
			}
			for n, se := range st.Series {
				if se.Type != BrainTumourTypes[n] {
					t.Fatalf("series %d (%s) typed %s, want %s", n, se.Description, se.Type, BrainTumourTypes[n])
				}
				v, _ := se.InMemory()
				if v.Data[7] != 10.5 {
					t.Fatalf("series %d voxel 7 = %v", n, v.Data[7])
				}
				for _, ijk := range []Vec3{{0, 0, 0}, {5, 4, 3}, {2.5, 1, 0.5}} {
					ras := obliqueRAS.Apply(ijk[0], ijk[1], ijk[2])
					if d := v.ToPatient(ijk).Sub(Vec3{-ras[0], -ras[1], ras[2]}).Norm(); d > 1e-4 {
						t.Fatalf("voxel %v is %.3g mm from its RAS→LPS position", ijk, d)
					}
				}
			}
			c := st.Labels.Counts()
			if c[LabelNCR] != 24 || c[LabelED] != 24 || c[LabelET] != 24 || c[0] != 48 || c[4] != 0 {
				t.Fatalf("label counts %v", c[:5])
			}
			if !strings.HasPrefix(filepath.Base(s.files[0]), st.PatientID) || strings.ContainsAny(st.PatientID[len(st.PatientID)-1:], "_-") {
				t.Fatalf("subject %q from %s", st.PatientID, s.files[0])
			}
		})
	}
}

func TestLoadBraTSErrors(t *testing.T) {
	four := []string{"x_t1.nii.gz", "x_t1ce.nii.gz", "x_t2.nii.gz", "x_flair.nii.gz"}
	shifted := obliqueRAS
	shifted[2][3] += 1
	cases := []struct {
		name  string
		files []string
		fill  func(string, int) float32
		other map[string]nifti.Affine
		says  string
	}{
		{"bad label", append(four, "x_seg.nii.gz"), segFill(5), nil, "label 5 at voxel (3, 0, 0)"},
		{"missing FLAIR", four[:3], segFill(4), nil, "no FLAIR image"},
		{"two T2", append(four, "y_t2.nii.gz"), segFill(4), nil, "both x_t2.nii.gz and y_t2.nii.gz are T2"},
		{"image off grid", four, segFill(4), map[string]nifti.Affine{"x_t2.nii.gz": shifted}, "x_t2.nii.gz (size [6 5 4], origin"},
		{"labels off grid", append(four, "x_seg.nii.gz"), segFill(4), map[string]nifti.Affine{"x_seg.nii.gz": shifted}, "x_seg.nii.gz (size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFolder(t, c.files, obliqueRAS, c.fill, c.other)
			_, err := LoadBraTS(dir)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want one saying %q", err, c.says)
			}
		})
	}
	if IsBraTSDir(writeFolder(t, four[:3], obliqueRAS, segFill(4), nil)) {
		t.Fatal("IsBraTSDir accepts a folder without FLAIR")
	}
	if IsBraTSDir(filepath.Join(t.TempDir(), "absent")) {
		t.Fatal("IsBraTSDir accepts a missing folder")
	}
}

func TestLoadBraTSUIDsFollowContent(t *testing.T) {
	four := []string{"x_t1.nii.gz", "x_t1ce.nii.gz", "x_t2.nii.gz", "x_flair.nii.gz"}
	a, err := LoadBraTS(writeFolder(t, four, obliqueRAS, segFill(4), nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBraTS(writeFolder(t, four, obliqueRAS, segFill(4), nil))
	if err != nil {
		t.Fatal(err)
	}
	if a.Labels != nil {
		t.Fatal("labels without a seg file")
	}
	if a.UID != b.UID || a.Series[2].UID != b.Series[2].UID || a.Series[0].FrameOfReferenceUID != b.Series[0].FrameOfReferenceUID {
		t.Fatal("the same content gave different UIDs")
	}
	seen := map[string]bool{a.UID: true}
	for _, se := range a.Series {
		if seen[se.UID] || !uidPattern.MatchString(se.UID) {
			t.Fatalf("series UID %q repeated or malformed", se.UID)
		}
		seen[se.UID] = true
	}
	changed := func(name string, i int) float32 {
		if name == "x_t2.nii.gz" && i == 3 {
			return -1
		}
		return segFill(4)(name, i)
	}
	c, err := LoadBraTS(writeFolder(t, four, obliqueRAS, changed, nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.UID == a.UID || c.Series[2].UID == a.Series[2].UID {
		t.Fatal("changing one voxel kept the UIDs")
	}
}

func TestSaveNIfTIRoundTrip(t *testing.T) {
	g, err := GeometryFromNIfTI([3]int{6, 5, 4}, obliqueRAS)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, frac := range []bool{false, true} {
		v := NewVolume(g)
		for i := range v.Data {
			v.Data[i] = float32(i - 30)
			if frac {
				v.Data[i] += 0.25
			}
		}
		p := filepath.Join(dir, "v.nii.gz")
		if err := SaveNIfTI(p, v); err != nil {
			t.Fatal(err)
		}
		got, err := LoadNIfTI(p)
		if err != nil {
			t.Fatal(err)
		}
		if !got.SameGrid(g, 1e-4) {
			t.Fatalf("geometry %+v, want %+v", got.Geometry, g)
		}
		for i := range v.Data {
			if got.Data[i] != v.Data[i] {
				t.Fatalf("voxel %d = %v, want %v", i, got.Data[i], v.Data[i])
			}
		}
		h, _ := nifti.ReadHeaderFile(p)
		if want := map[bool]nifti.Datatype{false: nifti.Int16, true: nifti.Float32}[frac]; h.Datatype != want {
			t.Fatalf("stored as %v, want %v", h.Datatype, want)
		}
	}
	m := NewLabelMap(g)
	for i := range m.Data {
		m.Data[i] = uint8(i % 4)
	}
	p := filepath.Join(dir, "labels.nii.gz")
	if err := SaveNIfTILabels(p, m); err != nil {
		t.Fatal(err)
	}
	got, err := LoadNIfTILabels(p)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SameGrid(g, 1e-4) || got.Counts() != m.Counts() {
		t.Fatalf("labels came back with counts %v on %+v", got.Counts(), got.Geometry)
	}
}

func BenchmarkLoadBraTS(b *testing.B) {
	needBraTSSample(b)
	for b.Loop() {
		if _, err := LoadBraTS(bratsSample); err != nil {
			b.Fatal(err)
		}
	}
}
