package ui

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
)

// grip is a handle of a measurement: the index of the measurement in the viewport's list and of its point.
type grip struct{ m, point int }

var noGrip = grip{-1, -1}

// gripRadius is how near to a handle (viewport units) a press takes it.
const gripRadius = 8

// kindOf is the measurement a tool makes, "" for tools that do not measure.
func kindOf(t Tool) measure.Kind {
	switch t {
	case ToolLength:
		return measure.KindLength
	case ToolEllipse:
		return measure.KindEllipse
	case ToolRectangle:
		return measure.KindRectangle
	case ToolProbe:
		return measure.KindProbe
	case ToolBidirectional:
		return measure.KindBidirectional
	case ToolAngle:
		return measure.KindAngle
	}
	return ""
}

// Measurements returns the measurements of the series shown, on every plane and slice.
func (v *Viewport) Measurements() []measure.Measurement { return v.measures }

// SetMeasurements replaces the measurements of the series shown (those kept for it, or another viewport's
// after an edit), without telling OnMeasure.
func (v *Viewport) SetMeasurements(ms []measure.Measurement) {
	v.measures = append(v.measures[:0:0], ms...)
	v.editing, v.hover = noGrip, noGrip
	v.Refresh()
}

// onSlice reports whether m lies on the image shown.
func (v *Viewport) onSlice(m measure.Measurement) bool {
	return m.Plane == v.plane.Orientation() && m.Slice == v.slice
}

// DeleteMeasurements removes the measurements of the slice shown.
func (v *Viewport) DeleteMeasurements() {
	kept := v.measures[:0]
	var gone []measure.Measurement
	for _, m := range v.measures {
		if v.onSlice(m) {
			gone = append(gone, m)
		} else {
			kept = append(kept, m)
		}
	}
	v.measures = kept
	v.editing, v.hover = noGrip, noGrip
	v.Refresh()
	for _, m := range gone {
		v.notify(m, true)
	}
}

func (v *Viewport) notify(m measure.Measurement, removed bool) {
	if v.OnMeasure != nil {
		v.OnMeasure(m, removed)
	}
}

// newMeasurement starts a measurement of kind on the slice shown, with its identity and the image it lies on.
func (v *Viewport) newMeasurement(kind measure.Kind, pts []measure.Point) measure.Measurement {
	now := time.Now().UTC().Truncate(time.Millisecond)
	m := measure.Measurement{ID: newID(), Kind: kind, Plane: v.plane.Orientation(), Slice: v.slice, Points: pts,
		Created: now, Updated: now}
	if v.Owner != nil {
		m.User = *v.Owner
	}
	if se := v.series; se != nil {
		m.SeriesUID, m.StudyUID, m.FrameOfReferenceUID = se.UID, se.StudyUID, se.FrameOfReferenceUID
	}
	if v.study != nil && m.StudyUID == "" {
		m.StudyUID = v.study.UID
	}
	if k, ok := v.plane.SourceSlice(v.slice); ok && k < len(v.vol.Slices) {
		ref := v.vol.Slices[k]
		m.Image = &measure.ImageRef{SOPInstanceUID: ref.SOPInstanceUID, SOPClassUID: ref.SOPClassUID, Frame: ref.Frame}
	}
	return m
}

// newID is a random measurement ID.
func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// complete computes a measurement's values on the series shown.
func (v *Viewport) complete(m *measure.Measurement) {
	m.Compute(v.plane, v.vol)
}

// Measure adds a measurement made with tool between image points a and b of the slice shown, as a drag with
// that tool does, and returns it.
func (v *Viewport) Measure(tool Tool, a, b measure.Point) measure.Measurement {
	m := v.newMeasurement(kindOf(tool), v.startPoints(kindOf(tool), a, b))
	v.complete(&m)
	v.measures = append(v.measures, m)
	v.Refresh()
	v.notify(m, false)
	return m
}

// startPoints are the points of a measurement of kind that a drag from a to b draws.
func (v *Viewport) startPoints(kind measure.Kind, a, b measure.Point) []measure.Point {
	su, sv := v.plane.PixelSpacing()
	switch kind {
	case measure.KindBidirectional:
		return measure.NewBidirectional(a, b, su, sv)
	case measure.KindAngle:
		return measure.NewAngle(a, b, su, sv)
	case measure.KindProbe:
		return []measure.Point{b}
	}
	return []measure.Point{a, b}
}

// MoveHandle moves point p of measurement i to image point to, as dragging its handle does.
func (v *Viewport) MoveHandle(i, p int, to measure.Point) {
	if i < 0 || i >= len(v.measures) {
		return
	}
	m := &v.measures[i]
	su, sv := v.plane.PixelSpacing()
	measure.Move(m.Kind, m.Points, p, to, su, sv)
	m.Updated = time.Now().UTC().Truncate(time.Millisecond)
	v.complete(m)
	v.Refresh()
}

// gripAt returns the handle of a measurement on the slice shown within gripRadius of viewport point p.
func (v *Viewport) gripAt(p fyne.Position) grip {
	best, bestD := noGrip, float32(gripRadius)
	for i, m := range v.measures {
		if !v.onSlice(m) {
			continue
		}
		for k, pt := range m.Points {
			q := v.ImageToView(pt.X, pt.Y)
			if d := float32(math.Hypot(float64(q.X-p.X), float64(q.Y-p.Y))); d <= bestD {
				best, bestD = grip{i, k}, d
			}
		}
	}
	return best
}

// Tapped activates the viewport; with the probe or crosshair tool it also acts at the point.
func (v *Viewport) Tapped(e *fyne.PointEvent) {
	v.activate()
	if v.vol == nil {
		return
	}
	switch *v.Tool {
	case ToolProbe:
		if v.ProbeAt(e.Position) != "" {
			a := v.ViewToImage(e.Position)
			v.Measure(ToolProbe, a, a)
		}
	case ToolCrosshair:
		v.crosshairAt(e.Position)
	case ToolBrush, ToolEraser, ToolFill:
		v.paintTap(*v.Tool, v.ViewToImage(e.Position))
	}
}

func (v *Viewport) activate() {
	if v.OnActivate != nil {
		v.OnActivate()
	}
}

// MouseDown remembers the button, for drags.
func (v *Viewport) MouseDown(e *desktop.MouseEvent) {
	v.button, v.lastPos = e.Button, e.Position
	v.activate()
}

// MouseUp forgets the button.
func (v *Viewport) MouseUp(*desktop.MouseEvent) { v.button = 0 }

// Dragged acts with the tool of the button held: the middle button pans, the left one moves the handle it
// took or uses the tool.
func (v *Viewport) Dragged(e *fyne.DragEvent) {
	if v.vol == nil {
		return
	}
	tool := *v.Tool
	if v.button&desktop.MouseButtonTertiary != 0 {
		tool = ToolPan
	}
	if tool.paints() {
		v.paintDrag(tool, e)
		return
	}
	if v.drawing == nil && v.editing == noGrip && tool != ToolPan && tool != ToolCrosshair {
		// A drag that starts on a handle edits its measurement, whatever the tool.
		v.editing = v.gripAt(e.Position.Subtract(e.Dragged))
	}
	if g := v.editing; g != noGrip {
		v.MoveHandle(g.m, g.point, v.ViewToImage(e.Position))
		return
	}
	switch tool {
	case ToolWindowLevel:
		if v.dragW.Width == 0 {
			v.dragW = v.window
		}
		step := v.dragW.Width / 256
		w := v.window
		w.Width += float64(e.Dragged.DX) * step
		w.Center += float64(e.Dragged.DY) * step
		w.Name = ""
		v.SetWindow(w)
	case ToolPan:
		v.tr.panX += float64(e.Dragged.DX)
		v.tr.panY += float64(e.Dragged.DY)
		v.changed()
	case ToolZoom:
		v.Zoom(math.Exp(-float64(e.Dragged.DY) / 150))
	case ToolLength, ToolEllipse, ToolRectangle, ToolBidirectional, ToolAngle:
		if v.drawing == nil {
			m := v.newMeasurement(kindOf(tool), nil)
			v.drawing, v.dragFrom = &m, v.ViewToImage(e.Position.Subtract(e.Dragged))
		}
		v.drawing.Points = v.startPoints(v.drawing.Kind, v.dragFrom, v.ViewToImage(e.Position))
		v.complete(v.drawing)
		v.Refresh()
	case ToolProbe:
		v.probe = v.ProbeAt(e.Position)
		v.status()
	case ToolCrosshair:
		v.crosshairAt(e.Position)
	}
}

// DragEnd finishes a window drag, a handle's move, a measurement or a paint stroke.
func (v *Viewport) DragEnd() {
	v.dragW = viewer.Window{}
	if v.painting {
		v.painting = false
		if p := v.painter(); p != nil {
			p.EndStroke()
		}
		return
	}
	if g := v.editing; g != noGrip {
		v.editing = noGrip
		if g.m < len(v.measures) {
			v.notify(v.measures[g.m], false)
		}
		v.Refresh()
		return
	}
	if m := v.drawing; m != nil {
		v.drawing = nil
		if m.Points[0] != m.Points[len(m.Points)-1] {
			v.measures = append(v.measures, *m)
			v.notify(*m, false)
		}
		v.Refresh()
	}
}

func (v *Viewport) crosshairAt(p fyne.Position) {
	a := v.ViewToImage(p)
	pos := v.plane.Patient(float64(v.slice), a.X, a.Y)
	if v.OnCrosshair != nil {
		v.OnCrosshair(pos)
	} else {
		v.SetCrosshair(&pos)
	}
}

// MouseIn starts probing.
func (v *Viewport) MouseIn(e *desktop.MouseEvent) { v.MouseMoved(e) }

// MouseMoved reports the voxel under the pointer and marks the handle under it; with the right button held
// it zooms.
func (v *Viewport) MouseMoved(e *desktop.MouseEvent) {
	if e.Button&desktop.MouseButtonSecondary != 0 && v.vol != nil {
		v.Zoom(math.Exp(-float64(e.Position.Y-v.lastPos.Y) / 150))
	}
	v.lastPos = e.Position
	probe := v.ProbeAt(e.Position)
	if probe != v.probe {
		v.probe = probe
		v.status()
	}
	if h := v.gripAt(e.Position); h != v.hover {
		v.hover = h
		v.Refresh()
	}
}

// MouseOut stops probing.
func (v *Viewport) MouseOut() {
	v.probe = ""
	v.status()
	if v.hover != noGrip {
		v.hover = noGrip
		v.Refresh()
	}
}

// ProbeAt describes the voxel under viewport point p: its value and patient position (LPS, mm), or "" when
// p is outside the image.
func (v *Viewport) ProbeAt(p fyne.Position) string {
	if v.vol == nil {
		return ""
	}
	a := v.ViewToImage(p)
	pk, err := v.plane.Pick(v.vol, v.slice, a.X, a.Y)
	if err != nil {
		return ""
	}
	value := fmt.Sprintf("%g", pk.Value[0])
	if v.vol.Samples == 3 {
		value = fmt.Sprintf("%g,%g,%g", pk.Value[0], pk.Value[1], pk.Value[2])
	}
	return fmt.Sprintf("value %s at (%.1f, %.1f, %.1f) mm", value, pk.Patient[0], pk.Patient[1], pk.Patient[2])
}
