package ui

import (
	"image"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// thumbSize is the edge of a series thumbnail.
const thumbSize = 96

// Thumb is one series of the strip: a thumbnail and its type and description. Tap it to show the series
// in the active viewport, or drag it onto any viewport.
type Thumb struct {
	widget.BaseWidget
	Series *viewer.Series
	strip  *Strip
	img    *canvas.Image
	label  *widget.Label
	bg     *canvas.Rectangle
	drag   fyne.Position // pointer position in the thumb during a drag
}

// Strip is the study's series as thumbnails.
type Strip struct {
	// OnDrop is called when a thumbnail is dropped at absolute canvas position p; OnTap when tapped.
	OnDrop func(se *viewer.Series, p fyne.Position)
	OnTap  func(se *viewer.Series)

	thumbs  []*Thumb
	box     *fyne.Container
	content fyne.CanvasObject
}

// NewStrip makes an empty strip.
func NewStrip() *Strip {
	s := &Strip{box: container.NewVBox()}
	s.content = container.NewVScroll(s.box)
	return s
}

// Content is the strip's canvas object.
func (s *Strip) Content() fyne.CanvasObject { return s.content }

// Thumbs returns the thumbnails.
func (s *Strip) Thumbs() []*Thumb { return s.thumbs }

// SetSeries lists series; their thumbnails appear when SetVolume gives their volumes.
func (s *Strip) SetSeries(series []*viewer.Series) {
	s.thumbs = s.thumbs[:0]
	objs := make([]fyne.CanvasObject, len(series))
	for i, se := range series {
		t := &Thumb{Series: se, strip: s, img: canvas.NewImageFromImage(nil), bg: canvas.NewRectangle(color.Black)}
		t.img.FillMode = canvas.ImageFillContain
		t.img.SetMinSize(fyne.NewSize(thumbSize, thumbSize))
		t.label = widget.NewLabel(string(se.Type) + "\n" + se.Description)
		t.label.Truncation = fyne.TextTruncateEllipsis
		t.ExtendBaseWidget(t)
		s.thumbs = append(s.thumbs, t)
		objs[i] = t
	}
	s.box.Objects = objs
	s.box.Refresh()
}

// SetVolume renders se's thumbnail from vol (in a worker) when se is in the strip.
func (s *Strip) SetVolume(se *viewer.Series, vol *viewer.Volume, labels *viewer.LabelMap) {
	for _, t := range s.thumbs {
		if t.Series != se {
			continue
		}
		go func() {
			img := thumbnail(vol, labels)
			do(func() {
				t.img.Image = img
				t.img.Refresh()
			})
		}()
	}
}

// thumbnail renders the axial slice a viewport opens at, through the first preset; nil on failure.
func thumbnail(vol *viewer.Volume, labels *viewer.LabelMap) image.Image {
	p, err := render.NewPlane(vol.Geometry, render.Axial)
	if err != nil {
		return nil
	}
	if labels != nil && !labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		labels = nil
	}
	lut, err := render.NewLUT(render.DefaultWindow(vol), false)
	if err != nil {
		return nil
	}
	img := image.NewRGBA(p.Bounds())
	if p.RenderRGBA(img, vol, p.StartSlice(labels), lut, nil) != nil {
		return nil
	}
	return img
}

// Tapped shows the series in the active viewport.
func (t *Thumb) Tapped(*fyne.PointEvent) {
	if t.strip.OnTap != nil {
		t.strip.OnTap(t.Series)
	}
}

// Dragged follows a drag towards a viewport.
func (t *Thumb) Dragged(e *fyne.DragEvent) {
	t.drag = e.Position
	t.bg.FillColor = theme.Color(theme.ColorNameSelection)
	t.bg.Refresh()
}

// DragEnd drops the series where the pointer is.
func (t *Thumb) DragEnd() {
	t.bg.FillColor = color.Black
	t.bg.Refresh()
	if t.strip.OnDrop != nil {
		abs := fyne.CurrentApp().Driver().AbsolutePositionForObject(t)
		t.strip.OnDrop(t.Series, abs.Add(t.drag))
	}
}

// CreateRenderer lays out the thumbnail beside its label.
func (t *Thumb) CreateRenderer() fyne.WidgetRenderer {
	row := container.NewBorder(nil, nil, container.NewStack(t.bg, t.img), nil, t.label)
	return widget.NewSimpleRenderer(row)
}
