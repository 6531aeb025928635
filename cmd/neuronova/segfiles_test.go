package main

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/dcmwrite"
	"github.com/neuronova/neuronova/viewer/render"
)

// TestRenderOverlayFromSEG: a folder with a series and a DICOM SEG of it (no other label map) renders the
// SEG's segments, coloured exactly where it has labels.
func TestRenderOverlayFromSEG(t *testing.T) {
	dir := t.TempDir()
	g := viewer.Geometry{Size: [3]int{32, 28, 6}, Spacing: viewer.Vec3{1, 1, 2}, Origin: viewer.Vec3{-16, -14, 0},
		Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	for i := range v.Data {
		v.Data[i] = float32(200 + i%50)
	}
	study := dcmwrite.StudyInfo{UID: "1.2.826.0.1.3680043.10.1.78.1", PatientName: "SEG^RENDER", PatientID: "SR-1"}
	if _, err := dcmwrite.WriteSeries(filepath.Join(dir, "SE001"), study, dcmwrite.SeriesInfo{Number: 1, Description: "AX T1 POST", Type: viewer.T1CE}, v); err != nil {
		t.Fatal(err)
	}
	res, err := viewer.Open(context.Background(), []string{dir})
	if err != nil || len(res.Studies) != 1 || len(res.Studies[0].Series) != 1 {
		t.Fatalf("open: %v", err)
	}
	st, se := res.Studies[0], res.Studies[0].Series[0]
	m := viewer.NewLabelMap(se.Grid)
	const k = 3
	for j := 5; j < 20; j++ {
		for i := 4; i < 25; i++ {
			switch {
			case i < 10:
				m.Data[m.Index(i, j, k)] = viewer.LabelNCR
			case j < 12:
				m.Data[m.Index(i, j, k)] = viewer.LabelED
			case (i+j)%3 == 0:
				m.Data[m.Index(i, j, k)] = viewer.LabelET
			}
		}
	}
	m.Data[m.Index(20, 20, 1)] = viewer.LabelET // another slice
	if err := dicomseg.Write(filepath.Join(dir, "seg.dcm"), m, dicomseg.Options{Study: st, Reference: se, Algorithm: "test 1"}); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := runCmd("info", dir)
	if code != 0 || !strings.Contains(out, "SEG series 901") || strings.Count(out, "  Series ") != 1 || strings.Contains(out, "Skipped") {
		t.Fatalf("info: exit %d: %s%s", code, out, stderr)
	}
	png1 := filepath.Join(dir, "seg.png")
	if code, _, stderr := runCmd("render", "--input", dir, "--overlay", "--slice", "3", "--out", png1); code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	f, err := os.Open(png1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	plane, err := render.NewPlane(se.Grid, render.Axial)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != plane.Bounds() {
		t.Fatalf("image %v, plane %v", img.Bounds(), plane.Bounds())
	}
	coloured, labelled, wrong := 0, 0, 0
	for y := 0; y < img.Bounds().Dy(); y++ {
		for x := 0; x < img.Bounds().Dx(); x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			isColoured := max(r, g, b)-min(r, g, b) > 0x800
			ijk, ok := plane.Voxel(k, x, y)
			isLabelled := ok && m.Data[m.Index(ijk[0], ijk[1], ijk[2])] != 0
			if isColoured {
				coloured++
			}
			if isLabelled {
				labelled++
			}
			if isColoured != isLabelled {
				wrong++
			}
		}
	}
	t.Logf("slice %d: %d coloured pixels, %d labelled voxels", k, coloured, labelled)
	if labelled == 0 || coloured != labelled || wrong != 0 {
		t.Errorf("%d coloured pixels, %d labelled voxels in slice %d, %d pixels where they disagree", coloured, labelled, k, wrong)
	}

	// Without --overlay, no colour; a SEG of another frame of reference is refused by name.
	plain := filepath.Join(dir, "plain.png")
	if code, _, stderr := runCmd("render", "--input", filepath.Join(dir, "SE001"), "--overlay", "--out", plain); code != 1 || !strings.Contains(stderr, "has no label map") {
		t.Errorf("render of the series alone with --overlay: exit %d: %s", code, stderr)
	}
	se.FrameOfReferenceUID = "1.2.826.0.1.3680043.10.1.78.99"
	if err := dicomseg.Write(filepath.Join(dir, "seg.dcm"), m, dicomseg.Options{Study: st, Reference: se, Algorithm: "test 1"}); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd("render", "--input", dir, "--overlay", "--out", plain); code != 1 || !strings.Contains(stderr, "seg.dcm") || !strings.Contains(stderr, "frames of reference") {
		t.Errorf("render with a SEG of another frame of reference: exit %d: %s", code, stderr)
	}
}
