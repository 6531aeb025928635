package viewer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// writeSeries writes slices to dir under shuffled names, so that neither file names nor write order match
// slice order, and returns the paths in slices' order.
func writeSeries(t testing.TB, dir string, slices []slice) []string {
	t.Helper()
	order := rand.New(rand.NewPCG(1, uint64(len(slices)))).Perm(len(slices))
	paths := make([]string, len(slices))
	for i, s := range slices {
		paths[i] = writeDICOM(t, filepath.Join(dir, fmt.Sprintf("f%03d.dcm", order[i])), tsExplicit, s.elems(false))
	}
	return paths
}

// stackOf makes n 2×2 slices at positions p0 + k·step·normal (normal from ori); slice k's pixels all equal
// 100+k and its InstanceNumber is number(k).
func stackOf(n int, ori [6]float64, p0 Vec3, step float64, number func(k int) int) []slice {
	row, col := Vec3{ori[0], ori[1], ori[2]}, Vec3{ori[3], ori[4], ori[5]}
	normal := row.Cross(col)
	out := make([]slice, n)
	for k := range out {
		p := p0.Add(normal.Scale(float64(k) * step))
		out[k] = slice{study: "1.9", series: "1.9.1", number: number(k), rows: 2, cols: 2, position: &p,
			orientation: &ori, pixelSpacing: []float64{0.8, 0.6}, thickness: 5, values: []int{100 + k, 100 + k, 100 + k, 100 + k}}
	}
	return out
}

func scanOne(t *testing.T, dir string) *Series {
	t.Helper()
	res, err := Scan(context.Background(), []string{dir}, WithPixelData())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 0 || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
		t.Fatalf("scan: %d studies, rejected %v", len(res.Studies), res.Rejected)
	}
	return res.Studies[0].Series[0]
}

func TestScanOrdersSlicesByPosition(t *testing.T) {
	c30, s30 := math.Cos(math.Pi/6), math.Sin(math.Pi/6)
	cases := []struct {
		name   string
		ori    [6]float64
		step   float64
		number func(k int) int
	}{
		{"axial, numbers follow position", axial, 2.5, func(k int) int { return k + 1 }},
		{"axial, numbers reversed", axial, 2.5, func(k int) int { return 20 - k }},
		{"normal pointing feet-ward", [6]float64{1, 0, 0, 0, -1, 0}, 3, func(k int) int { return k + 1 }},
		{"oblique 30° about x", [6]float64{1, 0, 0, 0, c30, s30}, 1.7, func(k int) int { return (k * 7) % 11 }},
		{"sagittal", [6]float64{0, 1, 0, 0, 0, -1}, 1.2, func(k int) int { return k + 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			slices := stackOf(11, c.ori, Vec3{-12.5, 30, 41}, c.step, c.number)
			writeSeries(t, dir, slices)
			se := scanOne(t, dir)
			if len(se.Problems) != 0 {
				t.Errorf("problems: %q", se.Problems)
			}
			v, err := LoadSeries(context.Background(), se, nil)
			if err != nil {
				t.Fatal(err)
			}
			row, col := Vec3{c.ori[0], c.ori[1], c.ori[2]}, Vec3{c.ori[3], c.ori[4], c.ori[5]}
			if v.Size != [3]int{2, 2, 11} || !near(v.Spacing, Vec3{0.6, 0.8, c.step}, 1e-9) ||
				!near(v.Direction[0], row, 1e-9) || !near(v.Direction[1], col, 1e-9) || !near(v.Direction[2], row.Cross(col), 1e-9) {
				t.Fatalf("geometry %+v", v.Geometry)
			}
			// Every file's position is where the volume puts its slice, and the slice holds its pixels.
			for k, s := range slices {
				kk := -1
				for z := 0; z < 11; z++ {
					if v.At(0, 0, z) == float32(100+k) {
						kk = z
					}
				}
				if kk < 0 {
					t.Fatalf("slice %d not in the volume", k)
				}
				if p := v.ToPatient(Vec3{0, 0, float64(kk)}); !near(p, *s.position, 1e-6) {
					t.Errorf("slice %d at volume index %d: volume puts it at %v, the file says %v", k, kk, p, *s.position)
				}
			}
			// Instances come in volume order.
			for z, inst := range se.Instances {
				if !near(inst.Position, v.ToPatient(Vec3{0, 0, float64(z)}), 1e-6) {
					t.Errorf("instance %d (%s) out of order", z, inst.Path)
				}
			}
		})
	}
}

func near(a, b Vec3, tol float64) bool { return a.Sub(b).Norm() <= tol }

func TestScanReportsProblems(t *testing.T) {
	num := func(k int) int { return k + 1 }
	cases := []struct {
		name     string
		edit     func([]slice) []slice
		problems []string // substrings, one problem each, in order
		slices   int      // slices in the volume
		spacing  float64  // between slices
		loadErr  string   // LoadSeries fails with this
	}{
		{"regular", func(s []slice) []slice { return s }, nil, 6, 2, ""},
		{"spacing from positions, not SliceThickness", func(s []slice) []slice {
			for i := range s {
				s[i].thickness = 7
			}
			return s
		}, nil, 6, 2, ""},
		{"gap", func(s []slice) []slice { return append(s[:3:3], s[4:]...) },
			[]string{"gap: slices are 2 mm apart but 4 mm between f"}, 5, 2, ""},
		{"duplicate position", func(s []slice) []slice {
			d := s[2]
			d.number, d.sop = 40, "dup"
			return append(s, d)
		}, []string{"duplicates: 1 slices share a position with another slice and were left out: f"}, 6, 2, ""},
		{"irregular spacing", func(s []slice) []slice {
			p := s[3].position.Add(Vec3{0, 0, 0.5})
			s[3].position = &p
			return s
		}, []string{"irregular slice spacing: from 1.5 to 2.5 mm; the volume uses 2 mm"}, 6, 2, ""},
		{"mixed orientation", func(s []slice) []slice {
			o := [6]float64{1, 0, 0, 0, 0.9998, 0.02}
			s[4].orientation = &o
			return s
		}, []string{"mixed geometry: 1 of 6 slices have a different ImageOrientationPatient"}, 6, 2, ""},
		{"positions drift off the normal", func(s []slice) []slice {
			for i := range s {
				p := s[i].position.Add(Vec3{0, 0.4 * float64(i), 0})
				s[i].position = &p
			}
			return s
		}, []string{"mixed geometry: slice positions drift up to 2 mm off the slice normal"}, 6, 2, ""},
		{"mixed pixel spacing", func(s []slice) []slice {
			s[1].pixelSpacing = []float64{0.9, 0.6}
			return s
		}, []string{"mixed geometry: PixelSpacing differs from 0.8×0.6 mm in 1 slices"}, 6, 2, ""},
		{"mixed image size", func(s []slice) []slice {
			s[5].rows, s[5].values = 3, ramp(6, 0, 1)
			return s
		}, []string{"mixed geometry: images of different sizes cannot form one volume (2×2×1 samples in 5 files, 2×3×1 samples in 1 files)"}, 0, 0,
			"mixed geometry: images of different sizes"},
		{"no positions: InstanceNumber order", func(s []slice) []slice {
			for i := range s {
				s[i].position, s[i].orientation = nil, nil
				s[i].number = 10 - i
			}
			return s
		}, []string{"ordered by InstanceNumber: 6 of 6 slices lack ImagePositionPatient or ImageOrientationPatient",
			"slice spacing 5 mm assumed (from SliceThickness)"}, 6, 5, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			slices := c.edit(stackOf(6, axial, Vec3{0, 0, 10}, 2, num))
			writeSeries(t, dir, slices)
			se := scanOne(t, dir)
			if len(se.Problems) != len(c.problems) {
				t.Fatalf("problems %q, want %d like %q", se.Problems, len(c.problems), c.problems)
			}
			for i, p := range c.problems {
				if !strings.Contains(se.Problems[i], p) {
					t.Errorf("problem %q should contain %q", se.Problems[i], p)
				}
			}
			v, err := LoadSeries(context.Background(), se, nil)
			if c.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.loadErr) || !strings.Contains(err.Error(), se.UID) {
					t.Fatalf("load error %v, want %q naming the series", err, c.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Size[2] != c.slices || math.Abs(v.Spacing[2]-c.spacing) > 1e-9 {
				t.Errorf("volume %v slices, spacing %v; want %d, %g", v.Size, v.Spacing, c.slices, c.spacing)
			}
			if strings.HasPrefix(c.name, "no positions") {
				for z := 0; z < 6; z++ { // InstanceNumber 10−i: slice i comes last
					if got := v.At(0, 0, z); got != float32(105-z) {
						t.Errorf("slice %d holds %g, want %d", z, got, 105-z)
					}
				}
			}
		})
	}
}

func TestScanFoldersRejectsAndTypes(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "a", "b")
	os.MkdirAll(sub, 0o755)
	t1 := stackOf(3, axial, Vec3{}, 2, func(k int) int { return k + 1 })
	flair := stackOf(2, axial, Vec3{}, 2, func(k int) int { return k + 1 })
	for i := range t1 {
		t1[i].extra = append(t1[i].extra, el(tag.SeriesDescription, []string{"T1_MPRAGE_POST"}), el(tag.SeriesNumber, is(3)))
		writeDICOM(t, filepath.Join(dir, fmt.Sprintf("t1_%d.dcm", i)), tsExplicit, t1[i].elems(false))
	}
	for i := range flair {
		flair[i].series = "1.9.2"
		flair[i].extra = append(flair[i].extra, el(tag.SeriesDescription, []string{"ax T2-FLAIR"}), el(tag.SeriesNumber, is(2)))
		writeDICOM(t, filepath.Join(sub, fmt.Sprintf("flair_%d", i)), tsImplicit, flair[i].elems(false))
	}
	other := stackOf(1, axial, Vec3{}, 2, func(int) int { return 1 })[0]
	other.study, other.series = "1.8", "1.8.1"
	other.extra = append(other.extra, el(tag.StudyDate, []string{"19990101"}))
	writeDICOM(t, filepath.Join(sub, "older_study.dcm"), tsBig, other.elems(true))
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not an image"), 0o644)
	sr, _ := encodeDICOM(tsExplicit, slice{study: "1.9", series: "1.9.9", number: 1}.elems(false)[:8])
	os.WriteFile(filepath.Join(sub, "report.dcm"), sr, 0o644)

	var calls, last atomic.Int64
	res, err := Scan(context.Background(), []string{dir, filepath.Join(dir, "missing")},
		WithProgress(func(done, total int) { calls.Add(1); last.Store(int64(done*1000 + total)) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Studies) != 2 || res.Studies[0].UID != "1.8" || res.Studies[1].UID != "1.9" {
		t.Fatalf("studies %v", res.Studies)
	}
	st := res.Studies[1]
	if len(st.Series) != 2 || st.Series[0].Type != FLAIR || st.Series[1].Type != T1CE ||
		len(st.Series[0].Instances) != 2 || len(st.Series[1].Instances) != 3 || st.PatientName != "Test^Patient" {
		t.Errorf("series: %+v / %+v", st.Series[0], st.Series[1])
	}
	reasons := map[string]error{}
	for _, r := range res.Rejected {
		reasons[filepath.Base(r.Path)] = r.Err
	}
	if len(reasons) != 3 || !errors.Is(reasons["README.txt"], ErrNotDICOM) || !errors.Is(reasons["report.dcm"], ErrNoPixels) ||
		!errors.Is(reasons["missing"], os.ErrNotExist) {
		t.Errorf("rejected: %v", res.Rejected)
	}
	if calls.Load() != 8 || last.Load() != 8008 {
		t.Errorf("progress: %d calls, last %d", calls.Load(), last.Load())
	}

	// Without WithPixelData, loading reads the files again.
	if _, err := LoadSeries(context.Background(), st.Series[1], nil); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, []string{dir}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
}

func TestLoadUsesPixelsKeptByScan(t *testing.T) {
	dir := t.TempDir()
	paths := writeSeries(t, dir, stackOf(4, axial, Vec3{}, 2, func(k int) int { return k + 1 }))
	kept := scanOne(t, dir)
	res, err := Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	headersOnly := res.Studies[0].Series[0]
	for _, p := range paths {
		os.Remove(p)
	}
	if _, err := LoadSeries(context.Background(), kept, nil); err != nil {
		t.Errorf("series scanned WithPixelData needs its files: %v", err)
	}
	_, err = LoadSeries(context.Background(), headersOnly, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Errorf("series scanned without pixel data, files gone: %v", err)
	}
}
