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
)

var toolNames = map[Tool]string{
	ToolWindowLevel: "Window/level",
	ToolPan:         "Pan",
	ToolZoom:        "Zoom",
	ToolLength:      "Length",
	ToolEllipse:     "Ellipse ROI",
	ToolRectangle:   "Rectangle ROI",
	ToolProbe:       "Probe",
	ToolCrosshair:   "Crosshair",
}

func (t Tool) String() string { return toolNames[t] }

// OverlaySettings says how label maps are drawn; the workstation shares one among its viewports.
type OverlaySettings struct {
	Visible bool
	Opacity float64
	Hidden  [256]bool // label values not drawn
	Outline bool
}

// Hotkey is one keyboard binding, listed in the help overlay from the same table that dispatches it, so
// the list cannot drift from what the keys do.
type Hotkey struct {
	Key   fyne.KeyName
	Label string // how the key is written in the help overlay
	Does  string
}

// Hotkeys are the workstation's keys, following OHIF's defaults where OHIF has one.
var Hotkeys = []Hotkey{
	{fyne.KeyUp, "↑", "previous image"},
	{fyne.KeyDown, "↓", "next image"},
	{fyne.KeyHome, "Home", "first image"},
	{fyne.KeyEnd, "End", "last image"},
	{fyne.KeyPageUp, "PgUp", "previous series in the viewport"},
	{fyne.KeyPageDown, "PgDn", "next series in the viewport"},
	{fyne.KeyLeft, "←", "previous viewport"},
	{fyne.KeyRight, "→", "next viewport"},
	{fyne.KeySpace, "Space", "reset the viewport (zoom, pan, window, rotation, flips, invert)"},
	{fyne.KeyI, "I", "invert"},
	{fyne.KeyC, "C", "start/stop cine"},
	{fyne.KeyLeftBracket, "[", "cine slower"},
	{fyne.KeyRightBracket, "]", "cine faster"},
	{fyne.KeyH, "H", "flip horizontally"},
	{fyne.KeyV, "V", "flip vertically"},
	{fyne.KeyR, "R", "rotate 90° clockwise"},
	{fyne.KeyL, "L", "rotate 90° anticlockwise"},
	{fyne.KeyPlus, "+", "zoom in"},
	{fyne.KeyMinus, "-", "zoom out"},
	{fyne.KeyEqual, "=", "zoom to fit"},
	{fyne.KeyW, "W", "tool: window/level (drag: right = wider, down = brighter level)"},
	{fyne.KeyP, "P", "tool: pan"},
	{fyne.KeyZ, "Z", "tool: zoom"},
	{fyne.KeyM, "M", "tool: length measurement (mm)"},
	{fyne.KeyE, "E", "tool: ellipse ROI"},
	{fyne.KeyB, "B", "tool: rectangle ROI"},
	{fyne.KeyX, "X", "tool: probe (voxel value under the pointer)"},
	{fyne.KeyO, "O", "show/hide the label overlay"},
	{fyne.KeyA, "A", "auto window"},
	{fyne.Key1, "1–5", "window presets of the sequence (file presets, then auto)"},
	{fyne.KeyDelete, "Del", "delete the measurements of this image"},
	{fyne.KeyF1, "F1 or ?", "this help"},
	{fyne.KeyEscape, "Esc", "close this help, stop cine, default tool"},
}
