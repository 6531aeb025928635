package ui

import (
	"fyne.io/fyne/v2"
)

// Tool is what the primary mouse button does in a viewport. The secondary button always zooms and the
// middle button always pans, as in OHIF and Weasis; the wheel always scrolls the stack.
type Tool int

const (
	ToolWindowLevel Tool = iota
	ToolPan
	ToolZoom
	ToolLength
	ToolEllipse
	ToolRectangle
	ToolProbe
	ToolCrosshair
	ToolBidirectional // RANO: the longest diameter and the longest perpendicular to it
	ToolAngle
	ToolBrush  // paints the active label (the Edit tab: label, size in mm, intensity limit)
	ToolEraser // clears labels (all, or only the active one)
	ToolFill   // click: fills the region of one label value around the point, on the slice
)

var toolNames = [...]string{
	ToolWindowLevel:   "Window/level",
	ToolPan:           "Pan",
	ToolZoom:          "Zoom",
	ToolLength:        "Length",
	ToolEllipse:       "Ellipse ROI",
	ToolRectangle:     "Rectangle ROI",
	ToolProbe:         "Probe",
	ToolCrosshair:     "Crosshair",
	ToolBidirectional: "RANO bidimensional",
	ToolAngle:         "Angle",
	ToolBrush:         "Brush (segmentation)",
	ToolEraser:        "Eraser (segmentation)",
	ToolFill:          "Fill (segmentation)",
}

func (t Tool) String() string { return toolNames[t] }

// Tools lists the tools in toolbar order.
var Tools = []Tool{ToolWindowLevel, ToolPan, ToolZoom, ToolLength, ToolBidirectional, ToolAngle, ToolEllipse, ToolRectangle, ToolProbe, ToolCrosshair, ToolBrush, ToolEraser, ToolFill}

// paints reports whether t edits the label map.
func (t Tool) paints() bool { return t == ToolBrush || t == ToolEraser || t == ToolFill }

// OverlaySettings says how label maps are drawn; a reading area's viewports share one.
type OverlaySettings struct {
	Visible bool
	Opacity float64
	Hidden  [256]bool // label values not drawn
	Outline bool
}

// Hotkey is one keyboard binding: named keys (letters, arrows, function keys) by key name, punctuation by
// the character typed, so that layouts where "+" needs Shift work and no key acts twice. The help overlay lists the same table that dispatches the keys, so the
// list cannot drift from what the keys do.
type Hotkey struct {
	Keys  []fyne.KeyName // any of these keys
	Runes []rune         // or any of these typed characters
	Label string         // how the keys are written in the help overlay
	Does  string
	// Shortcut with Modifier is a key pressed with a modifier (Ctrl+Z): a shortcut of the window's canvas,
	// which the workstation registers, rather than a plain key.
	Shortcut fyne.KeyName
	Modifier fyne.KeyModifier
	do       func(w *Workstation, k fyne.KeyName)
}

// hotkeys are the workstation's keys, following OHIF's defaults where OHIF has one. They are set in init:
// their actions refer to the help overlay, which lists them.
var hotkeys []Hotkey

func init() {
	hotkeys = []Hotkey{
		{Keys: keys(fyne.KeyUp), Label: "↑", Does: "previous image", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Scroll(-1) }},
		{Keys: keys(fyne.KeyDown), Label: "↓", Does: "next image", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Scroll(1) }},
		{Keys: keys(fyne.KeyHome), Label: "Home", Does: "first image", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().SetSlice(0) }},
		{Keys: keys(fyne.KeyEnd), Label: "End", Does: "last image", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().SetSlice(1 << 30) }},
		{Keys: keys(fyne.KeyPageUp), Label: "PgUp", Does: "previous series in the viewport", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.NextSeries(-1) }},
		{Keys: keys(fyne.KeyPageDown), Label: "PgDn", Does: "next series in the viewport", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.NextSeries(1) }},
		{Keys: keys(fyne.KeyLeft), Label: "←", Does: "previous viewport", do: func(w *Workstation, _ fyne.KeyName) { w.cycleViewport(-1) }},
		{Keys: keys(fyne.KeyRight), Label: "→", Does: "next viewport", do: func(w *Workstation, _ fyne.KeyName) { w.cycleViewport(1) }},
		{Keys: keys(fyne.KeySpace), Label: "Space", Does: "reset the viewport (zoom, pan, window, rotation, flips, invert)", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Reset() }},
		{Keys: keys(fyne.KeyI), Label: "I", Does: "invert", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Invert() }},
		{Keys: keys(fyne.KeyC), Label: "C", Does: "start/stop cine", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.ToggleCine(); w.refreshStatus() }},
		{Runes: []rune{'['}, Label: "[", Does: "cine slower", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.SetFPS(w.Reading.CineFPS() - 5); w.refreshStatus() }},
		{Runes: []rune{']'}, Label: "]", Does: "cine faster", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.SetFPS(w.Reading.CineFPS() + 5); w.refreshStatus() }},
		{Keys: keys(fyne.KeyH), Label: "H", Does: "flip horizontally", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Flip(true) }},
		{Keys: keys(fyne.KeyV), Label: "V", Does: "flip vertically", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Flip(false) }},
		{Keys: keys(fyne.KeyR), Label: "R", Does: "rotate 90° clockwise", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Rotate(1) }},
		{Keys: keys(fyne.KeyL), Label: "L", Does: "rotate 90° anticlockwise", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Rotate(-1) }},
		{Runes: []rune{'+'}, Label: "+", Does: "zoom in", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Zoom(1.25) }},
		{Runes: []rune{'-'}, Label: "-", Does: "zoom out", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Zoom(0.8) }},
		{Runes: []rune{'='}, Label: "=", Does: "zoom to fit", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().Fit() }},
		{Keys: keys(fyne.KeyW), Label: "W", Does: "tool: window/level (drag: right = wider window, down = higher level)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolWindowLevel) }},
		{Keys: keys(fyne.KeyP), Label: "P", Does: "tool: pan", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolPan) }},
		{Keys: keys(fyne.KeyZ), Label: "Z", Does: "tool: zoom (drag up = in)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolZoom) }},
		{Keys: keys(fyne.KeyM), Label: "M", Does: "tool: length measurement (mm)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolLength) }},
		{Keys: keys(fyne.KeyD), Label: "D", Does: "tool: RANO bidimensional (drag the longest diameter; drag a handle of the perpendicular)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolBidirectional) }},
		{Keys: keys(fyne.KeyN), Label: "N", Does: "tool: angle (drag from the vertex; drag the third handle)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolAngle) }},
		{Keys: keys(fyne.KeyE), Label: "E", Does: "tool: ellipse ROI (mean, SD, min, max, area)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolEllipse) }},
		{Keys: keys(fyne.KeyB), Label: "B", Does: "tool: rectangle ROI", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolRectangle) }},
		{Keys: keys(fyne.KeyX), Label: "X", Does: "tool: probe (click: pin the voxel value)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolProbe) }},
		{Keys: keys(fyne.KeyT), Label: "T", Does: "tool: crosshair (click: all planes go there)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolCrosshair) }},
		{Keys: keys(fyne.KeyQ), Label: "Q", Does: "tool: segmentation brush (the Edit tab sets label and size)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolBrush) }},
		{Keys: keys(fyne.KeyU), Label: "U", Does: "tool: segmentation eraser", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolEraser) }},
		{Keys: keys(fyne.KeyF), Label: "F", Does: "tool: segmentation fill (click a region of the slice)", do: func(w *Workstation, _ fyne.KeyName) { w.SetTool(ToolFill) }},
		{Shortcut: fyne.KeyZ, Modifier: fyne.KeyModifierShortcutDefault, Label: "Ctrl+Z", Does: "undo the last segmentation stroke",
			do: func(w *Workstation, _ fyne.KeyName) { w.Edit.Undo() }},
		{Shortcut: fyne.KeyY, Modifier: fyne.KeyModifierShortcutDefault, Label: "Ctrl+Y", Does: "redo the segmentation stroke undone",
			do: func(w *Workstation, _ fyne.KeyName) { w.Edit.Redo() }},
		{Keys: keys(fyne.KeyS), Label: "S", Does: "synchronised scrolling on/off", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Sync = !w.Reading.Sync; w.refreshStatus() }},
		{Keys: keys(fyne.KeyO), Label: "O", Does: "show/hide the label overlay", do: func(w *Workstation, _ fyne.KeyName) { w.setOverlayVisible(!w.Reading.Overlay.Visible) }},
		{Keys: keys(fyne.KeyJ), Label: "J", Does: "link the windows of viewports showing the same sequence on/off", do: func(w *Workstation, _ fyne.KeyName) { w.toggleLinkWindows() }},
		{Keys: keys(fyne.KeyA), Label: "A", Does: "auto window", do: func(w *Workstation, _ fyne.KeyName) { w.autoWindow() }},
		{Keys: keys(fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5), Label: "1–5", Does: "window presets: yours for the sequence, then the file's, Auto, Contrast, Wide, Full range",
			do: func(w *Workstation, k fyne.KeyName) { w.preset(int(k[0] - '1')) }},
		{Keys: keys(fyne.KeyK), Label: "K", Does: "mark the image as a key image (with its annotations)", do: func(w *Workstation, _ fyne.KeyName) { w.KeyImages.Mark() }},
		{Keys: keys(fyne.KeyG), Label: "G", Does: "DICOM header (tag browser) of the image", do: func(w *Workstation, _ fyne.KeyName) { w.ShowTags() }},
		{Keys: keys(fyne.KeyF2), Label: "F2", Does: "maximise the active viewport; again: the layout back", do: func(w *Workstation, _ fyne.KeyName) { w.maximise() }},
		{Keys: keys(fyne.KeyF3), Label: "F3", Does: "layout 1×2", do: func(w *Workstation, _ fyne.KeyName) { w.SetLayout(Layout1x2) }},
		{Keys: keys(fyne.KeyF4), Label: "F4", Does: "layout 2×2", do: func(w *Workstation, _ fyne.KeyName) { w.SetLayout(Layout2x2) }},
		{Keys: keys(fyne.KeyF5), Label: "F5", Does: "layout MPR (axial, coronal, sagittal)", do: func(w *Workstation, _ fyne.KeyName) { w.SetLayout(LayoutMPR) }},
		{Keys: keys(fyne.KeyF6), Label: "F6", Does: "beside the prior exam (the newest; the toolbar lists the others)", do: func(w *Workstation, _ fyne.KeyName) { w.SetLayout(LayoutPrior) }},
		{Keys: keys(fyne.KeyF7), Label: "F7", Does: "save the viewport as shown as PNG", do: func(w *Workstation, _ fyne.KeyName) { w.KeyImages.SaveActive() }},
		{Keys: keys(fyne.KeyF8), Label: "F8", Does: "preferences", do: func(w *Workstation, _ fyne.KeyName) { w.ShowPreferences() }},
		{Keys: keys(fyne.KeyDelete, fyne.KeyBackspace), Label: "Del", Does: "delete the measurements of this image", do: func(w *Workstation, _ fyne.KeyName) { w.Reading.Active().DeleteMeasurements() }},
		{Keys: keys(fyne.KeyF1), Runes: []rune{'?'}, Label: "F1 or ?", Does: "this help", do: func(w *Workstation, _ fyne.KeyName) { w.ToggleHelp() }},
		{Keys: keys(fyne.KeyEscape), Label: "Esc", Does: "close this help or dialog, leave a text field, stop cine, default tool", do: func(w *Workstation, _ fyne.KeyName) { w.escape() }},
	}
}

func keys(k ...fyne.KeyName) []fyne.KeyName { return k }

// Hotkeys returns the key table, for the help overlay and tests.
func Hotkeys() []Hotkey { return hotkeys }
