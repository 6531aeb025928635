package ui

import (
	"fmt"
	"image/color"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/inference/dicomseg"
	"github.com/neuronova/neuronova/viewer"
)

// OverlayPanel sets how the study's label map is drawn: shown or hidden, per-label visibility, opacity,
// outline only.
type OverlayPanel struct {
	Visible *hotCheck
	Opacity *hotSlider
	Outline *hotCheck
	Labels  map[uint8]*hotCheck
	// SEGs are the DICOM SEGs found with the study, each with a button that shows it (OnSEG).
	SEGs       []SEGChoice
	SEGButtons []*hotButton
	OnSEG      func(SEGChoice)
	box        *fyne.Container
	r          *Reading
	m          *viewer.LabelMap // the map listed
}

// SEGChoice is a DICOM SEG found with the study, as the panel offers it: its file, its segments' labels, and
// the parsed SEG (nil with Err when it cannot be read).
type SEGChoice struct {
	File     viewer.SEGFile
	Segments []string
	Seg      *dicomseg.Seg
	Err      error
}

// NewOverlayPanel makes the panel for r's overlay settings.
func NewOverlayPanel(r *Reading) *OverlayPanel {
	p := &OverlayPanel{r: r, box: container.NewVBox(), Labels: map[uint8]*hotCheck{}}
	p.Visible = newCheck("Label overlay", func(on bool) {
		r.Overlay.Visible = on
		r.Refresh()
	})
	p.Opacity = newSlider(0, 1)
	p.Opacity.Step = 0.05
	p.Opacity.OnChanged = func(v float64) {
		r.Overlay.Opacity = v
		r.Refresh()
	}
	p.Outline = newCheck("Outline only", func(on bool) {
		r.Overlay.Outline = on
		r.Refresh()
	})
	p.Sync()
	return p
}

// Content is the panel's canvas object.
func (p *OverlayPanel) Content() fyne.CanvasObject { return p.box }

// SetLabels lists the labels of the study's label map (nil: none).
func (p *OverlayPanel) SetLabels(m *viewer.LabelMap) {
	p.m = m
	p.Labels = map[uint8]*hotCheck{}
	objs := []fyne.CanvasObject{p.Visible}
	if m == nil {
		p.Visible.Disable()
		objs = append(objs, widget.NewLabel("This study has no label map."))
	} else {
		p.Visible.Enable()
		src := widget.NewLabel("Source: " + m.Source)
		src.Wrapping = fyne.TextWrapWord
		objs = append(objs, src)
		for _, l := range m.Labels {
			value := l.Value
			c := newCheck(l.Name, func(on bool) {
				p.r.Overlay.Hidden[value] = !on
				p.r.Refresh()
			})
			c.SetChecked(!p.r.Overlay.Hidden[value])
			p.Labels[value] = c
			swatch := canvas.NewRectangle(l.Color)
			swatch.SetMinSize(fyne.NewSize(14, 14))
			objs = append(objs, container.NewBorder(nil, nil, container.NewCenter(swatch), nil, c))
		}
		objs = append(objs, container.NewBorder(nil, nil, widget.NewLabel("Opacity"), nil, p.Opacity), p.Outline)
	}
	p.box.Objects = append(objs, p.segObjects()...)
	p.box.Refresh()
}

// SetSEGs lists the DICOM SEGs found with the study below the labels, each with a Show button.
func (p *OverlayPanel) SetSEGs(segs []SEGChoice) {
	p.SEGs = segs
	p.SetLabels(p.m)
}

// segObjects are the rows of the SEGs found with the study.
func (p *OverlayPanel) segObjects() []fyne.CanvasObject {
	p.SEGButtons = nil
	if len(p.SEGs) == 0 {
		return nil
	}
	objs := []fyne.CanvasObject{widget.NewLabelWithStyle("DICOM SEGs with the study", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})}
	for _, c := range p.SEGs {
		name := strings.TrimSpace(fmt.Sprintf("SEG %d %s", c.File.SeriesNumber, c.File.Description))
		var text string
		if c.Err != nil {
			text = name + ": cannot be read: " + c.Err.Error()
		} else {
			b := newButton("Show SEG "+strconv.Itoa(c.File.SeriesNumber), "Draw this SEG over the images", func() {
				if p.OnSEG != nil {
					p.OnSEG(c)
				}
			})
			p.SEGButtons = append(p.SEGButtons, b)
			objs = append(objs, b)
			text = name + " — " + strings.Join(c.Segments, ", ")
		}
		l := widget.NewLabel(text)
		l.Wrapping = fyne.TextWrapWord
		objs = append(objs, l)
	}
	return objs
}

// SetBanner shows a model's banner above the labels (call after SetLabels), wrapped to the panel's width: a
// line of text as wide as the banner widened the whole left panel.
func (p *OverlayPanel) SetBanner(banner string) {
	b := widget.NewLabelWithStyle(banner, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	b.Wrapping = fyne.TextWrapWord
	b.Importance = widget.WarningImportance
	p.box.Objects = append([]fyne.CanvasObject{p.box.Objects[0], b}, p.box.Objects[1:]...)
	p.box.Refresh()
}

// Sync shows the reading area's current settings.
func (p *OverlayPanel) Sync() {
	o := p.r.Overlay
	p.Visible.SetChecked(o.Visible)
	p.Opacity.SetValue(o.Opacity)
	p.Outline.SetChecked(o.Outline)
	for v, c := range p.Labels {
		c.SetChecked(!o.Hidden[v])
	}
}

// helpText lists the hotkeys and the mouse, from the table that dispatches the keys.
func helpText() string {
	var b strings.Builder
	b.WriteString("Mouse: wheel scrolls the stack · left drag uses the tool · right drag zooms · middle drag pans · drag a series thumbnail onto a viewport\n\n")
	for _, h := range hotkeys {
		fmt.Fprintf(&b, "%-8s %s\n", h.Label, h.Does)
	}
	return b.String()
}

// newHelp makes the help overlay's content.
func newHelp(close func()) fyne.CanvasObject {
	text := widget.NewLabelWithStyle(helpText(), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	title := widget.NewLabelWithStyle("NeuroNova keys", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	bg := canvas.NewRectangle(color.NRGBA{R: 0x14, G: 0x17, B: 0x1c, A: 0xf0})
	return container.NewStack(bg, container.NewPadded(container.NewBorder(title, newButton("Close (Esc)", "", close), nil, nil, container.NewVScroll(text))))
}
