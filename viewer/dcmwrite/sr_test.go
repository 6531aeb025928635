package dcmwrite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/dcmwrite/dcmcheck"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// srStudy writes a small MR series and loads it, for measurements on its images.
func srStudy(t *testing.T) (*viewer.Study, *viewer.Volume) {
	t.Helper()
	g := viewer.Geometry{Size: [3]int{32, 24, 6}, Spacing: viewer.Vec3{0.8, 0.8, 3}, Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	for i := range v.Data {
		v.Data[i] = float32(i % 500)
	}
	dir := t.TempDir()
	st := &viewer.Study{PatientName: "DOE^JANE", PatientID: "P1", StudyDate: "20240301", AccessionNumber: "A1"}
	st.Series = []*viewer.Series{viewer.NewVolumeSeries("", "AX T1 POST GD", viewer.T1CE, v)}
	if _, err := dcmwrite.WriteStudy(dir, st); err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Open(context.Background(), []string{dir})
	if err != nil || len(res.Studies) != 1 {
		t.Fatalf("open: %v", err)
	}
	loaded := res.Studies[0]
	vol, err := viewer.LoadSeries(context.Background(), loaded.Series[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	return loaded, vol
}

// TestMeasurementReport writes every kind of measurement, on the series' own images and on a reformatted
// plane, as a TID 1500 report; dciodvfy and dcmdump read it without error, and it holds the values.
func TestMeasurementReport(t *testing.T) {
	st, vol := srStudy(t)
	se := st.Series[0]
	axial, _ := render.NewPlane(vol.Geometry, render.Axial)
	coronal, _ := render.NewPlane(vol.Geometry, render.Coronal)
	mk := func(kind measure.Kind, p render.Plane, slice int, pts ...measure.Point) measure.Measurement {
		m := measure.Measurement{ID: string(kind) + "-" + p.Orientation().String(), Kind: kind, StudyUID: st.UID, SeriesUID: se.UID,
			FrameOfReferenceUID: se.FrameOfReferenceUID, Plane: p.Orientation(), Slice: slice, Points: pts}
		if k, ok := p.SourceSlice(slice); ok {
			r := vol.Slices[k]
			m.Image = &measure.ImageRef{SOPInstanceUID: r.SOPInstanceUID, SOPClassUID: r.SOPClassUID}
		}
		if err := m.Compute(p, vol); err != nil {
			t.Fatal(err)
		}
		return m
	}
	ms := []measure.Measurement{
		mk(measure.KindLength, axial, 2, measure.Point{X: 2, Y: 2}, measure.Point{X: 20, Y: 10}),
		mk(measure.KindBidirectional, axial, 3, measure.NewBidirectional(measure.Point{X: 4, Y: 4}, measure.Point{X: 28, Y: 16}, 0.8, 0.8)...),
		mk(measure.KindAngle, axial, 3, measure.Point{X: 20, Y: 4}, measure.Point{X: 4, Y: 4}, measure.Point{X: 4, Y: 20}),
		mk(measure.KindEllipse, axial, 1, measure.Point{X: 6, Y: 6}, measure.Point{X: 18, Y: 14}),
		mk(measure.KindRectangle, coronal, 10, measure.Point{X: 6, Y: 1}, measure.Point{X: 18, Y: 4}),
		mk(measure.KindLength, coronal, 12, measure.Point{X: 3, Y: 1}, measure.Point{X: 25, Y: 5}),
		mk(measure.KindProbe, axial, 1, measure.Point{X: 5, Y: 5}),
	}
	if ms[4].Image != nil || ms[0].Image == nil || len(ms[0].Image.Pixels) != 2 {
		t.Fatalf("image references: coronal %v, axial %v", ms[4].Image, ms[0].Image)
	}
	elems, err := dcmwrite.MeasurementReport(st, ms, dcmwrite.SROptions{Observer: "alice", Time: time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sr.dcm")
	if err := dcmwrite.WriteFile(path, elems); err != nil {
		t.Fatal(err)
	}
	dcmcheck.Dcmdump(t, path)
	for _, w := range dcmcheck.Dciodvfy(t, path) {
		t.Logf("dciodvfy: %s", w)
	}
	dump := dcmcheck.DumpText(t, path)
	for _, want := range []string{"Imaging Measurement Report", "Long Axis", "Short Axis", "Image Region", "SCOORD3D", "SCOORD",
		"NeuroNova:bidirectional:bidirectional-axial", ms[1].Image.SOPInstanceUID, "1500"} {
		if !strings.Contains(dump, want) {
			t.Errorf("the report does not hold %q", want)
		}
	}
	if strings.Contains(dump, "probe") {
		t.Error("a probe went into the report")
	}
	if _, err := dcmwrite.MeasurementReport(st, ms[6:], dcmwrite.SROptions{}); !errors.Is(err, dcmwrite.ErrNothingToReport) {
		t.Errorf("a report of a probe alone: %v", err)
	}
	if dir := os.Getenv("NEURONOVA_SR_OUT"); dir != "" { // for /work/shared/tools/dicom-check and eyes
		os.WriteFile(filepath.Join(dir, "measurements-sr.dcm"), must(os.ReadFile(path)), 0o644)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
