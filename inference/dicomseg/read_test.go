package dicomseg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/neuronova/neuronova/internal/testenv"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
)

const (
	testStudyUID = "1.2.826.0.1.3680043.10.1.77.1"
	testFoR      = "1.2.826.0.1.3680043.10.1.77.2"
)

var testStudyInfo = dcmwrite.StudyInfo{UID: testStudyUID, PatientName: "SEG^TEST", PatientID: "S-1", StudyDate: "20260101", StudyTime: "101010"}

// writeSeries writes an MR series on grid g into dir and scans it back.
func writeSeries(t testing.TB, dir string, g viewer.Geometry, number int, frameOfRef string) (*viewer.Study, *viewer.Series) {
	t.Helper()
	v := viewer.NewVolume(g)
	for i := range v.Data {
		v.Data[i] = float32(i % 97)
	}
	info := dcmwrite.SeriesInfo{Number: number, Description: "T1CE test", Type: viewer.T1CE, FrameOfReferenceUID: frameOfRef}
	if _, err := dcmwrite.WriteSeries(dir, testStudyInfo, info, v); err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Scan(context.Background(), []string{dir})
	if err != nil || len(res.Rejected) > 0 || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
		t.Fatalf("scan %s: %v, rejected %v", dir, err, res.Rejected)
	}
	st := res.Studies[0]
	return st, st.Series[0]
}

// testLabels fills a label map on g with all three tumour labels, some slices without one of them.
func testLabels(g viewer.Geometry) *viewer.LabelMap {
	m := viewer.NewLabelMap(g)
	for k := 0; k < g.Size[2]; k++ {
		for j := 0; j < g.Size[1]; j++ {
			for i := 0; i < g.Size[0]; i++ {
				switch {
				case k == 0:
				case (i-4)*(i-4)+(j-4)*(j-4) <= 4:
					m.Data[g.Index(i, j, k)] = viewer.LabelNCR
				case i > 7 && j < 5 && k != 2:
					m.Data[g.Index(i, j, k)] = viewer.LabelED
				case (i+j+k)%5 == 0:
					m.Data[g.Index(i, j, k)] = viewer.LabelET
				}
			}
		}
	}
	return m
}

func axialGrid() viewer.Geometry {
	return viewer.Geometry{Size: [3]int{12, 10, 5}, Spacing: viewer.Vec3{1.5, 1.25, 3}, Origin: viewer.Vec3{-20, -30, 15},
		Direction: viewer.IdentityDirection}
}

func obliqueSagittalGrid() viewer.Geometry {
	c, s := math.Cos(0.2), math.Sin(0.2)
	row := viewer.Vec3{0, c, s} // sagittal, tilted about L-R
	col := viewer.Vec3{0, s, -c}
	return viewer.Geometry{Size: [3]int{11, 9, 4}, Spacing: viewer.Vec3{0.9, 1.1, 2.5}, Origin: viewer.Vec3{-12, 40, 60},
		Direction: [3]viewer.Vec3{row, col, row.Cross(col)}}
}

// writeSEG builds the SEG of m on se and returns its Part 10 bytes, through Write and the file.
func writeSEG(t testing.TB, st *viewer.Study, se *viewer.Series, m *viewer.LabelMap) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seg.dcm")
	if err := Write(path, m, Options{Study: st, Reference: se, Algorithm: "test 1.0"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sameData(t *testing.T, what string, got, want *viewer.LabelMap) {
	t.Helper()
	if len(got.Data) != len(want.Data) || !got.SameGrid(want.Geometry, 1e-6) {
		t.Fatalf("%s: grid %v, want %v", what, got.Size, want.Size)
	}
	diff := 0
	for i := range got.Data {
		if got.Data[i] != want.Data[i] {
			diff++
		}
	}
	if diff > 0 {
		t.Errorf("%s: %d of %d voxels differ", what, diff, len(got.Data))
	}
}

func TestReadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		grid viewer.Geometry
	}{{"axial", axialGrid()}, {"oblique sagittal", obliqueSagittalGrid()}} {
		t.Run(tc.name, func(t *testing.T) {
			st, se := writeSeries(t, t.TempDir(), tc.grid, 3, testFoR)
			m := testLabels(se.Grid)
			data := writeSEG(t, st, se, m)
			s, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if s.ReferencedSeriesUID != se.UID || s.FrameOfReferenceUID != testFoR || s.Fractional || len(s.Segments) != 3 || s.StudyUID != st.UID {
				t.Fatalf("parsed %+v", s)
			}
			for i, sg := range s.Segments {
				if sg.Value != TumourSegments[i].Value || sg.Label != TumourSegments[i].Label || sg.Colour != TumourSegments[i].Colour || sg.Property != TumourSegments[i].Property {
					t.Errorf("segment %d: %+v, wrote %+v", i+1, sg, TumourSegments[i])
				}
			}
			for _, f := range s.Frames {
				if len(f.Sources) != 1 || !f.HasPosition || !f.HasOrientation {
					t.Fatalf("frame %+v lacks its source or plane", f)
				}
			}
			got, err := s.LabelMap(se)
			if err != nil {
				t.Fatal(err)
			}
			sameData(t, "by source image", got, m)
			if got.Source != s.SeriesUID || len(got.Labels) != 3 || got.Labels[0].Name != "NCR" || got.Labels[2].Name != "ET" {
				t.Errorf("labels %+v, source %s", got.Labels, got.Source)
			}
			// The writer's NCR colour is a red (CIELab a* > 0): the reader's RGB shows it.
			if c := got.Labels[0].Color; c.R <= c.G || c.R <= c.B {
				t.Errorf("NCR colour %v is not reddish", c)
			}

			// Without the source references: placement by plane position and orientation.
			for i := range s.Frames {
				s.Frames[i].Sources = nil
			}
			got, err = s.LabelMap(se)
			if err != nil {
				t.Fatal(err)
			}
			sameData(t, "by position", got, m)
		})
	}
}

// TestReadOnOtherGrids places a SEG of one series on other series of its frame of reference.
func TestReadOnOtherGrids(t *testing.T) {
	g := axialGrid()
	st, se := writeSeries(t, t.TempDir(), g, 3, testFoR)
	m := testLabels(se.Grid)
	s, err := Parse(writeSEG(t, st, se, m))
	if err != nil {
		t.Fatal(err)
	}
	nx, nz := g.Size[0], g.Size[2]
	// Larger: two more slices on each side. Flipped: columns and slices reversed.
	larger := g
	larger.Size[2] += 4
	larger.Origin = g.ToPatient(viewer.Vec3{0, 0, -2})
	flipped := g
	flipped.Direction = [3]viewer.Vec3{g.Direction[0].Scale(-1), g.Direction[1], g.Direction[2].Scale(-1)}
	flipped.Origin = g.ToPatient(viewer.Vec3{float64(nx - 1), 0, float64(nz - 1)})
	for _, tc := range []struct {
		name string
		grid viewer.Geometry
	}{{"larger", larger}, {"flipped", flipped}} {
		t.Run(tc.name, func(t *testing.T) {
			_, other := writeSeries(t, t.TempDir(), tc.grid, 4, testFoR)
			got, err := s.LabelMap(other)
			if err != nil {
				t.Fatal(err)
			}
			// Expected: each voxel takes the label of the source voxel at its patient position.
			want := &viewer.LabelMap{Geometry: other.Grid, Data: make([]uint8, other.Grid.Len())}
			set := 0
			for k := 0; k < want.Size[2]; k++ {
				for j := 0; j < want.Size[1]; j++ {
					for i := 0; i < want.Size[0]; i++ {
						v := m.ToVoxel(want.ToPatient(viewer.Vec3{float64(i), float64(j), float64(k)}))
						a, b, c := int(math.Round(v[0])), int(math.Round(v[1])), int(math.Round(v[2]))
						if m.Contains(a, b, c) {
							want.Data[want.Index(i, j, k)] = m.Data[m.Index(a, b, c)]
							set += int(min(1, m.Data[m.Index(a, b, c)]))
						}
					}
				}
			}
			if set == 0 {
				t.Fatal("no labelled voxel expected: the test grid is wrong")
			}
			sameData(t, tc.name, got, want)
		})
	}

	// Half a voxel off in-plane: refused.
	off := g
	off.Origin = g.ToPatient(viewer.Vec3{0.5, 0, 0})
	_, other := writeSeries(t, t.TempDir(), off, 5, testFoR)
	if _, err := s.LabelMap(other); !errors.Is(err, ErrOffGrid) {
		t.Errorf("half a voxel off: %v", err)
	}
	// Another frame of reference: refused.
	_, stranger := writeSeries(t, t.TempDir(), g, 6, "1.2.826.0.1.3680043.10.1.77.99")
	if _, err := s.LabelMap(stranger); !errors.Is(err, ErrFrameOfReference) || !strings.Contains(err.Error(), "77.99") {
		t.Errorf("other frame of reference: %v", err)
	}
}

// replace sets the top-level element t of els to data (adding it when absent).
func replace(t *testing.T, els []*dicom.Element, tg tag.Tag, data any) []*dicom.Element {
	t.Helper()
	e, err := dicom.NewElement(tg, data)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range els {
		if x.Tag == tg {
			els[i] = e
			return els
		}
	}
	return append(els, e)
}

func TestReadFractional(t *testing.T) {
	st, se := writeSeries(t, t.TempDir(), axialGrid(), 3, testFoR)
	m := testLabels(se.Grid)
	els, err := Build(m, Options{Study: st, Reference: se, Algorithm: "test 1.0"})
	if err != nil {
		t.Fatal(err)
	}
	// The binary bits become 8-bit probabilities out of 200: set bits 100…200, clear ones 0…99.
	var bits []byte
	frames := 0
	for _, e := range els {
		switch e.Tag {
		case tag.PixelData:
			bits = e.Value.GetValue().(dicom.PixelDataInfo).UnprocessedValueData
		case tag.NumberOfFrames:
			n, _ := e.Value.GetValue().([]string)
			if frames, err = strconv.Atoi(strings.TrimSpace(n[0])); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := frames * se.Grid.Size[0] * se.Grid.Size[1]
	frac := make([]byte, n+n%2)
	for i := 0; i < n; i++ {
		h := byte((i * 37) % 100)
		if bits[i/8]>>(i%8)&1 != 0 {
			frac[i] = 100 + h
		} else {
			frac[i] = h
		}
	}
	els = replace(t, els, tag.SegmentationType, []string{"FRACTIONAL"})
	els = replace(t, els, tag.SegmentationFractionalType, []string{"PROBABILITY"})
	els = replace(t, els, tag.MaximumFractionalValue, []int{200})
	els = replace(t, els, tag.BitsAllocated, []int{8})
	els = replace(t, els, tag.BitsStored, []int{8})
	els = replace(t, els, tag.HighBit, []int{7})
	els = replace(t, els, tag.PixelData, dicom.PixelDataInfo{IntentionallyUnprocessed: true, UnprocessedValueData: frac})
	var buf bytes.Buffer
	if err := dcmwrite.Encode(&buf, els); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Fractional || s.MaxFractional != 200 {
		t.Fatalf("fractional %v, max %d", s.Fractional, s.MaxFractional)
	}
	got, err := s.LabelMap(se)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, "fractional", got, m)

	// Truncated pixel data is refused, naming the sizes.
	els = replace(t, els, tag.PixelData, dicom.PixelDataInfo{IntentionallyUnprocessed: true, UnprocessedValueData: frac[:n/2]})
	buf.Reset()
	if err := dcmwrite.Encode(&buf, els); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "pixel data holds") {
		t.Errorf("short fractional pixel data: %v", err)
	}
}

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	_, se := writeSeries(t, dir, axialGrid(), 3, testFoR)
	mr, err := os.ReadFile(se.Instances[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(mr); !errors.Is(err, ErrNotSEG) || !strings.Contains(err.Error(), dcmwrite.MRImageStorage) {
		t.Errorf("an MR image: %v", err)
	}
	if _, err := Parse([]byte("not DICOM at all")); err == nil || !strings.Contains(err.Error(), "not a DICOM file") {
		t.Errorf("junk: %v", err)
	}
	if _, err := (&Seg{}).LabelMap(&viewer.Series{UID: "1.2"}); err == nil || !strings.Contains(err.Error(), "geometry") {
		t.Errorf("a series without grid: %v", err)
	}
}

// TestReadPydicomSEG parses the DICOM SEGs among pydicom's test files (by SOP Class): Debian's
// python3-pydicom ships two liver SEGs, and both must read.
func TestReadPydicomSEG(t *testing.T) {
	dir := "/usr/lib/python3/dist-packages/pydicom/data/test_files"
	if _, err := os.Stat(dir); err != nil {
		testenv.Missing(t, "pydicom's test corpus "+dir, "parse the third-party DICOM SEGs in it", "apt-get install python3-pydicom")
	}
	segs := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".dcm") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(data)
		if errors.Is(err, ErrNotSEG) || !bytes.Contains(data, []byte(SegmentationStorage)) {
			return nil
		}
		segs++
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		set := 0
		for f := range s.Frames {
			for i := 0; i < s.Rows*s.Columns; i++ {
				if s.set(f, i) {
					set++
				}
			}
		}
		t.Logf("%s: %d frames of %d×%d, segments %+v, %d pixels set", filepath.Base(p), len(s.Frames), s.Columns, s.Rows, s.Segments, set)
		if len(s.Frames) == 0 || len(s.Segments) == 0 || set == 0 || s.ReferencedSeriesUID == "" {
			t.Errorf("%s: %d frames, %d segments, %d pixels set, referenced series %q", p, len(s.Frames), len(s.Segments), set, s.ReferencedSeriesUID)
		}
		return nil
	})
	if segs < 2 {
		t.Fatalf("%d DICOM SEGs among pydicom's test files in %s, want its two liver SEGs", segs, dir)
	}
}

func TestLabToRGB(t *testing.T) {
	for _, tc := range []struct {
		lab  [3]int
		want [3]uint8
	}{
		{[3]int{65535, 32896, 32896}, [3]uint8{255, 255, 255}}, // L 100, a b 0: white
		{[3]int{0, 32896, 32896}, [3]uint8{0, 0, 0}},
		{[3]int{34891, 53479, 50166}, [3]uint8{255, 0, 0}}, // L 53.24, a 80.09, b 67.20: sRGB red
	} {
		c := LabToRGB(tc.lab)
		got := [3]uint8{c.R, c.G, c.B}
		for i := range got {
			if d := int(got[i]) - int(tc.want[i]); d < -2 || d > 2 {
				t.Errorf("LabToRGB(%v) = %v, want %v", tc.lab, got, tc.want)
				break
			}
		}
	}
}

// memorySeries is a series of single-frame images on g, described without files.
func memorySeries(g viewer.Geometry) (*viewer.Study, *viewer.Series) {
	se := &viewer.Series{UID: "1.2.826.0.1.3680043.10.1.77.3", StudyUID: testStudyUID, Modality: "MR", FrameOfReferenceUID: testFoR, Grid: g}
	for k := 0; k < g.Size[2]; k++ {
		se.Instances = append(se.Instances, &viewer.Instance{SOPInstanceUID: fmt.Sprintf("%s.%d", se.UID, k+1), SOPClassUID: dcmwrite.MRImageStorage,
			Rows: g.Size[1], Columns: g.Size[0], Frames: 1, Position: g.ToPatient(viewer.Vec3{0, 0, float64(k)}),
			Orientation: [2]viewer.Vec3{g.Direction[0], g.Direction[1]}, HasPosition: true})
	}
	return &viewer.Study{UID: testStudyUID, Series: []*viewer.Series{se}}, se
}

func FuzzParse(f *testing.F) {
	g := viewer.Geometry{Size: [3]int{4, 3, 2}, Spacing: viewer.Vec3{1, 1, 2}, Direction: viewer.IdentityDirection}
	st, se := memorySeries(g)
	m := viewer.NewLabelMap(g)
	m.Data[1], m.Data[7], m.Data[13], m.Data[20] = 1, 2, 3, 3
	els, err := Build(m, Options{Study: st, Reference: se, Algorithm: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dcmwrite.Encode(&buf, els); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if lm, err := s.LabelMap(se); err == nil && len(lm.Data) != g.Len() {
			t.Fatalf("label map of %d voxels on a grid of %d", len(lm.Data), g.Len())
		}
	})
}
