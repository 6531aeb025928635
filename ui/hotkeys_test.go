package ui

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// TestEveryHotkey presses every key of the help overlay's table and checks that it does what the help
// says. A key added to the table without a check here fails the test.
func TestEveryHotkey(t *testing.T) {
	prior := smallStudy(t)
	prior.UID, prior.StudyDate = "1.2.3.0", "20230101"
	for _, se := range prior.Series {
		se.UID += ".0"
	}
	w, _ := newTestWorkstation(t, Services{}, smallStudy(t), prior)
	r := w.Reading
	active := func() *Viewport { return r.Active() }
	slice := func() int { s, _ := active().Slice(); return s }
	toolKey := func(want Tool) func(t *testing.T, press func()) {
		return func(t *testing.T, press func()) {
			w.SetTool(ToolWindowLevel)
			if want == ToolWindowLevel {
				w.SetTool(ToolPan)
			}
			press()
			if r.Tool != want || w.tools.Selected != want.String() {
				t.Errorf("tool %s (toolbar %q), want %s", r.Tool, w.tools.Selected, want)
			}
		}
	}
	layoutKey := func(want Layout) func(t *testing.T, press func()) {
		return func(t *testing.T, press func()) {
			press()
			waitLoaded(t, w)
			if r.Layout() != want || w.layouts.Selected != want.String() {
				t.Errorf("layout %s (toolbar %q), want %s", r.Layout(), w.layouts.Selected, want)
			}
			w.SetLayout(Layout2x2)
			waitLoaded(t, w)
		}
	}
	checks := map[string]func(t *testing.T, press func()){
		"↑": func(t *testing.T, press func()) {
			active().SetSlice(4)
			press()
			if slice() != 3 {
				t.Errorf("slice %d, want 3", slice())
			}
		},
		"↓": func(t *testing.T, press func()) {
			active().SetSlice(4)
			press()
			if slice() != 5 {
				t.Errorf("slice %d, want 5", slice())
			}
		},
		"Home": func(t *testing.T, press func()) {
			press()
			if slice() != 0 {
				t.Errorf("slice %d, want 0", slice())
			}
		},
		"End": func(t *testing.T, press func()) {
			press()
			if _, n := active().Slice(); slice() != n-1 {
				t.Errorf("slice %d, want the last, %d", slice(), n-1)
			}
		},
		"PgUp": func(t *testing.T, press func()) {
			before := active().Series()
			press()
			waitLoaded(t, w)
			if i := index(r.Study().Series, active().Series()); i != (index(r.Study().Series, before)+3)%4 {
				t.Errorf("series %d after PgUp from %d", i, index(r.Study().Series, before))
			}
		},
		"PgDn": func(t *testing.T, press func()) {
			before := active().Series()
			press()
			waitLoaded(t, w)
			if i := index(r.Study().Series, active().Series()); i != (index(r.Study().Series, before)+1)%4 {
				t.Errorf("series %d after PgDn from %d", i, index(r.Study().Series, before))
			}
		},
		"←": func(t *testing.T, press func()) {
			r.Activate(0)
			press()
			if r.active != 3 {
				t.Errorf("active viewport %d, want 3 (wrapping)", r.active)
			}
		},
		"→": func(t *testing.T, press func()) {
			r.Activate(0)
			press()
			if r.active != 1 {
				t.Errorf("active viewport %d, want 1", r.active)
			}
		},
		"Space": func(t *testing.T, press func()) {
			vp := active()
			first := render.DefaultWindow(vp.Volume())
			vp.Zoom(2)
			vp.Rotate(1)
			vp.Flip(true)
			vp.Invert()
			vp.SetWindow(oddWindow)
			press()
			if vp.tr.zoom != 1 || vp.tr.rot != 0 || vp.tr.flipH || vp.invert || vp.Window() != first {
				t.Errorf("after reset: zoom %g rot %d flipH %v invert %v window %+v", vp.tr.zoom, vp.tr.rot, vp.tr.flipH, vp.invert, vp.Window())
			}
		},
		"I": func(t *testing.T, press func()) {
			before := active().invert
			press()
			if active().invert == before {
				t.Error("not inverted")
			}
		},
		"C": func(t *testing.T, press func()) {
			press()
			if !r.Cine() {
				t.Fatal("cine not running")
			}
			start := slice()
			waitFor(t, "cine to advance", func() bool { return slice() != start })
			press()
			if r.Cine() {
				t.Error("cine still running after the second press")
			}
		},
		"[": func(t *testing.T, press func()) {
			r.SetFPS(20)
			press()
			if r.CineFPS() != 15 {
				t.Errorf("fps %d, want 15", r.CineFPS())
			}
		},
		"]": func(t *testing.T, press func()) {
			r.SetFPS(20)
			press()
			if r.CineFPS() != 25 {
				t.Errorf("fps %d, want 25", r.CineFPS())
			}
		},
		"H": func(t *testing.T, press func()) {
			vp := active()
			left := vp.edges[0].text()
			press()
			if !vp.tr.flipH || vp.edges[0].text() == left {
				t.Errorf("flipH %v, left edge %q (was %q)", vp.tr.flipH, vp.edges[0].text(), left)
			}
			press()
		},
		"V": func(t *testing.T, press func()) {
			vp := active()
			top := vp.edges[2].text()
			press()
			if !vp.tr.flipV || vp.edges[2].text() == top {
				t.Errorf("flipV %v, top edge %q (was %q)", vp.tr.flipV, vp.edges[2].text(), top)
			}
			press()
		},
		"R": func(t *testing.T, press func()) {
			vp := active()
			vp.Reset()
			press()
			// A clockwise quarter turn brings the left edge (R) to the top.
			if vp.tr.rot != 1 || vp.edges[2].text() != "R" {
				t.Errorf("rot %d, top edge %q, want 1 and R", vp.tr.rot, vp.edges[2].text())
			}
		},
		"L": func(t *testing.T, press func()) {
			vp := active()
			vp.Reset()
			press()
			if vp.tr.rot != 3 || vp.edges[2].text() != "L" {
				t.Errorf("rot %d, top edge %q, want 3 and L", vp.tr.rot, vp.edges[2].text())
			}
			vp.Reset()
		},
		"+": func(t *testing.T, press func()) {
			active().Fit()
			press()
			if z := active().tr.zoom; z != 1.25 {
				t.Errorf("zoom %g, want 1.25", z)
			}
		},
		"-": func(t *testing.T, press func()) {
			active().Fit()
			press()
			if z := active().tr.zoom; z != 0.8 {
				t.Errorf("zoom %g, want 0.8", z)
			}
		},
		"=": func(t *testing.T, press func()) {
			active().Zoom(3)
			active().tr.panX = 40
			press()
			if vp := active(); vp.tr.zoom != 1 || vp.tr.panX != 0 {
				t.Errorf("zoom %g pan %g, want 1 and 0", vp.tr.zoom, vp.tr.panX)
			}
		},
		"W": toolKey(ToolWindowLevel),
		"P": toolKey(ToolPan),
		"Z": toolKey(ToolZoom),
		"M": toolKey(ToolLength),
		"E": toolKey(ToolEllipse),
		"B": toolKey(ToolRectangle),
		"X": toolKey(ToolProbe),
		"T": toolKey(ToolCrosshair),
		"S": func(t *testing.T, press func()) {
			before := r.Sync
			press()
			if r.Sync == before {
				t.Error("sync not toggled")
			}
			press()
		},
		"O": func(t *testing.T, press func()) {
			before := r.Overlay.Visible
			press()
			if r.Overlay.Visible == before || w.Overlay.Visible.Checked == before {
				t.Errorf("overlay visible %v (panel %v), was %v", r.Overlay.Visible, w.Overlay.Visible.Checked, before)
			}
			if f := active().frame(); (f.overlay != nil) == before {
				t.Error("the viewport's next frame does not follow the overlay setting")
			}
			press()
		},
		"A": func(t *testing.T, press func()) {
			vp := active()
			vp.SetWindow(oddWindow)
			press()
			if vp.Window() != vp.Volume().AutoWindow() {
				t.Errorf("window %+v, want auto %+v", vp.Window(), vp.Volume().AutoWindow())
			}
		},
		"1–5": func(t *testing.T, press func()) {
			vp := active()
			presets := w.presets(vp)
			for i, k := range []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3} {
				vp.SetWindow(oddWindow)
				w.TypedKey(&fyne.KeyEvent{Name: k})
				if i < len(presets) && vp.Window() != presets[i] {
					t.Errorf("key %s: window %+v, want preset %+v", k, vp.Window(), presets[i])
				}
			}
		},
		"F2": func(t *testing.T, press func()) {
			r.Activate(1)
			shown := active().Series()
			press()
			if !r.Maximised() || len(r.Visible()) != 1 || r.Visible()[0] != active() || active().Series() != shown {
				t.Fatalf("after F2: maximised %v, %d viewports, showing %v (was %v)", r.Maximised(), len(r.Visible()), active().Series(), shown)
			}
			press()
			if r.Maximised() || r.Layout() != Layout2x2 || len(r.Visible()) != 4 || r.active != 1 {
				t.Errorf("after F2 again: maximised %v, layout %s, %d viewports, active %d", r.Maximised(), r.Layout(), len(r.Visible()), r.active)
			}
		},
		"F6": func(t *testing.T, press func()) {
			press()
			waitLoaded(t, w)
			if r.Prior() != prior || r.Layout() != LayoutPrior || r.Viewport(1).Study() != prior || w.layouts.Selected != LayoutPrior.String() {
				t.Errorf("after F6: prior %v, layout %s, right viewport's study %v", r.Prior(), r.Layout(), r.Viewport(1).Study())
			}
			w.SetLayout(Layout2x2)
			waitLoaded(t, w)
		},
		"F7": func(t *testing.T, press func()) {
			w.KeyImages.Dir = t.TempDir()
			press()
			waitFor(t, "the screenshot", func() bool { m, _ := filepath.Glob(filepath.Join(w.KeyImages.Dir, "*.png")); return len(m) == 1 })
		},
		"F8": func(t *testing.T, press func()) {
			press()
			if w.prefsPop == nil || w.prefsPop.Hidden {
				t.Fatal("preferences not shown")
			}
			w.escape()
			if !w.prefsPop.Hidden {
				t.Error("Esc left the preferences open")
			}
		},
		"K": func(t *testing.T, press func()) {
			n := len(w.KeyImages.Keys())
			press()
			if k := w.KeyImages.Keys(); len(k) != n+1 || k[n].Image == nil || !strings.Contains(k[n].Caption, "TEST, SMALL") {
				t.Errorf("key images %d (was %d)", len(k), n)
			}
		},
		"G": func(t *testing.T, press func()) {
			press()
			if !strings.Contains(w.message.Text, "not read from DICOM") {
				t.Errorf("tag browser on an in-memory series: %q", w.message.Text)
			}
		},
		"J": func(t *testing.T, press func()) {
			before := r.LinkWindows
			press()
			if r.LinkWindows == before {
				t.Error("window link not toggled")
			}
			press()
		},
		"D":  toolKey(ToolBidirectional),
		"N":  toolKey(ToolAngle),
		"F3": layoutKey(Layout1x2),
		"F4": layoutKey(Layout2x2),
		"F5": layoutKey(LayoutMPR),
		"Del": func(t *testing.T, press func()) {
			vp := active()
			vp.Measure(ToolLength, measure.Point{X: 1, Y: 1}, measure.Point{X: 5, Y: 1})
			press()
			if n := len(vp.Measurements()); n != 0 {
				t.Errorf("%d measurements left on the image", n)
			}
		},
		"F1 or ?": func(t *testing.T, press func()) {
			press()
			if !w.HelpShown() {
				t.Fatal("help not shown")
			}
			w.ToggleHelp()
		},
		"Q": toolKey(ToolBrush),
		"U": toolKey(ToolEraser),
		"F": toolKey(ToolFill),
		"Ctrl+Z": func(t *testing.T, press func()) {
			before := slices.Clone(editedMap(t, w).Data)
			dabCentre(t, w)
			press()
			if !slices.Equal(w.Edit.Editor().Map().Data, before) {
				t.Error("Ctrl+Z did not undo the dab")
			}
		},
		"Ctrl+Y": func(t *testing.T, press func()) {
			dabCentre(t, w)
			after := slices.Clone(w.Edit.Editor().Map().Data)
			w.Edit.Undo()
			press()
			if !slices.Equal(w.Edit.Editor().Map().Data, after) {
				t.Error("Ctrl+Y did not redo the dab")
			}
		},
		"Esc": func(t *testing.T, press func()) {
			w.ToggleHelp()
			r.ToggleCine()
			w.SetTool(ToolLength)
			press()
			if w.HelpShown() || r.Cine() || r.Tool != ToolWindowLevel {
				t.Errorf("after Esc: help %v, cine %v, tool %s", w.HelpShown(), r.Cine(), r.Tool)
			}
		},
	}
	help := helpText()
	for _, h := range Hotkeys() {
		check, ok := checks[h.Label]
		if !ok {
			t.Errorf("hotkey %q (%s) has no check in this test", h.Label, h.Does)
			continue
		}
		if !strings.Contains(help, h.Does) {
			t.Errorf("the help overlay does not list %q", h.Does)
		}
		// Each key and character of the entry must act.
		var presses []func()
		for _, k := range h.Keys {
			presses = append(presses, func() { w.TypedKey(&fyne.KeyEvent{Name: k}) })
		}
		for _, c := range h.Runes {
			presses = append(presses, func() { w.TypedRune(c) })
		}
		if h.Modifier != 0 {
			// What Fyne's GLFW driver sends (internal/driver/glfw/window.go, triggersShortcut): Ctrl+Z and
			// Ctrl+Y as the standard undo and redo shortcuts, other combinations as custom ones.
			var sc fyne.Shortcut = &desktop.CustomShortcut{KeyName: h.Shortcut, Modifier: h.Modifier}
			if h.Modifier == fyne.KeyModifierShortcutDefault && h.Shortcut == fyne.KeyZ {
				sc = &fyne.ShortcutUndo{}
			} else if h.Modifier == fyne.KeyModifierShortcutDefault && h.Shortcut == fyne.KeyY {
				sc = &fyne.ShortcutRedo{}
			}
			presses = append(presses, func() { w.canvas.(fyne.Shortcutable).TypedShortcut(sc) })
		}
		if h.Label == "1–5" {
			presses = presses[:1] // the check presses the digits itself
		}
		for n, press := range presses {
			t.Run(h.Label+"/"+string(rune('a'+n)), func(t *testing.T) { check(t, press) })
		}
	}
}

// oddWindow is a window no preset has.
var oddWindow = viewer.Window{Center: 12345, Width: 7}

func index[T comparable](s []T, x T) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}
