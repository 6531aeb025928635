package dcmwrite

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
)

// obliqueGeometry is rotated about two axes, anisotropic, and right- or left-handed.
func obliqueGeometry(size [3]int, leftHanded bool) viewer.Geometry {
	c, s := math.Cos(0.25), math.Sin(0.25)
	row := viewer.Vec3{c, s, 0}
	col := viewer.Vec3{-s * math.Cos(0.1), c * math.Cos(0.1), math.Sin(0.1)}
	normal := row.Cross(col)
	if leftHanded {
		normal = normal.Scale(-1)
	}
	return viewer.Geometry{Size: size, Spacing: viewer.Vec3{0.9, 0.8, 3}, Origin: viewer.Vec3{-60.25, 80, -12},
		Direction: [3]viewer.Vec3{row, col, normal}}
}

func testVolume(g viewer.Geometry, f func(i, j, k int) float64) *viewer.Volume {
	v := viewer.NewVolume(g)
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				v.Data[g.Index(i, j, k)] = float32(f(i, j, k))
			}
		}
	}
	return v
}

// compareByPosition checks that every voxel of got lies on a voxel centre of want with a value within tol.
func compareByPosition(t *testing.T, what string, got, want *viewer.Volume, tol float64) {
	t.Helper()
	if got.Len() != want.Len() {
		t.Fatalf("%s: %v voxels, want %v", what, got.Size, want.Size)
	}
	for k := 0; k < got.Size[2]; k++ {
		for j := 0; j < got.Size[1]; j++ {
			for i := 0; i < got.Size[0]; i++ {
				p := want.ToVoxel(got.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)}))
				wi, wj, wk := int(math.Round(p[0])), int(math.Round(p[1])), int(math.Round(p[2]))
				if math.Abs(p[0]-float64(wi))+math.Abs(p[1]-float64(wj))+math.Abs(p[2]-float64(wk)) > 1e-3 || !want.Contains(wi, wj, wk) {
					t.Fatalf("%s: voxel (%d,%d,%d) lands at %v of the original grid", what, i, j, k, p)
				}
				g, w := float64(got.At(i, j, k)), float64(want.At(wi, wj, wk))
				if math.Abs(g-w) > tol {
					t.Fatalf("%s: voxel (%d,%d,%d) = %v, want %v ± %v", what, i, j, k, g, w, tol)
				}
			}
		}
	}
}

func TestWriteSeriesCrossChecked(t *testing.T) {
	cases := []struct {
		name  string
		left  bool
		value func(i, j, k int) float64
		exact bool
	}{
		{"float values, right-handed", false, func(i, j, k int) float64 { return 500*math.Sin(float64(i)/3) + 37.25*float64(j) - 0.001*float64(k) }, false},
		{"signed integers, left-handed", true, func(i, j, k int) float64 { return float64(i*j - 40*k) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			v := testVolume(obliqueGeometry([3]int{20, 16, 6}, c.left), c.value)
			v.Windows = []viewer.Window{{Center: 100, Width: 400, Name: "Brain"}}
			study := StudyInfo{PatientName: "TEST^PATIENT", PatientID: "T-001", StudyDate: "20240102", StudyTime: "030405", Description: "Brain"}
			series := SeriesInfo{Number: 7, Description: "AX T2 FLAIR", Type: viewer.FLAIR}
			var calls atomic.Int64
			paths, err := WriteSeries(dir, study, series, v, WithProgress(func(done, total int) {
				calls.Add(1)
				if total != 6 || done < 1 || done > 6 {
					t.Errorf("progress %d of %d", done, total)
				}
			}))
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != 6 || calls.Load() != 6 || filepath.Base(paths[0]) != "IM0001.dcm" {
				t.Fatalf("paths %v, %d progress calls", paths, calls.Load())
			}
			r, _ := chooseRescale(v.Data)
			tol := r.Slope/2 + 1e-4
			if c.exact {
				tol = 0
			}

			// The project's own reader.
			res, err := viewer.Scan(context.Background(), []string{dir})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rejected) != 0 || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
				t.Fatalf("Scan: %d studies, rejected %v", len(res.Studies), res.Rejected)
			}
			st := res.Studies[0]
			se := st.Series[0]
			if st.PatientName != "TEST^PATIENT" || st.PatientID != "T-001" || st.StudyDate != "20240102" || se.Number != 7 ||
				se.Description != "AX T2 FLAIR" || se.Type != viewer.FLAIR || len(se.Problems) != 0 {
				t.Fatalf("scanned study %+v series %+v", st, se)
			}
			got, err := viewer.LoadSeries(context.Background(), se, nil)
			if err != nil {
				t.Fatal(err)
			}
			compareByPosition(t, "viewer.LoadSeries", got, v, tol)
			if len(got.Windows) == 0 || got.Windows[0].Center != 100 || got.Windows[0].Width != 400 {
				t.Fatalf("windows %+v", got.Windows)
			}

			// pydicom, dcmdump and dciodvfy.
			py := dcmcheck.Pydicom(t, dir)
			if py.Rows != 16 || py.Columns != 20 || py.PixelSpacing != [2]float64{0.8, 0.9} {
				t.Fatalf("pydicom: %d×%d spacing %v", py.Rows, py.Columns, py.PixelSpacing)
			}
			for a := 0; a < 3; a++ {
				if math.Abs(py.Orientation[a]-v.Direction[0][a]) > 1e-9 || math.Abs(py.Orientation[3+a]-v.Direction[1][a]) > 1e-9 {
					t.Fatalf("pydicom orientation %v", py.Orientation)
				}
			}
			// pydicom orders slices along row×column; map each back to k through its position.
			n := 20 * 16
			for s, pos := range py.Positions {
				kf := v.ToVoxel(viewer.Vec3(pos))
				k := int(math.Round(kf[2]))
				if math.Abs(kf[0])+math.Abs(kf[1])+math.Abs(kf[2]-float64(k)) > 1e-6 || k < 0 || k >= 6 {
					t.Fatalf("pydicom slice %d at %v is not slice origin of the grid (%v)", s, pos, kf)
				}
				for p := 0; p < n; p++ {
					if d := math.Abs(float64(py.Values[s*n+p] - v.Data[k*n+p])); d > tol+1e-3 {
						t.Fatalf("pydicom slice %d pixel %d = %v, want %v", s, p, py.Values[s*n+p], v.Data[k*n+p])
					}
				}
			}
			if py.Tags["InversionTime"] != "2500" || py.Tags["SOPClassUID"] != MRImageStorage {
				t.Fatalf("pydicom tags %v", py.Tags)
			}
			dcmcheck.Dcmdump(t, paths...)
			dcmcheck.Dciodvfy(t, paths[0], paths[5])
		})
	}
}

func memoryStudy(t *testing.T) *viewer.Study {
	t.Helper()
	g := obliqueGeometry([3]int{8, 6, 3}, false)
	small := obliqueGeometry([3]int{4, 4, 2}, false)
	mk := func(uid, desc string, ty viewer.SeriesType, frame string, g viewer.Geometry, f float64) *viewer.Series {
		se := viewer.NewVolumeSeries(uid, desc, ty, testVolume(g, func(i, j, k int) float64 { return f * float64(i+j+k) }))
		se.FrameOfReferenceUID = frame
		return se
	}
	st := &viewer.Study{UID: "1.2.826.0.1.1", PatientName: "MÜLLER^JÖRG", PatientID: "P1", StudyDate: "20230405", StudyTime: "101010"}
	st.Series = []*viewer.Series{
		mk("1.2.826.0.1.1.1", "t1", viewer.T1, "1.2.826.0.1.9", g, 1),
		mk("1.2.826.0.1.1.2", "post gd", viewer.T1CE, "1.2.826.0.1.9", g, 2.5),
		mk("1.2.826.0.1.1.3", "other", viewer.Other, "1.2.826.0.1.8", small, 3),
	}
	st.Series[1].Hints.RepetitionTime, st.Series[1].Hints.EchoTime = 650, 12
	return st
}

func TestWriteStudyNewUIDs(t *testing.T) {
	st := memoryStudy(t)
	dir := t.TempDir()
	paths, err := WriteStudy(dir, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3+3+2 || !strings.HasSuffix(filepath.Dir(paths[7]), "SE003") {
		t.Fatalf("paths %v", paths)
	}
	res, err := viewer.Scan(context.Background(), []string{dir})
	if err != nil || len(res.Rejected) != 0 || len(res.Studies) != 1 || len(res.Studies[0].Series) != 3 {
		t.Fatalf("Scan: %v %+v", err, res)
	}
	got := res.Studies[0]
	if got.UID == st.UID || got.PatientName != st.PatientName {
		t.Fatalf("study UID %q (original %q), patient %q", got.UID, st.UID, got.PatientName)
	}
	frames := map[string]bool{}
	for n, se := range got.Series {
		orig := st.Series[n]
		if se.UID == orig.UID || se.FrameOfReferenceUID == orig.FrameOfReferenceUID || se.Type != orig.Type {
			t.Fatalf("series %d: UID %q frame %q type %s (original %q %q %s)", n, se.UID, se.FrameOfReferenceUID, se.Type, orig.UID, orig.FrameOfReferenceUID, orig.Type)
		}
		frames[se.FrameOfReferenceUID] = true
		v, err := viewer.LoadSeries(context.Background(), se, nil)
		if err != nil {
			t.Fatal(err)
		}
		ov, _ := orig.InMemory()
		r, _ := chooseRescale(ov.Data)
		compareByPosition(t, se.Description, v, ov, r.Slope/2+1e-6)
	}
	if got.Series[0].FrameOfReferenceUID != got.Series[1].FrameOfReferenceUID || len(frames) != 2 {
		t.Fatal("series that shared a frame of reference no longer do, or others joined it")
	}
	py := dcmcheck.Pydicom(t, filepath.Join(dir, "SE002"))
	if py.Tags["ContrastBolusAgent"] != "GADOLINIUM" || py.Tags["RepetitionTime"] != "650" || py.Tags["EchoTime"] != "12" ||
		py.Tags["PatientName"] != "MÜLLER^JÖRG" || py.Tags["SpecificCharacterSet"] != "ISO_IR 192" {
		t.Fatalf("pydicom tags %v", py.Tags)
	}
	dcmcheck.Dciodvfy(t, paths[0], paths[3], paths[6])
}

func hashFiles(t *testing.T, paths []string) [32]byte {
	t.Helper()
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func TestWriteStudyKeepUIDsIsReproducible(t *testing.T) {
	st := memoryStudy(t)
	st.StudyDate = ""
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	a, err := WriteStudy(t.TempDir(), st, KeepUIDs(), WithTime(when), WithWorkers(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := WriteStudy(t.TempDir(), st, KeepUIDs(), WithTime(when), WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	if hashFiles(t, a) != hashFiles(t, b) {
		t.Fatal("the same study written twice with KeepUIDs and WithTime gave different bytes")
	}
	res, err := viewer.Scan(context.Background(), []string{filepath.Dir(filepath.Dir(a[0]))})
	if err != nil || len(res.Studies) != 1 {
		t.Fatal(err)
	}
	if res.Studies[0].UID != st.UID || res.Studies[0].Series[1].UID != st.Series[1].UID ||
		res.Studies[0].Series[0].FrameOfReferenceUID != st.Series[0].FrameOfReferenceUID || res.Studies[0].StudyDate != "20240506" {
		t.Fatalf("kept UIDs/date not kept: %+v", res.Studies[0])
	}
}

func TestWriteStudyErrors(t *testing.T) {
	st := memoryStudy(t)
	st.Series = append(st.Series, &viewer.Series{UID: "1.2.3", Description: "on disk"})
	if _, err := WriteStudy(t.TempDir(), st); !errors.Is(err, ErrNotInMemory) || !strings.Contains(err.Error(), "on disk") {
		t.Fatalf("error %v, want ErrNotInMemory naming the series", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteStudy(t.TempDir(), memoryStudy(t), WithContext(ctx)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: error %v", err)
	}
	v := testVolume(obliqueGeometry([3]int{2, 2, 2}, false), func(i, j, k int) float64 { return 1 })
	v.Data[5] = float32(math.Inf(1))
	if _, err := WriteSeries(t.TempDir(), StudyInfo{}, SeriesInfo{Description: "bad"}, v); err == nil || !strings.Contains(err.Error(), "voxel 5") {
		t.Fatalf("infinite voxel: error %v", err)
	}
	v.Data[5] = 1
	if _, err := WriteSeries(t.TempDir(), StudyInfo{PatientID: strings.Repeat("9", 80)}, SeriesInfo{}, v); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("80-character patient ID: error %v", err)
	}
}

func BenchmarkWriteSeries240x240x155(b *testing.B) {
	g := viewer.Geometry{Size: [3]int{240, 240, 155}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	for i := range v.Data {
		v.Data[i] = float32(i%997) * 1.25
	}
	dir := b.TempDir()
	b.SetBytes(int64(2 * g.Len()))
	for b.Loop() {
		if _, err := WriteSeries(dir, StudyInfo{UID: "1.2.3"}, SeriesInfo{UID: "1.2.3.4", Type: viewer.T1}, v, WithTime(time.Unix(0, 0))); err != nil {
			b.Fatal(err)
		}
	}
}

// NIfTI to PACS: a BraTS series written as DICOM reads back voxel for voxel at the same patient positions.
func TestWriteStudyFromBraTS(t *testing.T) {
	const sample = "/work/shared/data/brats-sub-0004"
	if _, err := os.Stat(sample); err != nil {
		t.Skipf("the shared BraTS subject %s is absent (%v): this test converts real data, which lies beside the project checkout (../shared), never in it", sample, err)
	}
	st, err := viewer.LoadBraTS(sample)
	if err != nil {
		t.Fatal(err)
	}
	flair := st.SeriesByType(viewer.FLAIR)
	one := *st
	one.Series = []*viewer.Series{flair}
	dir := t.TempDir()
	paths, err := WriteStudy(dir, &one)
	if err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Scan(context.Background(), []string{dir})
	if err != nil || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
		t.Fatalf("Scan: %v %+v", err, res)
	}
	se := res.Studies[0].Series[0]
	if se.Type != viewer.FLAIR || se.Description != flair.Description || res.Studies[0].PatientID != "sub-0004" {
		t.Fatalf("scanned series %s %q patient %q", se.Type, se.Description, res.Studies[0].PatientID)
	}
	got, err := viewer.LoadSeries(context.Background(), se, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := flair.InMemory()
	compareByPosition(t, "BraTS FLAIR", got, want, 0)
	// The NIfTI sform puts voxel (0,0,0) at LPS (0, −239, 0): so must the first file.
	py := dcmcheck.Pydicom(t, filepath.Join(dir, "SE001"))
	if first := py.Positions[0]; first != [3]float64{0, -239, 0} {
		t.Fatalf("first slice at %v", first)
	}
	dcmcheck.Dciodvfy(t, paths[0], paths[len(paths)-1])
}
