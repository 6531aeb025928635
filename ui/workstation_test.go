package ui

import (
	"math"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/demo"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// smallStudy is four 32×24×8 series typed T1, T1CE, T2, FLAIR (listed in another order, so that the
// hanging protocol has to sort them) sharing a frame of reference, with testVolume's labels.
func smallStudy(t *testing.T) *viewer.Study {
	t.Helper()
	st := &viewer.Study{UID: "1.2.3", PatientName: "TEST^SMALL", PatientID: "P1", StudyDate: "20240101", Description: "small"}
	for i, typ := range []viewer.SeriesType{viewer.FLAIR, viewer.T1, viewer.T2, viewer.T1CE} {
		vol, labels := testVolume(t)
		for k := range vol.Data {
			vol.Data[k] += float32(1000 * i)
		}
		se := viewer.NewVolumeSeries("1.2.3."+string(typ), "small "+string(typ), typ, vol)
		se.Number, se.FrameOfReferenceUID = i+1, "1.2.3.9"
		st.Series = append(st.Series, se)
		st.Labels = labels
	}
	return st
}

// newTestWorkstation opens studies in a test window with svc and waits until the hanging protocol is shown.
func newTestWorkstation(t *testing.T, svc Services, studies ...*viewer.Study) (*Workstation, fyne.Window) {
	t.Helper()
	newTestApp(t)
	win := test.NewWindow(nil)
	t.Cleanup(win.Close)
	w := NewWorkstation(win.Canvas(), svc, studies)
	win.SetContent(w.Content())
	win.Resize(fyne.NewSize(1280, 800))
	waitLoaded(t, w)
	return w, win
}

// waitLoaded waits until every visible viewport shows the series assigned to it.
func waitLoaded(t *testing.T, w *Workstation) {
	t.Helper()
	waitFor(t, "the viewports to show their series", func() bool {
		for _, vp := range w.Reading.Visible() {
			shown := w.Reading.Shown(w.Reading.Index(vp))
			if shown != nil && (vp.Volume() == nil || vp.Series() != shown) {
				return false
			}
		}
		return true
	})
}

func TestHangingProtocol(t *testing.T) {
	w, _ := newTestWorkstation(t, Services{}, smallStudy(t))
	r := w.Reading
	if r.Layout() != Layout2x2 {
		t.Fatalf("layout %s, want 2×2", r.Layout())
	}
	for i, want := range viewer.BrainTumourTypes {
		if got := r.Viewport(i).Series().Type; got != want {
			t.Errorf("viewport %d shows %s, want %s", i, got, want)
		}
	}
	// A study without the four sequences opens its first series in 1×1.
	st := smallStudy(t)
	st.Series = st.Series[:2]
	w.Open(st)
	waitLoaded(t, w)
	if r.Layout() != Layout1x1 || r.Viewport(0).Series() != st.Series[0] {
		t.Errorf("two-series study: layout %s with %v, want 1×1 with the first series", r.Layout(), r.Viewport(0).Series())
	}
}

func TestSynchronisedScrollAndReferenceLines(t *testing.T) {
	w, _ := newTestWorkstation(t, Services{}, smallStudy(t))
	r := w.Reading
	r.Viewport(0).SetSlice(2)
	for i := 1; i < 4; i++ {
		if s, _ := r.Viewport(i).Slice(); s != 2 {
			t.Errorf("viewport %d at slice %d after viewport 0 went to 2, want 2 (same frame of reference)", i, s)
		}
	}
	r.Sync = false
	r.Viewport(0).SetSlice(6)
	if s, _ := r.Viewport(1).Slice(); s != 2 {
		t.Errorf("sync off: viewport 1 moved to %d", s)
	}
	// MPR: the axial viewport shows where the coronal and sagittal slices cut it.
	w.SetLayout(LayoutMPR)
	waitLoaded(t, w)
	planes := []render.Orientation{render.Axial, render.Coronal, render.Sagittal}
	for i, o := range planes {
		p, _ := r.Viewport(i).Plane()
		if p.Orientation() != o || r.Viewport(i).Series() != r.Viewport(0).Series() {
			t.Fatalf("MPR viewport %d: %s of %v", i, p.Orientation(), r.Viewport(i).Series())
		}
	}
	if n := len(r.Viewport(0).refLines); n != 2 {
		t.Errorf("axial viewport has %d reference lines, want 2 (coronal and sagittal)", n)
	}
	// The crosshair sends every plane through the point.
	p := viewer.Vec3{5, 6, 4}
	r.crosshair(p)
	for i := range planes {
		vp := r.Viewport(i)
		pl, _ := vp.Plane()
		want, _ := pl.NearestSlice(p)
		if s, _ := vp.Slice(); s != want {
			t.Errorf("%s viewport at slice %d after the crosshair, want %d", planes[i], s, want)
		}
	}
}

func TestDropSeriesOntoViewport(t *testing.T) {
	w, _ := newTestWorkstation(t, Services{}, smallStudy(t))
	r := w.Reading
	t2 := r.Viewport(2).Series()
	target := r.Viewport(3)
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(target).Add(fyne.NewPos(20, 20))
	w.drop(t2, at)
	waitLoaded(t, w)
	if target.Series() != t2 {
		t.Errorf("after dropping T2 on viewport 3 it shows %v", target.Series().Type)
	}
	if r.Active() != target {
		t.Error("the drop target is not the active viewport")
	}
}

func TestWorklistSearchAndSort(t *testing.T) {
	a, b := smallStudy(t), smallStudy(t)
	b.UID, b.PatientName, b.PatientID, b.StudyDate, b.Description = "1.2.4", "ALPHA^ANNA", "P2", "20230505", "follow-up"
	b.Series = b.Series[:1]
	w, _ := newTestWorkstation(t, Services{}, a, b)
	wl := w.Worklist
	if got := wl.Rows(); len(got) != 2 || got[0].study != a {
		t.Fatalf("default order (newest first): %v", names(got))
	}
	wl.SortBy(0)
	if got := wl.Rows(); got[0].study != b {
		t.Errorf("sorted by patient: %v, want ALPHA first", names(got))
	}
	wl.SortBy(0)
	if got := wl.Rows(); got[0].study != a {
		t.Errorf("sorted by patient, reversed: %v, want TEST first", names(got))
	}
	wl.Search("follow")
	if got := wl.Rows(); len(got) != 1 || got[0].study != b {
		t.Errorf("search 'follow': %v", names(got))
	}
	wl.Search("flair p1")
	if got := wl.Rows(); len(got) != 1 || got[0].study != a {
		t.Errorf("search 'flair p1' (sequence and ID): %v", names(got))
	}
	wl.Search("")
	wl.table.Select(widget.TableCellID{Row: 1, Col: 0})
	waitLoaded(t, w)
	if w.Reading.Study() != wl.Rows()[1].study {
		t.Error("selecting a worklist row does not open its study")
	}
	// Without a library there is nothing to import into: the reader is told so.
	w.Import([]string{t.TempDir()})
	if !strings.Contains(w.message.Text, "No local cache") {
		t.Errorf("import without a library says %q", w.message.Text)
	}
}

func names(rows []WorklistRow) []string {
	var s []string
	for _, r := range rows {
		s = append(s, r.PatientName)
	}
	return s
}

// TestMeasurementsOnDemoStudy draws a length across the demo tumour and an ellipse ROI through the
// viewport, as a reader does with the mouse. The length must match the phantom's analytic geometry within
// one voxel; the ROI statistics must equal the values computed here directly from the volume.
func TestMeasurementsOnDemoStudy(t *testing.T) {
	params := demo.DefaultParams()
	ph, err := demo.New(params)
	if err != nil {
		t.Fatal(err)
	}
	st := demo.Study()
	w, _ := newTestWorkstation(t, Services{}, st)
	w.SetLayout(Layout1x1)
	vp := w.Reading.Viewport(0)
	if vp.Series().Type != viewer.T1 {
		t.Fatalf("viewport 0 shows %s", vp.Series().Type)
	}
	plane, _ := vp.Plane()
	c := params.Tumour.Centre
	slice, _ := plane.NearestSlice(c)
	vp.SetSlice(slice)
	_, _, cy := plane.Locate(c)
	centre := plane.Patient(float64(slice), 0, cy) // on the slice and the row, x = 0
	centre[0] = c[0]

	// Ground truth: the tumour core (NCR and ET, the enhancing rim's outer boundary) along patient x
	// through the centre, from the phantom's own label function, in 0.01 mm steps.
	core := func(p viewer.Vec3) bool {
		l := ph.Label(p)
		return l == viewer.LabelNCR || l == viewer.LabelET
	}
	edge := func(dir float64) float64 {
		d := 0.0
		for core(centre.Add(viewer.Vec3{dir * (d + 0.01), 0, 0})) {
			d += 0.01
		}
		return d
	}
	truth := edge(1) + edge(-1)

	// The reader's view: the first and last core pixel of the image row, drawn edge to edge.
	row := int(math.Floor(cy))
	first, last := -1, -1
	for x := 0; x < plane.Bounds().Dx(); x++ {
		ijk, _ := plane.Voxel(slice, x, row)
		if l := st.Labels.Data[st.Labels.Index(ijk[0], ijk[1], ijk[2])]; l == viewer.LabelNCR || l == viewer.LabelET {
			if first < 0 {
				first = x
			}
			last = x
		}
	}
	if first < 0 {
		t.Fatal("no tumour on the row through the centre")
	}
	w.SetTool(ToolLength)
	drag(vp, vp.ImageToView(float64(first), float64(row)+0.5), vp.ImageToView(float64(last+1), float64(row)+0.5))
	ms := vp.Measurements()
	if len(ms) != 1 || ms[0].Kind != measure.KindLength {
		t.Fatalf("after the drag: %+v, want one length", ms)
	}
	if d := math.Abs(ms[0].Length - truth); d > 1 {
		t.Errorf("length across the tumour %.2f mm, ground truth %.2f mm: off by %.2f mm, more than one voxel", ms[0].Length, truth, d)
	}
	t.Logf("length across the tumour: %.2f mm (ground truth %.2f mm)", ms[0].Length, truth)

	// Ellipse ROI around the tumour, 30 × 20 pixels.
	w.SetTool(ToolEllipse)
	_, cx, _ := plane.Locate(c)
	a, b := measure.Point{X: cx - 15, Y: cy - 10}, measure.Point{X: cx + 15, Y: cy + 10}
	drag(vp, vp.ImageToView(a.X, a.Y), vp.ImageToView(b.X, b.Y))
	ms = vp.Measurements()
	if len(ms) != 2 || ms[1].Kind != measure.KindEllipse {
		t.Fatalf("after the ROI drag: %+v", ms)
	}
	got := ms[1].Stats
	// Direct: every voxel of the slice whose centre is inside the ellipse drawn (the corners the drag hit).
	ra, rb := ms[1].Points[0], ms[1].Points[1]
	ex, ey := (ra.X+rb.X)/2, (ra.Y+rb.Y)/2
	rx, ry := math.Abs(rb.X-ra.X)/2, math.Abs(rb.Y-ra.Y)/2
	var values []float64
	vol := vp.Volume()
	for y := 0; y < plane.Bounds().Dy(); y++ {
		for x := 0; x < plane.Bounds().Dx(); x++ {
			dx, dy := (float64(x)+0.5-ex)/rx, (float64(y)+0.5-ey)/ry
			if dx*dx+dy*dy <= 1 {
				ijk, _ := plane.Voxel(slice, x, y)
				values = append(values, float64(vol.At(ijk[0], ijk[1], ijk[2])))
			}
		}
	}
	var sum, lo, hi = 0.0, math.Inf(1), math.Inf(-1)
	for _, x := range values {
		sum += x
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	mean := sum / float64(len(values))
	var ss float64
	for _, x := range values {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(len(values)))
	su, sv := plane.PixelSpacing()
	area := math.Pi * rx * ry * su * sv
	if got.N != len(values) || math.Abs(got.Mean-mean) > 1e-6*math.Abs(mean) || math.Abs(got.SD-sd) > 1e-6*sd ||
		got.Min != lo || got.Max != hi || math.Abs(got.Area-area) > 1e-9*area {
		t.Errorf("ROI %+v, direct: N %d mean %g SD %g min %g max %g area %g", got, len(values), mean, sd, lo, hi, area)
	}
	t.Logf("ellipse ROI: %s", ms[1].Text())
}

// drag moves the primary button from a to b over the viewport in ten steps and releases it.
func drag(vp *Viewport, a, b fyne.Position) {
	vp.MouseDown(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: a}, Button: desktop.MouseButtonPrimary})
	prev := a
	for i := 1; i <= 10; i++ {
		f := float32(i) / 10
		p := fyne.NewPos(a.X+(b.X-a.X)*f, a.Y+(b.Y-a.Y)*f)
		vp.Dragged(&fyne.DragEvent{PointEvent: fyne.PointEvent{Position: p}, Dragged: fyne.NewDelta(p.X-prev.X, p.Y-prev.Y)})
		prev = p
	}
	vp.DragEnd()
	vp.MouseUp(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: b}, Button: desktop.MouseButtonPrimary})
}
