package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/edit"
	"github.com/neuronova/neuronova/viewer/measure"
)

// EditPanel is the segmentation editor (the Edit tab): the brush, eraser and fill tools write the active
// label into the label map drawn over the viewports — a copy of it, made at the first stroke, so the map it
// came from is never changed — with undo and redo (Ctrl+Z, Ctrl+Y), volumes per label kept live in mL, and
// Save, which hands a copy of the edited map to OnSave in a worker. All methods run on the UI goroutine.
type EditPanel struct {
	// OnSave saves an edited map as a new version of the segmentation and says where it went ("saved as
	// v2 …"); it runs in a worker. Nil leaves Save disabled.
	OnSave func(ctx context.Context, s EditSave) (string, error)

	w        *Workstation
	ed       *edit.Editor
	shown    *viewer.LabelMap // a copy of ed's map at revision shownRev, which render workers read
	shownRev uint64
	label    uint8
	radius   float64
	saving   bool

	labels           *hotSelect
	size             *hotSlider
	sizeText         *widget.Label
	only, limit      *hotCheck
	undo, redo, save *hotButton
	note             *hotEntry
	volumes          *widget.Label
	status           *widget.Label
	box              fyne.CanvasObject
}

// EditSave is an edited map to save, with what the UI knows of it.
type EditSave struct {
	Study  *viewer.Study    // the exam shown
	Map    *viewer.LabelMap // a copy of the edited map; Source names what it was edited from
	Editor string           // the signed-in clinician, else the workstation's user
	Note   string           // what was changed, as the reader put it
	Banner string           // the banner of the AI result the map came from, if any
}

// defaultBrushMM is the brush radius the panel starts with.
const defaultBrushMM = 5

func newEditPanel(w *Workstation) *EditPanel {
	p := &EditPanel{w: w, label: viewer.LabelNCR, radius: defaultBrushMM}
	p.labels = newSelect(nil, func(string) { p.label = p.selectedLabel() })
	p.size = newSlider(1, 30)
	p.size.Step = 0.5
	p.size.SetValue(defaultBrushMM)
	p.sizeText = widget.NewLabel("")
	p.size.OnChanged = func(v float64) { p.radius = v; p.sizeText.SetText(fmt.Sprintf("Brush radius %.1f mm", v)) }
	p.size.OnChanged(defaultBrushMM)
	p.only = newCheck("Erase only the active label", nil)
	p.limit = newCheck("Limit to window levels", nil)
	p.undo = newButton("Undo", "Undo the last stroke (Ctrl+Z)", p.Undo)
	p.redo = newButton("Redo", "Redo the stroke undone (Ctrl+Y)", p.Redo)
	p.note = newEntry()
	p.note.SetPlaceHolder("What was changed")
	p.save = newButton("Save version", "Keep the edited map as a new version; the one it came from stays", p.Save)
	p.volumes = widget.NewLabel("")
	p.volumes.Wrapping = fyne.TextWrapWord
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	tools := container.NewHBox(
		newButton("Brush", "Paint the active label (Q)", func() { w.SetTool(ToolBrush) }),
		newButton("Eraser", "Erase labels (U)", func() { w.SetTool(ToolEraser) }),
		newButton("Fill", "Fill a region of the slice (F)", func() { w.SetTool(ToolFill) }))
	p.box = container.NewVBox(tools, widget.NewLabel("Active label"), p.labels, p.sizeText, p.size, p.only, p.limit,
		container.NewHBox(p.undo, p.redo), p.volumes, p.note, p.save, p.status)
	p.setLabelChoices(nil)
	p.update()
	return p
}

// Content is the panel.
func (p *EditPanel) Content() fyne.CanvasObject { return p.box }

// Editor returns the editor of the map being edited, or nil before the first stroke.
func (p *EditPanel) Editor() *edit.Editor { return p.ed }

// Status returns the panel's last message.
func (p *EditPanel) Status() string { return p.status.Text }

// setLabelChoices offers m's labels (the tumour labels without a map) and keeps the active one if it can.
func (p *EditPanel) setLabelChoices(m *viewer.LabelMap) {
	ls := viewer.TumourLabels
	if m != nil && len(m.Labels) > 0 {
		ls = m.Labels
	}
	var names []string
	keep := ""
	for _, l := range ls {
		names = append(names, l.Name)
		if l.Value == p.label {
			keep = l.Name
		}
	}
	p.labels.Options = names
	if keep == "" && len(names) > 0 {
		keep = names[0]
	}
	p.labels.SetSelected(keep)
}

// selectedLabel is the value of the label chosen.
func (p *EditPanel) selectedLabel() uint8 {
	ls := viewer.TumourLabels
	if p.ed != nil {
		ls = p.ed.Map().Labels
	}
	for _, l := range ls {
		if l.Name == p.labels.Selected {
			return l.Value
		}
	}
	return p.label
}

// editorFor returns the editor of the map drawn over v: a copy of the reading area's map, drawn in its
// place, or a new empty map on v's grid when there is none.
func (p *EditPanel) editorFor(v *Viewport) (*edit.Editor, error) {
	r := p.w.Reading
	m, banner := r.Labels()
	if p.ed != nil && m == p.ed.Map() {
		return p.ed, nil
	}
	if v.Volume() == nil {
		return nil, fmt.Errorf("no image to edit on")
	}
	var work *viewer.LabelMap
	if m == nil {
		work = viewer.NewLabelMap(v.Volume().Geometry)
		work.Source = "new segmentation"
	} else {
		c := *m
		c.Data = append([]uint8(nil), m.Data...)
		c.Labels = append([]viewer.Label(nil), m.Labels...)
		work = &c
	}
	if v.Labels() == nil && m != nil {
		return nil, fmt.Errorf("the label map is not on this series' grid")
	}
	ed, err := edit.New(work, nil)
	if err != nil {
		return nil, err
	}
	if p.ed != nil && p.ed.Dirty() {
		p.status.SetText("Another map was shown: the unsaved edits of the previous one were left; editing this one")
	}
	p.ed, p.shown = ed, nil
	r.SetLabels(work, banner)
	p.setLabelChoices(work)
	return ed, nil
}

// paint is what tool writes with the panel's settings, on v's image.
func (p *EditPanel) paint(tool Tool, v *Viewport) (edit.Paint, error) {
	pt := edit.Paint{Label: p.label, Erase: tool == ToolEraser, OnlyActive: tool == ToolEraser && p.only.Checked}
	if p.limit.Checked {
		if err := p.ed.SetImage(v.Volume()); err != nil {
			return pt, err
		}
		w := v.Window()
		pt.Intensity = &edit.Range{Lo: float32(w.Center - w.Width/2), Hi: float32(w.Center + w.Width/2)}
	}
	return pt, nil
}

// Stroke paints or erases a segment of a drag on v.
func (p *EditPanel) Stroke(v *Viewport, tool Tool, a, b measure.Point) {
	ed, err := p.editorFor(v)
	if err == nil {
		_ = ed.Begin(tool.String()) // ErrStrokeOpen: the drag's stroke is already open
		var pt edit.Paint
		if pt, err = p.paint(tool, v); err == nil {
			pl, _ := v.Plane()
			s, _ := v.Slice()
			_, err = ed.Brush(pl.Orientation(), s, edit.Point{X: a.X, Y: a.Y}, edit.Point{X: b.X, Y: b.Y}, p.radius, pt)
		}
	}
	p.after(err)
}

// EndStroke ends the drag's stroke: one step to undo.
func (p *EditPanel) EndStroke() {
	if p.ed != nil {
		_, _ = p.ed.End() // ErrNoStroke: the stroke never began (an error was shown)
	}
	p.after(nil)
}

// Fill fills the region under at on v's slice.
func (p *EditPanel) Fill(v *Viewport, at measure.Point) {
	ed, err := p.editorFor(v)
	if err == nil {
		var pt edit.Paint
		if pt, err = p.paint(ToolFill, v); err == nil {
			pl, _ := v.Plane()
			s, _ := v.Slice()
			_, err = ed.Fill(pl.Orientation(), s, edit.Point{X: at.X, Y: at.Y}, pt)
		}
	}
	p.after(err)
}

// Shown gives the render workers a copy of the map being edited, made once per revision.
func (p *EditPanel) Shown(m *viewer.LabelMap) *viewer.LabelMap {
	if p.ed == nil || m != p.ed.Map() {
		return m
	}
	if p.shown == nil || p.shownRev != p.ed.Revision() {
		p.shown, p.shownRev = p.ed.Snapshot(), p.ed.Revision()
	}
	return p.shown
}

// Undo reverts the last stroke.
func (p *EditPanel) Undo() {
	if p.ed == nil {
		return
	}
	name, err := p.ed.Undo()
	if err == nil {
		p.status.SetText("Undid " + strings.ToLower(name))
	}
	p.after(err)
}

// Redo reapplies the stroke undone last.
func (p *EditPanel) Redo() {
	if p.ed == nil {
		return
	}
	name, err := p.ed.Redo()
	if err == nil {
		p.status.SetText("Redid " + strings.ToLower(name))
	}
	p.after(err)
}

// after redraws the viewports that show the edited map and the panel; err, if any, is shown.
func (p *EditPanel) after(err error) {
	if err != nil {
		p.status.SetText(err.Error())
	}
	if p.ed != nil {
		for _, vp := range p.w.Reading.ports {
			if vp.Labels() == p.ed.Map() {
				vp.labelsChanged()
			}
		}
	}
	p.update()
}

// update shows the volumes and enables the buttons that can act.
func (p *EditPanel) update() {
	enable := func(b *hotButton, on bool) {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	if p.ed == nil {
		p.volumes.SetText("Volumes: paint to start editing")
		enable(p.undo, false)
		enable(p.redo, false)
		enable(p.save, false)
		return
	}
	var sb strings.Builder
	for _, lv := range p.ed.Volumes() {
		fmt.Fprintf(&sb, "%s: %.2f mL (%d voxels)\n", lv.Name, lv.ML, lv.Voxels)
	}
	if p.ed.Dirty() {
		sb.WriteString("Not saved")
	} else {
		sb.WriteString("Saved")
	}
	p.volumes.SetText(sb.String())
	_, u := p.ed.CanUndo()
	_, r := p.ed.CanRedo()
	enable(p.undo, u)
	enable(p.redo, r)
	enable(p.save, p.OnSave != nil && !p.saving && p.ed.Dirty())
}

// Save hands a copy of the edited map to OnSave in a worker.
func (p *EditPanel) Save() {
	if p.ed == nil || p.OnSave == nil || p.saving {
		return
	}
	_, banner := p.w.Reading.Labels()
	ed, rev, save := p.ed, p.ed.Revision(), p.OnSave
	req := EditSave{Study: p.w.Reading.Study(), Map: ed.Snapshot(), Editor: p.w.user(), Note: p.note.Text, Banner: banner}
	p.saving = true
	p.status.SetText("Saving…")
	p.update()
	go func() {
		msg, err := save(context.Background(), req)
		do(func() {
			p.saving = false
			if err != nil {
				p.status.SetText("Not saved: " + err.Error())
			} else {
				if ed.Revision() == rev {
					ed.MarkSaved()
				}
				p.note.SetText("")
				p.status.SetText(msg)
			}
			p.update()
		})
	}()
}
