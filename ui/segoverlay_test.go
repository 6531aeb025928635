package ui

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/viewer"
)

// TestSEGOverlayFromStudy: a DICOM SEG found with the study is listed in the overlay panel with its segment
// names, and its Show button draws it, voxel for voxel.
func TestSEGOverlayFromStudy(t *testing.T) {
	st := smallStudy(t)
	want := st.Labels
	st.Labels = nil
	ref := st.SeriesByType(viewer.T1CE)
	// The SEG references images of a DICOM copy of T1CE on the same grid and frame of reference.
	src := *ref
	src.UID = "1.2.3.50"
	for k := 0; k < ref.Grid.Size[2]; k++ {
		src.Instances = append(src.Instances, &viewer.Instance{SOPInstanceUID: fmt.Sprintf("1.2.3.50.%d", k+1), Frames: 1,
			Position: ref.Grid.ToPatient(viewer.Vec3{0, 0, float64(k)}), HasPosition: true})
	}
	path := filepath.Join(t.TempDir(), "seg.dcm")
	if err := dicomseg.Write(path, want, dicomseg.Options{Study: st, Reference: &src, Algorithm: "test 1"}); err != nil {
		t.Fatal(err)
	}
	st.SEGs = []viewer.SEGFile{{Path: path, SeriesUID: "1.2.3.60", SeriesNumber: 901, Description: "AI SEG test"}}

	w, _ := newTestWorkstation(t, Services{}, st)
	p := w.Overlay
	waitFor(t, "the SEG to be listed", func() bool { return len(p.SEGButtons) == 1 })
	if got := p.SEGs[0].Segments; !slices.Equal(got, []string{"NCR", "ED", "ET"}) || p.SEGs[0].Err != nil {
		t.Fatalf("segments %v, error %v", got, p.SEGs[0].Err)
	}
	test.Tap(p.SEGButtons[0])
	waitFor(t, "the SEG to be drawn", func() bool {
		m, _ := w.Reading.Labels()
		return m != nil
	})
	m, _ := w.Reading.Labels()
	if !slices.Equal(m.Data, want.Data) || !m.SameGrid(want.Geometry, 1e-6) {
		t.Error("the SEG drawn is not the label map it was written from")
	}
	if len(p.Labels) != 3 || !w.Reading.Overlay.Visible || len(p.SEGButtons) != 1 {
		t.Errorf("panel lists %d labels, overlay visible %v, %d SEG buttons", len(p.Labels), w.Reading.Overlay.Visible, len(p.SEGButtons))
	}
}
