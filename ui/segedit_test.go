package ui

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/neuronova/neuronova/viewer"
)

// editedMap returns the map drawn over the viewports (the editor's copy once editing began).
func editedMap(t *testing.T, w *Workstation) *viewer.LabelMap {
	t.Helper()
	m, _ := w.Reading.Labels()
	if m == nil {
		t.Fatal("no label map drawn")
	}
	return m
}

// dabCentre clicks the brush with the active label at the centre of the active viewport's image.
func dabCentre(t *testing.T, w *Workstation) {
	t.Helper()
	w.SetTool(ToolBrush)
	vp := w.Reading.Active()
	pl, _ := vp.Plane()
	b := pl.Bounds()
	tapAt(vp, vp.ImageToView(float64(b.Dx())/2, float64(b.Dy())/2))
	if w.Edit.Editor() == nil {
		t.Fatalf("no editor after a dab: %s", w.Edit.Status())
	}
}

// TestSegmentationEditing paints, erases, fills, undoes and saves through the window: the map drawn is a
// copy (the study's own stays as it was), volumes follow the map exactly, undo gives back the same bytes, and
// Save hands a copy to OnSave off the UI goroutine and marks the map saved.
func TestSegmentationEditing(t *testing.T) {
	st := smallStudy(t)
	orig := slices.Clone(st.Labels.Data)
	w, _ := newTestWorkstation(t, Services{}, st)
	vp := w.Reading.Active()
	w.Edit.labels.SetSelected(viewer.TumourLabels[1].Name) // oedema
	w.SetTool(ToolBrush)
	drag(vp, vp.ImageToView(3, 3), vp.ImageToView(20, 12))
	ed := w.Edit.Editor()
	if ed == nil {
		t.Fatalf("no editor after a drag: %s", w.Edit.Status())
	}
	m := ed.Map()
	if m == st.Labels || editedMap(t, w) != m || vp.Labels() != m {
		t.Fatal("the viewports do not draw the editor's copy")
	}
	if !slices.Equal(st.Labels.Data, orig) {
		t.Fatal("the study's own label map was written")
	}
	painted := 0
	for i, v := range m.Data {
		if v != orig[i] {
			painted++
			if v != viewer.LabelED {
				t.Fatalf("voxel %d became %d, not oedema", i, v)
			}
		}
	}
	c := m.Counts()
	vox := m.VoxelVolume() / 1000
	if painted == 0 || c[viewer.LabelED] != painted || math.Abs(ed.VolumeML(viewer.LabelED)-float64(painted)*vox) > 1e-12 {
		t.Fatalf("%d voxels painted, ED counts %d, %.4f mL", painted, c[viewer.LabelED], ed.VolumeML(viewer.LabelED))
	}
	if !strings.Contains(w.Edit.volumes.Text, "Oedema (ED)") || !strings.Contains(w.Edit.volumes.Text, "Not saved") {
		t.Errorf("volumes %q", w.Edit.volumes.Text)
	}
	if _, name := ed.CanUndo(); !name || w.Edit.undo.Disabled() {
		t.Error("nothing to undo after a stroke")
	}
	// One drag is one step: undo gives the original bytes back.
	w.Edit.Undo()
	if !slices.Equal(m.Data, orig) {
		t.Fatal("undo of the drag did not restore the map")
	}
	w.Edit.Redo()
	// The eraser clears a dab; the fill paints the background region of the slice.
	w.SetTool(ToolEraser)
	tapAt(vp, vp.ImageToView(10, 7))
	w.SetTool(ToolFill)
	before := m.Counts()
	tapAt(vp, vp.ImageToView(30.5, 22.5))
	after := m.Counts()
	if after[0] >= before[0] || after[viewer.LabelED]-before[viewer.LabelED] != before[0]-after[0] {
		t.Errorf("fill: background %d → %d, ED %d → %d", before[0], after[0], before[viewer.LabelED], after[viewer.LabelED])
	}
	// Save: a copy goes to OnSave in a worker; the map is then clean.
	var got *viewer.LabelMap
	w.Edit.OnSave = func(_ context.Context, s EditSave) (string, error) {
		if s.Note != "ED drawn" || s.Study != st || s.Editor == "" {
			return "", errors.New("lost: " + s.Note + " " + s.Editor)
		}
		got = s.Map
		return "saved as v2", nil
	}
	w.Edit.note.SetText("ED drawn")
	w.Edit.update()
	w.Edit.Save()
	waitFor(t, "the save", func() bool { return w.Edit.Status() != "Saving…" })
	if w.Edit.Status() != "saved as v2" || got == nil || got == m || !slices.Equal(got.Data, m.Data) || ed.Dirty() {
		t.Fatalf("after save: %q, dirty %v", w.Edit.Status(), ed.Dirty())
	}
	// Another map shown (another result chosen): the next stroke edits a copy of it, and says so when
	// edits were left unsaved.
	w.Edit.labels.SetSelected(viewer.TumourLabels[0].Name)
	dabCentre(t, w)
	if !ed.Dirty() {
		t.Fatal("the dab changed nothing")
	}
	w.showLabels(st.Labels, "")
	dabCentre(t, w)
	if w.Edit.Editor() == ed || w.Edit.Editor().Map() == st.Labels || !strings.Contains(w.Edit.Status(), "unsaved edits") {
		t.Errorf("after another map: same editor %v, status %q", w.Edit.Editor() == ed, w.Edit.Status())
	}
	if !slices.Equal(st.Labels.Data, orig) {
		t.Error("the study's own label map was written")
	}
}

// tapAt clicks the primary button at p.
func tapAt(vp *Viewport, p fyne.Position) {
	vp.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: p}, Button: desktop.MouseButtonPrimary})
	vp.MouseUp(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: p}, Button: desktop.MouseButtonPrimary})
	vp.Tapped(&fyne.PointEvent{Position: p})
}
