package ui

import (
	"fyne.io/fyne/v2"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
)

// Painter edits the label map drawn over the viewports: the editing tools hand it their strokes in image
// coordinates of the viewport's plane and slice. All its methods run on the UI goroutine.
type Painter interface {
	// Stroke paints (ToolBrush) or erases (ToolEraser) the segment a–b of a drag on v; the first segment of a
	// drag begins a stroke, which EndStroke ends (undone as one step).
	Stroke(v *Viewport, tool Tool, a, b measure.Point)
	EndStroke()
	// Fill fills the region of one label value under p on v's slice.
	Fill(v *Viewport, p measure.Point)
	// Shown returns what the render worker may read for label map m: a copy when m is being edited.
	Shown(m *viewer.LabelMap) *viewer.LabelMap
}

// painter returns the viewport's painter, or nil.
func (v *Viewport) painter() Painter {
	if v.Painter == nil {
		return nil
	}
	return *v.Painter
}

// paintDrag hands a drag of the brush or eraser to the painter, segment by segment.
func (v *Viewport) paintDrag(tool Tool, e *fyne.DragEvent) {
	p := v.painter()
	if p == nil || tool == ToolFill {
		return
	}
	to, from := v.ViewToImage(e.Position), v.paintAt
	if !v.painting {
		from = v.ViewToImage(e.Position.Subtract(e.Dragged))
	}
	v.painting, v.paintAt = true, to
	p.Stroke(v, tool, from, to)
}

// paintTap is a click of an editing tool: one dab of the brush or eraser, or a fill.
func (v *Viewport) paintTap(tool Tool, at measure.Point) {
	p := v.painter()
	if p == nil {
		return
	}
	if tool == ToolFill {
		p.Fill(v, at)
		return
	}
	p.Stroke(v, tool, at, at)
	p.EndStroke()
}

// Labels returns the label map the viewport draws, or nil.
func (v *Viewport) Labels() *viewer.LabelMap { return v.labels }

// labelsChanged redraws the overlay after its map was edited.
func (v *Viewport) labelsChanged() { v.changed() }
