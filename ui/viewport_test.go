package ui

import (
	"bytes"
	"image"
	"runtime"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// testVolume is 32×24×8 voxels of 1×1×2 mm whose value is 100·k + i, so that every slice and column differs,
// with a labelled block (label 1 at i, j in 4…7 on slices 3 to 5, widened to i < 10 on slice 5).
func testVolume(t *testing.T) (*viewer.Volume, *viewer.LabelMap) {
	t.Helper()
	g := viewer.Geometry{Size: [3]int{32, 24, 8}, Spacing: viewer.Vec3{1, 1, 2}, Direction: viewer.IdentityDirection}
	v := viewer.NewVolume(g)
	labels := viewer.NewLabelMap(g)
	for k := 0; k < 8; k++ {
		for j := 0; j < 24; j++ {
			for i := 0; i < 32; i++ {
				v.Data[g.Index(i, j, k)] = float32(100*k + i)
				if k >= 3 && k <= 5 && i >= 4 && (i < 8 || k == 5 && i < 10) && j >= 4 && j < 8 {
					labels.Data[g.Index(i, j, k)] = 1
				}
			}
		}
	}
	if err := v.Check(); err != nil {
		t.Fatal(err)
	}
	return v, labels
}

// expected renders what the viewport must show, straight from viewer/render.
func expected(t *testing.T, v *viewer.Volume, labels *viewer.LabelMap, slice int, w viewer.Window) *image.RGBA {
	t.Helper()
	p, err := render.NewPlane(v.Geometry, render.Axial)
	if err != nil {
		t.Fatal(err)
	}
	lut, err := render.NewLUT(w, false)
	if err != nil {
		t.Fatal(err)
	}
	var ov *render.Overlay
	if labels != nil {
		ov = &render.Overlay{Map: labels, Opacity: render.DefaultOverlayOpacity}
	}
	img := image.NewRGBA(p.Bounds())
	if err := p.RenderRGBA(img, v, slice, lut, ov); err != nil {
		t.Fatal(err)
	}
	return img
}

// waitShown waits until the viewport's image equals want (the worker renders asynchronously).
func waitShown(t *testing.T, vp *Viewport, want *image.RGBA, what string) {
	t.Helper()
	waitFor(t, what, func() bool {
		got, _ := vp.img.Image.(*image.RGBA)
		return got != nil && got.Rect == want.Rect && bytes.Equal(got.Pix, want.Pix)
	})
}

func TestViewportScrollWindowOverlay(t *testing.T) {
	newTestApp(t)
	vol, labels := testVolume(t)
	vp := NewViewport()
	var last Status
	vp.OnStatus = func(s Status) { last = s }
	w := test.NewWindow(vp)
	defer w.Close()
	w.Resize(fyne.NewSize(400, 300))

	if err := vp.SetSeries(viewer.NewVolumeSeries("1.2.3", "test", viewer.T1, vol), vol, labels, render.Axial); err != nil {
		t.Fatal(err)
	}
	win := vp.Window()
	if s, n := vp.Slice(); s != 5 || n != 8 {
		t.Fatalf("first slice %d of %d, want the one with the most labels, 5 of 8", s, n)
	}
	if want := render.Presets(vol)[0]; win != want {
		t.Fatalf("first window %+v, want the first preset %+v", win, want)
	}
	waitShown(t, vp, expected(t, vol, labels, 5, win), "first slice with overlay")
	if last.Slice != 6 || last.Slices != 8 || last.Series != "T1  test" {
		t.Errorf("status %+v, want slice 6/8 of T1 test", last)
	}

	// Wheel down: next slice; wheel up twice: two back; no scrolling past the ends.
	vp.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: -10}})
	waitShown(t, vp, expected(t, vol, labels, 6, win), "after wheel down")
	vp.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: 10}})
	vp.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: 10}})
	if s, _ := vp.Slice(); s != 4 {
		t.Fatalf("after one notch down and two up: slice %d, want 4", s)
	}
	waitShown(t, vp, expected(t, vol, labels, 4, win), "after wheel up")
	vp.Scroll(100)
	if s, _ := vp.Slice(); s != 7 {
		t.Fatalf("scrolling past the end: slice %d, want the last, 7", s)
	}
	vp.Scroll(-100)
	if s, _ := vp.Slice(); s != 0 {
		t.Fatalf("scrolling past the start: slice %d, want 0", s)
	}
	vp.Scroll(4)

	// Drag 64 units right and 32 down: width grows by 64 and level by 32 grey steps of width/256.
	vp.Dragged(&fyne.DragEvent{Dragged: fyne.Delta{DX: 64, DY: 32}})
	vp.DragEnd()
	got := vp.Window()
	step := win.Width / 256
	if d := got.Width - (win.Width + 64*step); d*d > 1e-9 {
		t.Errorf("width after drag %g, want %g", got.Width, win.Width+64*step)
	}
	if d := got.Center - (win.Center + 32*step); d*d > 1e-9 {
		t.Errorf("centre after drag %g, want %g", got.Center, win.Center+32*step)
	}
	waitShown(t, vp, expected(t, vol, labels, 4, got), "after the window drag")
	if last.Window != got {
		t.Errorf("status window %+v, want %+v", last.Window, got)
	}

	// Overlay off: the plain image.
	vp.Overlay.Visible = false
	vp.changed() // as Reading.Refresh does after a change of the shared settings
	plain := expected(t, vol, nil, 4, got)
	if bytes.Equal(plain.Pix, expected(t, vol, labels, 4, got).Pix) {
		t.Fatal("test data: the overlay does not change slice 4")
	}
	waitShown(t, vp, plain, "overlay hidden")

	// The probe reads the voxel under the pointer: the viewport's centre is voxel (16, 12) of slice 4.
	c := vp.Size()
	probe := vp.ProbeAt(fyne.NewPos(c.Width/2+0.1, c.Height/2+0.1))
	if !strings.HasPrefix(probe, "value 416 at (15.5, 11.5, 8.0)") { // image point 16.008 is 0.5 mm left of voxel 16's centre
		t.Errorf("probe at the centre = %q, want value 416 at (15.5, 11.5, 8.0)", probe)
	}
	if p := vp.ProbeAt(fyne.NewPos(1, 1)); p != "" {
		t.Errorf("probe outside the image = %q, want nothing", p)
	}
}

func TestViewportRejectsLabelsOffGrid(t *testing.T) {
	newTestApp(t)
	vol, _ := testVolume(t)
	other := viewer.NewLabelMap(viewer.Geometry{Size: [3]int{8, 8, 8}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection})
	if err := NewViewport().SetSeries(viewer.NewVolumeSeries("1.2.3", "test", viewer.T1, vol), vol, other, render.Axial); err == nil || !strings.Contains(err.Error(), "not on the series' grid") {
		t.Fatalf("labels on another grid: %v, want an error saying so", err)
	}
}

// BenchmarkViewportScrollStep is one wheel notch through the viewport widget on a BraTS-size series
// (240×240×155) with the window and the label overlay applied: from the event until the new image is on
// the canvas. Target: under 16 ms (60 steps/s).
func BenchmarkViewportScrollStep(b *testing.B) {
	test.NewTempApp(b)
	g := viewer.Geometry{Size: [3]int{240, 240, 155}, Spacing: viewer.Vec3{1, 1, 1}, Direction: viewer.IdentityDirection}
	vol := viewer.NewVolume(g)
	labels := viewer.NewLabelMap(g)
	for i := range vol.Data {
		vol.Data[i] = float32(i % 997)
		if i%240 > 100 && i%240 < 140 {
			labels.Data[i] = 2
		}
	}
	vp := NewViewport()
	w := test.NewWindow(vp)
	defer w.Close()
	w.Resize(fyne.NewSize(800, 800))
	if err := vp.SetSeries(viewer.NewVolumeSeries("1", "bench", viewer.T1, vol), vol, labels, render.Axial); err != nil {
		b.Fatal(err)
	}
	// The benchmark acts as the UI goroutine, letting the render worker's callback in while it waits.
	uiLock.Lock()
	defer uiLock.Unlock()
	waitFrames := func(n int64) {
		for vp.shown.Load() < n {
			uiLock.Unlock()
			runtime.Gosched()
			uiLock.Lock()
		}
	}
	waitFrames(1)
	step := 1
	for b.Loop() {
		n := vp.shown.Load()
		if s, total := vp.Slice(); s+step < 0 || s+step >= total {
			step = -step
		}
		vp.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: float32(-step)}})
		waitFrames(n + 1)
	}
}

// TestViewportGolden renders a viewport with the overlay, a length and an ellipse ROI, rotated a quarter
// turn and zoomed, against a PNG golden: annotations and edge letters must follow the transform.
func TestViewportGolden(t *testing.T) {
	newTestApp(t)
	vol, labels := testVolume(t)
	vp := NewViewport()
	w := test.NewWindow(vp)
	defer w.Close()
	w.SetPadded(false)
	w.Resize(fyne.NewSize(320, 240))
	if err := vp.SetSeries(viewer.NewVolumeSeries("1.2.3", "golden", viewer.T1CE, vol), vol, labels, render.Axial); err != nil {
		t.Fatal(err)
	}
	vp.Rotate(1)
	vp.Zoom(1.25)
	vp.Measure(ToolLength, measure.Point{X: 2, Y: 2}, measure.Point{X: 12, Y: 2})
	vp.Measure(ToolEllipse, measure.Point{X: 16, Y: 8}, measure.Point{X: 28, Y: 20})
	waitShown(t, vp, orientedExpected(t, vol, labels, 5, vp.Window()), "rotated slice")
	test.AssertImageMatches(t, "viewport_rotated.png", w.Canvas().Capture())
}

// orientedExpected is expected() turned a quarter clockwise, as the viewport shows it after Rotate(1).
func orientedExpected(t *testing.T, v *viewer.Volume, labels *viewer.LabelMap, slice int, win viewer.Window) *image.RGBA {
	src := expected(t, v, labels, slice, win)
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	orientImage(dst, src, 1, false, false)
	return dst
}
