package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"math"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// thirdParty is smallStudy as some converters write a session: one StudyInstanceUID and frame of reference per
// series, same patient, date and accession; with the demographics the corners show.
func thirdParty(t *testing.T) []*viewer.Study {
	t.Helper()
	base := smallStudy(t)
	var out []*viewer.Study
	for i, se := range base.Series {
		uid := fmt.Sprintf("1.2.9.%d", i+1)
		se.UID, se.StudyUID, se.FrameOfReferenceUID = uid+".1", uid, uid+".9"
		out = append(out, &viewer.Study{UID: uid, PatientName: "DOE^JANE", PatientID: "P7", PatientSex: "F", PatientBirthDate: "19700101",
			StudyDate: "20240301", StudyTime: fmt.Sprintf("09%02d00", 10+i), AccessionNumber: "A77", Institution: "Test Hospital",
			Description: "MR BRAIN", Series: []*viewer.Series{se}, Labels: base.Labels})
	}
	return out
}

// pressKey delivers a key as Fyne's desktop driver does: to the focused widget when there is one, else to
// the canvas's handler.
func pressKey(c fyne.Canvas, k fyne.KeyName) {
	ev := &fyne.KeyEvent{Name: k}
	if f := c.Focused(); f != nil {
		f.TypedKey(ev)
		return
	}
	c.OnTypedKey()(ev)
}

// typeText delivers characters as the driver does.
func typeText(c fyne.Canvas, s string) {
	for _, r := range s {
		if f := c.Focused(); f != nil {
			f.TypedRune(r)
		} else {
			c.OnTypedRune()(r)
		}
	}
}

// keyedWorkstation is newTestWorkstation with the canvas's key handlers installed, as cmd/neuronova does.
func keyedWorkstation(t *testing.T, svc Services, size fyne.Size, studies ...*viewer.Study) (*Workstation, fyne.Window) {
	t.Helper()
	w, win := newTestWorkstation(t, svc, studies...)
	win.Canvas().SetOnTypedKey(w.TypedKey)
	win.Canvas().SetOnTypedRune(w.TypedRune)
	win.Resize(size)
	return w, win
}

// anotherWorkstation opens a second window in the test's app (keyedWorkstation started it), on svc alone.
func anotherWorkstation(t *testing.T, svc Services, size fyne.Size) *Workstation {
	t.Helper()
	win := test.NewWindow(nil)
	t.Cleanup(win.Close)
	w := NewWorkstation(win.Canvas(), svc, nil)
	win.SetContent(w.Content())
	win.Canvas().SetOnTypedKey(w.TypedKey)
	win.Canvas().SetOnTypedRune(w.TypedRune)
	win.Resize(size)
	return w
}

// viewportImage is viewport vp as the window shows it, corner text and measurements included.
func viewportImage(t *testing.T, win fyne.Window, vp *Viewport) image.Image {
	t.Helper()
	return objectImage(t, win, vp)
}

// objectImage is the part of the window o covers.
func objectImage(t *testing.T, win fyne.Window, o fyne.CanvasObject) image.Image {
	t.Helper()
	full := win.Canvas().Capture()
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	s := o.Size()
	r := image.Rect(int(at.X), int(at.Y), int(at.X+s.Width), int(at.Y+s.Height))
	img := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(img, img.Bounds(), full, r.Min, draw.Src)
	return img
}

// waitFrame waits until vp shows the latest frame asked for (the render worker is asynchronous).
func waitFrame(t *testing.T, vp *Viewport) {
	t.Helper()
	waitFor(t, "the viewport's frame", vp.upToDate)
}

// TestAnnotationsGolden: the four corners of a viewport on the third-party session name the patient as a
// person reads the name, the ID, sex and age, birth date, the institution, the study's date, time,
// accession and description, the series, image, location, thickness and plane, the window and zoom; a
// scale bar; the text outlined so that it reads on a bright (inverted) image; the window's title names the
// patient. PNG goldens of the viewport, normal and inverted.
func TestAnnotationsGolden(t *testing.T) {
	w, win := keyedWorkstation(t, Services{}, fyne.NewSize(960, 640), thirdParty(t)...)
	waitLoaded(t, w)
	vp := w.Reading.Viewport(1)
	w.Reading.Activate(1)
	want := [4]string{
		"DOE, JANE\nP7\nF 54 y DOB 1970-01-01",
		"Test Hospital\n2024-03-01 09:13\nAcc A77\nMR BRAIN",
		"T1CE small T1CE\nIm 6/8 Loc 10.0 mm\nTh 2.0 mm axial",
		fmt.Sprintf("W %.0f L %.0f\nZoom 100%%", vp.Window().Width, vp.Window().Center),
	}
	for i := range want {
		if got := vp.CornerText(i); got != want[i] {
			t.Errorf("corner %d:\n%s\nwant\n%s", i, got, want[i])
		}
	}
	if got := win.Title(); got != "NeuroNova — DOE, JANE · P7 · F 54 y · 2024-03-01" {
		t.Errorf("window title %q", got)
	}
	if len(vp.corners[0].halos) != 4*len(vp.corners[0].lines) {
		t.Error("corner text is not outlined")
	}
	if mm := barLength(float64(vp.Size().Width), vp.tr.scale()); mm <= 0 || vp.scale.label.text() == "" {
		t.Errorf("no scale bar (%g mm)", mm)
	}
	waitFrame(t, vp)
	test.AssertImageMatches(t, "annotations.png", viewportImage(t, win, vp))
	vp.Invert()
	waitFrame(t, vp)
	test.AssertImageMatches(t, "annotations_inverted.png", viewportImage(t, win, vp))
	// A template of one's own: fields left empty drop their line.
	w.Reading.Annotations.Corners[0] = "{name} ({id})\n{accession}"
	w.Reading.Annotations.Corners[3] = "{institution}\n{zoom}"
	w.Reading.Refresh()
	if got := vp.CornerText(0) + "|" + vp.CornerText(3); got != "DOE, JANE (P7)\nAcc A77|Test Hospital\nZoom 100%" {
		t.Errorf("own template: %q", got)
	}
}

// TestExamGroupingThirdParty: a session written one study per series (each its own frame of reference) is one
// exam in the worklist, laid out in 2×2 by the hanging protocol, and scrolls together; from a library too,
// where opening the row opens every study of the exam. Markup golden of the worklist.
func TestExamGroupingThirdParty(t *testing.T) {
	session := thirdParty(t)
	other := smallStudy(t)
	other.UID, other.PatientName, other.PatientID, other.StudyDate = "1.2.5", "ROE^RICHARD", "P8", "20240301"
	for _, se := range other.Series {
		se.UID += ".8"
	}
	w, win := keyedWorkstation(t, Services{}, fyne.NewSize(1280, 800), append(session, other)...)
	waitLoaded(t, w)
	rows := w.Worklist.Rows()
	if len(rows) != 2 || len(rows[0].Studies)+len(rows[1].Studies) != 5 {
		t.Fatalf("worklist: %d rows %v", len(rows), names(rows))
	}
	r := w.Reading
	if r.Layout() != Layout2x2 {
		t.Fatalf("layout %s, want the 2×2 hanging", r.Layout())
	}
	for i, typ := range viewer.BrainTumourTypes {
		vp := r.Viewport(i)
		if vp.Series().Type != typ || vp.Study().UID != vp.Series().StudyUID || len(r.Study().Members) != 4 {
			t.Errorf("viewport %d: %s of study %s", i, vp.Series().Type, vp.Study().UID)
		}
	}
	r.Viewport(0).SetSlice(2)
	if s, _ := r.Viewport(3).Slice(); s != 2 {
		t.Errorf("scrolling T1 to slice 2 left FLAIR (another study, another frame) at %d", s)
	}
	// The worklist as a whole, wide enough for every column: the exam (▶ open) with its four studies.
	wl := NewWorklist(nil, viewer.GroupExams(append(thirdParty(t), other), viewer.ExamByDay))
	wl.SetOpen(r.Study().Exam)
	lwin := test.NewWindow(wl.Content())
	defer lwin.Close()
	lwin.Resize(fyne.NewSize(1300, 200))
	test.AssertObjectRendersToMarkup(t, "worklist_exams.xml", wl.Content())
	_ = win

	// The same studies from a library: one row, and opening it opens the whole exam.
	lib := newMemLibrary(thirdParty(t)...)
	w2 := anotherWorkstation(t, Services{Library: lib}, fyne.NewSize(1280, 800))
	waitFor(t, "the library's exam row", func() bool { return len(w2.Worklist.Rows()) == 1 })
	if n := len(w2.Worklist.Rows()[0].Studies); n != 4 {
		t.Fatalf("the row groups %d studies, want 4", n)
	}
	w2.Worklist.OpenRow(0)
	waitFor(t, "the exam to open", func() bool { return w2.Reading.Study() != nil && len(w2.Reading.Study().Members) == 4 })
	waitLoaded(t, w2)
	if w2.Reading.Layout() != Layout2x2 {
		t.Errorf("the library's exam opened in %s", w2.Reading.Layout())
	}
}

// recordingAnalyzer records the study M1 is given.
type recordingAnalyzer struct {
	mu   sync.Mutex
	seen *viewer.Study
}

func (a *recordingAnalyzer) RunM1(ctx context.Context, st *viewer.Study, _ string, _ func(string, int, int)) (*AIResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = st
	return &AIResult{Model: "m1-test", Banner: "TEST — NOT FOR CLINICAL USE"}, nil
}

// TestSequencePickerFeedsM1: the exam has a second FLAIR-like series the classifier left out; choosing it as
// FLAIR shows it in the hanging's FLAIR viewport, M1 is given that choice, and the exam remembers it (a new
// window on the same library lays it out again). Markup golden of the picker.
func TestSequencePickerFeedsM1(t *testing.T) {
	studies := thirdParty(t)
	extra, _ := testVolume(t)
	flair3d := viewer.NewVolumeSeries("1.2.9.4.2", "3D FLAIR SPACE", viewer.Other, extra)
	flair3d.StudyUID, flair3d.Number, flair3d.FrameOfReferenceUID = "1.2.9.4", 5, "1.2.9.4.9"
	studies[0].Series = append(studies[0].Series, flair3d) // the FLAIR study, listed first by smallStudy's order
	lib := newMemLibrary(studies...)
	ai := &recordingAnalyzer{}
	w, _ := keyedWorkstation(t, Services{Library: lib, AI: ai}, fyne.NewSize(1280, 800))
	waitFor(t, "the exam row", func() bool { return len(w.Worklist.Rows()) == 1 })
	w.Worklist.OpenRow(0)
	waitFor(t, "the exam", func() bool { return w.Reading.Study() != nil })
	waitLoaded(t, w)
	r := w.Reading
	if r.Viewport(3).Series().Type != viewer.FLAIR {
		t.Fatalf("viewport 3 shows %s before the choice", r.Viewport(3).Series().Type)
	}
	p := w.Sequences
	flairSelect := p.selects[3]
	flairSelect.SetSelected(seriesLabel(r.Study(), flair3d))
	waitLoaded(t, w)
	if r.Viewport(3).Series() != flair3d || r.Study().Sequence(viewer.FLAIR) != flair3d {
		t.Fatalf("after choosing: viewport 3 shows %v", r.Viewport(3).Series().Description)
	}
	test.AssertObjectRendersToMarkup(t, "sequence_picker.xml", p.Content())
	w.AI.Run()
	waitFor(t, "M1", func() bool { ai.mu.Lock(); defer ai.mu.Unlock(); return ai.seen != nil })
	ai.mu.Lock()
	got := ai.seen.Sequences[viewer.FLAIR]
	ai.mu.Unlock()
	if got != flair3d.UID {
		t.Fatalf("M1 was given FLAIR = %q, want %s", got, flair3d.UID)
	}
	waitFor(t, "the choice to be remembered", func() bool { return lib.setting(sequencesKey(r.Study().Exam)) != "" })
	var kept map[viewer.SeriesType]string
	json.Unmarshal([]byte(lib.setting(sequencesKey(r.Study().Exam))), &kept)
	if kept[viewer.FLAIR] != flair3d.UID {
		t.Fatalf("remembered %v", kept)
	}
	// Another window on the library: the exam opens with the choice.
	w2 := anotherWorkstation(t, Services{Library: lib}, fyne.NewSize(1280, 800))
	waitFor(t, "the exam row", func() bool { return len(w2.Worklist.Rows()) == 1 })
	w2.Worklist.OpenRow(0)
	waitFor(t, "the remembered FLAIR", func() bool {
		vp := w2.Reading.Viewport(3)
		return vp.Series() != nil && vp.Series().UID == flair3d.UID && vp.Volume() != nil
	})
}

// TestMeasurementsEditableAndRestored: a RANO bidimensional drawn with its tool, then edited by dragging a
// handle with the window tool active (no new measurement; the short axis stays perpendicular); kept in the
// library, listed, restored after another exam, and in a new window on the library; exported as SR. PNG
// golden of the viewport, markup golden of the list.
func TestMeasurementsEditableAndRestored(t *testing.T) {
	studies := thirdParty(t)
	other := smallStudy(t)
	other.UID, other.PatientID = "1.2.6", "P9"
	for _, se := range other.Series {
		se.UID += ".6"
	}
	lib := newMemLibrary(append(studies, other)...)
	w, win := keyedWorkstation(t, Services{Library: lib}, fyne.NewSize(1100, 760))
	waitFor(t, "two rows", func() bool { return len(w.Worklist.Rows()) == 2 })
	open := func(w *Workstation, patient string) {
		t.Helper()
		for i, row := range w.Worklist.Rows() {
			if row.PatientID == patient {
				w.Worklist.OpenRow(i)
			}
		}
		waitFor(t, "the exam of "+patient, func() bool { return w.Reading.Study() != nil && w.Reading.Study().PatientID == patient })
		waitLoaded(t, w)
	}
	open(w, "P7")
	vp := w.Reading.Viewport(1)
	w.Reading.Activate(1)
	w.SetTool(ToolBidirectional)
	a, b := measure.Point{X: 4, Y: 6}, measure.Point{X: 24, Y: 6}
	drag(vp, vp.ImageToView(a.X, a.Y), vp.ImageToView(b.X, b.Y))
	ms := vp.Measurements()
	if len(ms) != 1 || ms[0].Kind != measure.KindBidirectional || math.Abs(ms[0].Length-20) > 1e-3 || math.Abs(ms[0].Short-10) > 1e-3 {
		t.Fatalf("after the drag: %+v", ms)
	}
	id := ms[0].ID
	// Drag the long axis' end with the window tool: the measurement follows, no new one is drawn.
	w.SetTool(ToolWindowLevel)
	win0 := vp.Window()
	end := ms[0].Points[1]
	drag(vp, vp.ImageToView(end.X, end.Y), vp.ImageToView(28, 10))
	ms = vp.Measurements()
	if len(ms) != 1 || ms[0].ID != id || math.Hypot(ms[0].Points[1].X-28, ms[0].Points[1].Y-10) > 1e-3 || vp.Window() != win0 {
		t.Fatalf("after the handle drag: %+v (window %+v, was %+v)", ms, vp.Window(), win0)
	}
	edited := ms[0]
	if want := math.Hypot(24, 4); math.Abs(edited.Length-want) > 1e-3 {
		t.Errorf("edited long axis %g mm, want %g", edited.Length, want)
	}
	pts := edited.Points
	if dot := (pts[1].X-pts[0].X)*(pts[3].X-pts[2].X) + (pts[1].Y-pts[0].Y)*(pts[3].Y-pts[2].Y); math.Abs(dot) > 1e-6 {
		t.Errorf("the short axis is no longer perpendicular (dot %g)", dot)
	}
	waitFor(t, "the library to keep the edit", func() bool { k, ok := lib.kept()[id]; return ok && k.Points[1] == pts[1] })
	if k := lib.kept()[id]; k.Image != nil || k.SeriesUID != vp.Series().UID || k.Plane != render.Axial || k.Slice != edited.Slice {
		t.Errorf("kept as %+v", k)
	}
	waitFrame(t, vp)
	test.AssertImageMatches(t, "measurements.png", viewportImage(t, win, vp))
	w.tabs.SelectIndex(1) // the Measurements tab
	test.AssertObjectRendersToMarkup(t, "measurements_panel.xml", w.Measures.Content())
	w.tabs.SelectIndex(0)

	// Another exam and back: the measurement is there, as edited.
	open(w, "P9")
	if n := len(w.Reading.Viewport(1).Measurements()); n != 0 {
		t.Errorf("the other exam shows %d measurements", n)
	}
	open(w, "P7")
	waitFor(t, "the measurement back", func() bool { return len(w.Reading.Viewport(1).Measurements()) == 1 })
	if got := w.Reading.Viewport(1).Measurements()[0]; got.Points[1] != pts[1] {
		t.Errorf("restored %+v", got.Points)
	}
	// A new window on the library (the next day): restored from there.
	w2 := anotherWorkstation(t, Services{Library: lib}, fyne.NewSize(1100, 760))
	waitFor(t, "two rows", func() bool { return len(w2.Worklist.Rows()) == 2 })
	open(w2, "P7")
	waitFor(t, "the kept measurement", func() bool { return len(w2.Reading.Viewport(1).Measurements()) == 1 })
	if got := w2.Reading.Viewport(1).Measurements()[0]; got.ID != id || got.Points[1] != pts[1] || !strings.Contains(got.Text(), "mm") {
		t.Errorf("restored in a new window: %+v", got)
	}
	w2.Measures.ExportSR()
	waitFor(t, "the SR export", func() bool { return strings.Contains(w2.Measures.message.Text, "exported") })
	if len(lib.exported) != 1 || lib.exported[0][0].ID != id {
		t.Errorf("exported %v", lib.exported)
	}
}

// TestHotkeysAfterFocusingControls: after a click on a check box (which takes the focus) the keys still act
// on the viewport, Space included; a slider and the layout drop-down too; the search field keeps what it
// types and Esc gives the keys back.
func TestHotkeysAfterFocusingControls(t *testing.T) {
	w, win := keyedWorkstation(t, Services{}, fyne.NewSize(1280, 800), smallStudy(t))
	c := win.Canvas()
	vp := w.Reading.Active()
	check := w.Overlay.Visible
	test.Tap(check) // hides the overlay, and takes the focus
	if c.Focused() != check {
		t.Fatalf("the check box did not take the focus (focused %T)", c.Focused())
	}
	check.SetChecked(true)
	s0, _ := vp.Slice()
	pressKey(c, fyne.KeyDown)
	if s, _ := vp.Slice(); s != s0+1 {
		t.Errorf("↓ with the check box focused: slice %d, want %d", s, s0+1)
	}
	pressKey(c, fyne.KeyI)
	if !vp.invert {
		t.Error("I with the check box focused did not invert")
	}
	vp.Zoom(2)
	typeText(c, " ")
	pressKey(c, fyne.KeySpace)
	if vp.tr.zoom != 1 || !check.Checked {
		t.Errorf("Space with the check box focused: zoom %g, check %v (want the viewport reset, the check left)", vp.tr.zoom, check.Checked)
	}
	test.Tap(w.Overlay.Opacity)
	w.Reading.Activate(0)
	pressKey(c, fyne.KeyRight)
	if w.Reading.active != 1 {
		t.Errorf("→ with the slider focused: viewport %d active, want 1", w.Reading.active)
	}
	test.Tap(w.layouts)
	if pop := c.Overlays().Top(); pop != nil {
		pop.Hide()
		c.Overlays().Remove(pop)
	}
	pressKey(c, fyne.KeyM)
	if w.Reading.Tool != ToolLength {
		t.Errorf("M with the layout drop-down focused: tool %s", w.Reading.Tool)
	}
	// The search field types letters; Esc leaves it and the keys act again.
	test.Tap(w.Worklist.search)
	c.Focus(w.Worklist.search)
	vp = w.Reading.Active()
	invert := vp.invert
	typeText(c, "ix")
	pressKey(c, fyne.KeyI)
	if w.Worklist.search.Text != "ix" || vp.invert != invert {
		t.Errorf("typing in the search field: %q, invert %v (was %v)", w.Worklist.search.Text, vp.invert, invert)
	}
	pressKey(c, fyne.KeyEscape)
	if c.Focused() != nil {
		t.Fatal("Esc left the focus in the search field")
	}
	pressKey(c, fyne.KeyI)
	if vp.invert == invert {
		t.Error("I after Esc did not invert")
	}
	// A button's tooltip shows while the pointer rests on it, and goes with it.
	var invertButton *hotButton
	for _, o := range test.LaidOutObjects(w.Content()) {
		if b, ok := o.(*hotButton); ok && b.Text == "Invert" {
			invertButton = b
		}
	}
	invertButton.MouseIn(&desktop.MouseEvent{})
	waitFor(t, "the tooltip", func() bool { return w.tips.Shown() == "Invert grey levels (I)" })
	invertButton.MouseOut()
	if w.tips.Shown() != "" {
		t.Errorf("tooltip %q after the pointer left", w.tips.Shown())
	}
	// Buttons say their key.
	for _, want := range []string{"(I)", "(Space)", "(K)", "(G)", "(F8)"} {
		found := false
		for _, o := range test.LaidOutObjects(w.Content()) {
			if b, ok := o.(*hotButton); ok && strings.Contains(b.tip, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no button's tooltip names %s", want)
		}
	}
}

// TestF2MaximisesTheActiveViewport: F2 fills the area with the active viewport (T1CE), showing what it
// showed; a thumbnail tapped then replaces that viewport's series only; F2 again gives the 2×2 back with the
// others unchanged. PNG golden of the maximised area.
func TestF2MaximisesTheActiveViewport(t *testing.T) {
	w, win := keyedWorkstation(t, Services{}, fyne.NewSize(900, 600), thirdParty(t)...)
	c := win.Canvas()
	r := w.Reading
	r.Activate(1)
	before := [4]*viewer.Series{}
	for i := range before {
		before[i] = r.Viewport(i).Series()
	}
	pressKey(c, fyne.KeyF2)
	if vis := r.Visible(); len(vis) != 1 || vis[0] != r.Viewport(1) || vis[0].Series().Type != viewer.T1CE {
		t.Fatalf("after F2: %d viewports, the first showing %v", len(vis), vis[0].Series().Type)
	}
	vp := r.Viewport(1)
	waitFor(t, "the maximised layout", func() bool { return vp.Size().Width > 500 })
	waitFrame(t, vp)
	test.AssertImageMatches(t, "f2_maximised.png", objectImage(t, win, r.Content())) // the area: one viewport
	var t2 *Thumb
	for _, th := range w.Strip.Thumbs() {
		if th.Series.Type == viewer.T2 {
			t2 = th
		}
	}
	test.Tap(t2)
	waitLoaded(t, w)
	if vp.Series().Type != viewer.T2 {
		t.Fatalf("the tapped thumbnail went to %v", vp.Series().Type)
	}
	pressKey(c, fyne.KeyF2)
	waitLoaded(t, w)
	if r.Maximised() || len(r.Visible()) != 4 || r.Layout() != Layout2x2 {
		t.Fatalf("after F2 again: %d viewports, layout %s", len(r.Visible()), r.Layout())
	}
	for i, want := range before {
		got := r.Viewport(i).Series()
		if i == 1 && got.Type != viewer.T2 || i != 1 && got != want {
			t.Errorf("viewport %d shows %s after the restore", i, got.Type)
		}
	}
}

// TestWorklistNoteAndStatusFollow: the worklist's search error goes when the query is fixed or cleared; the
// value under the resting pointer follows the stack as it scrolls; a progress bar starts empty.
func TestWorklistNoteAndStatusFollow(t *testing.T) {
	st := smallStudy(t)
	w, _ := keyedWorkstation(t, Services{Library: newMemLibrary(st)}, fyne.NewSize(1280, 800))
	waitFor(t, "the library's row", func() bool { return len(w.Worklist.Rows()) == 1 })
	w.Worklist.Search("bad:query")
	waitFor(t, "the search error", func() bool { return strings.HasPrefix(w.Worklist.Note(), "Search: ") })
	w.Worklist.Search("")
	waitFor(t, "the error to go", func() bool { return w.Worklist.Note() == "1 exam" })

	w.Worklist.OpenRow(0)
	waitFor(t, "the study to open", func() bool { return w.Reading.Study() != nil })
	waitLoaded(t, w)
	vp := w.Reading.Active()
	waitFor(t, "the viewport's frame", vp.upToDate)
	c := vp.Size()
	vp.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(c.Width/2, c.Height/2)}})
	before := vp.Status().Probe
	if before == "" {
		t.Fatal("no value under the pointer")
	}
	vp.Scroll(1)
	if after := vp.Status().Probe; after == before || after == "" {
		t.Errorf("after scrolling the status still says %q", after)
	}

	// A task that ended full leaves its bar full but hidden; the next one starts at 0 %.
	tk := newTask()
	run := func(work func(context.Context, progressFunc) error) {
		ended := make(chan struct{})
		tk.start("Reading", work, func(error) { close(ended) })
		waitFor(t, "the task to end", func() bool {
			select {
			case <-ended:
				return true
			default:
				return false
			}
		})
	}
	run(func(_ context.Context, p progressFunc) error { p("files", 4, 4); return nil })
	hold := make(chan struct{})
	tk.start("Reading", func(context.Context, progressFunc) error { <-hold; return nil }, func(error) {})
	if !tk.bar.Visible() || tk.bar.Value != 0 {
		t.Errorf("the next task's bar: shown %v at %g, want shown at 0", tk.bar.Visible(), tk.bar.Value)
	}
	close(hold)
	waitFor(t, "the second task to end", func() bool { return !tk.running() })
}
