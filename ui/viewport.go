package ui

import (
	"fmt"
	"image"
	"image/color"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// Status is what the status bar shows about a viewport.
type Status struct {
	Series        string
	Slice, Slices int // Slice counts from 1; 0 when nothing is shown
	Window        viewer.Window
	Zoom          float64
	Probe         string // value and position under the pointer, "" when outside the image
}

// Viewport shows one plane of one series. The wheel and ↑/↓ scroll the stack, dragging windows (right =
// wider, down = higher level), the pointer reports the voxel under it. Images are rendered by a worker
// goroutine from the latest state, so a burst of scroll events costs one render, never a queue of them.
type Viewport struct {
	widget.BaseWidget

	// OnStatus is called on the UI goroutine whenever what the status bar shows changes.
	OnStatus func(Status)

	// State below is touched only on the UI goroutine.
	title   string
	vol     *viewer.Volume
	labels  *viewer.LabelMap
	plane   render.Plane
	slice   int
	window  viewer.Window
	invert  bool
	overlay bool
	opacity float64
	tr      viewTransform
	probe   string
	dragW   viewer.Window // window at the start of a drag

	img         *canvas.Image
	bg          *canvas.Rectangle
	topLeft     *canvas.Text
	bottomLeft  *canvas.Text
	edges       [4]*canvas.Text // left, right, top, bottom orientation letters
	placeholder *canvas.Text

	mu      sync.Mutex // guards want and rendered
	want    *frame     // the latest state to draw; nil when drawn
	kick    chan struct{}
	buffers [2]*image.RGBA
	next    int // buffer the worker draws into next
	lastErr error
}

// frame is the state one render needs, copied from the UI goroutine.
type frame struct {
	vol     *viewer.Volume
	labels  *viewer.LabelMap
	plane   render.Plane
	slice   int
	window  viewer.Window
	invert  bool
	opacity float64 // 0: no overlay
}

var (
	_ fyne.Scrollable     = (*Viewport)(nil)
	_ fyne.Draggable      = (*Viewport)(nil)
	_ desktop.Hoverable   = (*Viewport)(nil)
	_ fyne.Widget         = (*Viewport)(nil)
	_ fyne.WidgetRenderer = (*viewportRenderer)(nil)
)

// DefaultOverlayOpacity is the label overlay's opacity when a series is first shown.
const DefaultOverlayOpacity = 0.45

// NewViewport makes an empty viewport; SetSeries gives it something to show.
func NewViewport() *Viewport {
	v := &Viewport{kick: make(chan struct{}, 1), overlay: true, opacity: DefaultOverlayOpacity}
	v.img = canvas.NewImageFromImage(nil)
	v.img.FillMode = canvas.ImageFillStretch
	v.img.ScaleMode = canvas.ImageScaleSmooth
	v.bg = canvas.NewRectangle(color.Black)
	text := func(s string) *canvas.Text {
		t := canvas.NewText(s, color.NRGBA{R: 0xe0, G: 0xe6, B: 0xeb, A: 0xff})
		t.TextSize = theme.CaptionTextSize()
		return t
	}
	v.topLeft, v.bottomLeft, v.placeholder = text(""), text(""), text("No series")
	for i := range v.edges {
		v.edges[i] = text("")
		v.edges[i].Color = color.NRGBA{R: 0xf5, G: 0x9e, B: 0x0b, A: 0xff}
	}
	v.ExtendBaseWidget(v)
	go v.renderLoop()
	return v
}

// SetSeries shows vol (and labels, which may be nil, on vol's grid) in the axial plane with the first
// window preset, at the slice with the most labelled voxels, or the middle slice when nothing is labelled. It must be called on the UI goroutine.
func (v *Viewport) SetSeries(title string, vol *viewer.Volume, labels *viewer.LabelMap) error {
	plane, err := render.NewPlane(vol.Geometry, render.Axial)
	if err != nil {
		return fmt.Errorf("viewport %s: %w", title, err)
	}
	if labels != nil && !labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		return fmt.Errorf("viewport %s: the label map (%s) is not on the series' grid", title, labels.Source)
	}
	v.title, v.vol, v.labels, v.plane = title, vol, labels, plane
	v.slice = StartSlice(plane, labels)
	v.window = render.Presets(vol)[0]
	su, sv := plane.PixelSpacing()
	b := plane.Bounds()
	v.tr = viewTransform{viewW: v.tr.viewW, viewH: v.tr.viewH, imgW: b.Dx(), imgH: b.Dy(), su: su, sv: sv, zoom: 1}
	v.probe = ""
	v.changed()
	return nil
}

// StartSlice is the slice a viewport opens at: the one with the most labelled voxels, else the middle.
func StartSlice(p render.Plane, labels *viewer.LabelMap) int {
	if s, ok := p.LargestLabelSlice(labels); ok {
		return s
	}
	return p.Slices() / 2
}

// Slice returns the slice shown (from 0) and the number of slices.
func (v *Viewport) Slice() (int, int) {
	if v.vol == nil {
		return 0, 0
	}
	return v.slice, v.plane.Slices()
}

// Scroll moves n slices (negative: back), stopping at the ends.
func (v *Viewport) Scroll(n int) {
	if v.vol == nil {
		return
	}
	s := max(0, min(v.slice+n, v.plane.Slices()-1))
	if s != v.slice {
		v.slice = s
		v.changed()
	}
}

// Window returns the window in use.
func (v *Viewport) Window() viewer.Window { return v.window }

// SetWindow sets the window; widths under 1 become 1.
func (v *Viewport) SetWindow(w viewer.Window) {
	w.Width = max(w.Width, 1)
	v.window = w
	v.changed()
}

// ShowOverlay shows or hides the label map.
func (v *Viewport) ShowOverlay(on bool) {
	v.overlay = on
	v.changed()
}

// OverlayShown reports whether the label map is drawn (when there is one).
func (v *Viewport) OverlayShown() bool { return v.overlay }

// Scrolled scrolls the stack one slice per wheel notch: down goes to the next slice.
func (v *Viewport) Scrolled(e *fyne.ScrollEvent) {
	switch {
	case e.Scrolled.DY < 0:
		v.Scroll(1)
	case e.Scrolled.DY > 0:
		v.Scroll(-1)
	}
}

// Dragged windows the image: right widens the window, down raises the level, by one grey step of the
// starting window per unit moved.
func (v *Viewport) Dragged(e *fyne.DragEvent) {
	if v.vol == nil {
		return
	}
	if v.dragW.Width == 0 {
		v.dragW = v.window
	}
	step := v.dragW.Width / 256
	w := v.window
	w.Width += float64(e.Dragged.DX) * step
	w.Center += float64(e.Dragged.DY) * step
	w.Name = ""
	v.SetWindow(w)
}

// DragEnd ends a window drag.
func (v *Viewport) DragEnd() { v.dragW = viewer.Window{} }

// MouseIn starts probing.
func (v *Viewport) MouseIn(e *desktop.MouseEvent) { v.MouseMoved(e) }

// MouseMoved reports the voxel under the pointer.
func (v *Viewport) MouseMoved(e *desktop.MouseEvent) {
	probe := v.ProbeAt(e.Position)
	if probe != v.probe {
		v.probe = probe
		v.status()
	}
}

// MouseOut stops probing.
func (v *Viewport) MouseOut() {
	v.probe = ""
	v.status()
}

// ProbeAt describes the voxel under viewport point p: its value and patient position (LPS, mm), or "" when
// p is outside the image.
func (v *Viewport) ProbeAt(p fyne.Position) string {
	if v.vol == nil {
		return ""
	}
	x, y := v.tr.toImage(float64(p.X), float64(p.Y))
	pk, err := v.plane.Pick(v.vol, v.slice, x, y)
	if err != nil {
		return ""
	}
	value := fmt.Sprintf("%g", pk.Value[0])
	if v.vol.Samples == 3 {
		value = fmt.Sprintf("%g,%g,%g", pk.Value[0], pk.Value[1], pk.Value[2])
	}
	return fmt.Sprintf("value %s at (%.1f, %.1f, %.1f) mm", value, pk.Patient[0], pk.Patient[1], pk.Patient[2])
}

// changed redraws after a state change: annotations now, the image through the worker.
func (v *Viewport) changed() {
	if v.vol != nil {
		f := &frame{vol: v.vol, plane: v.plane, slice: v.slice, window: v.window, invert: v.invert}
		if v.overlay && v.labels != nil {
			f.labels, f.opacity = v.labels, v.opacity
		}
		v.mu.Lock()
		v.want = f
		v.mu.Unlock()
		select {
		case v.kick <- struct{}{}:
		default:
		}
	}
	v.Refresh()
	v.status()
}

func (v *Viewport) status() {
	if v.OnStatus == nil {
		return
	}
	s := Status{Series: v.title, Window: v.window, Zoom: v.tr.zoom, Probe: v.probe}
	if v.vol != nil {
		s.Slice, s.Slices = v.slice+1, v.plane.Slices()
	}
	v.OnStatus(s)
}

// renderLoop draws the latest wanted frame whenever it is kicked, into the buffer not on screen, and hands
// it to the UI goroutine. It lives as long as the program.
func (v *Viewport) renderLoop() {
	for range v.kick {
		v.mu.Lock()
		f := v.want
		v.want = nil
		v.mu.Unlock()
		if f == nil {
			continue
		}
		img, err := v.draw(f)
		fyne.DoAndWait(func() {
			if err != nil || v.lastErr != nil {
				v.lastErr = err
				v.Refresh()
			}
			if err == nil {
				v.img.Image = img
				v.img.Refresh()
			}
		})
	}
}

// draw renders f into the next back buffer.
func (v *Viewport) draw(f *frame) (*image.RGBA, error) {
	lut, err := render.NewLUT(f.window, f.invert)
	if err != nil {
		return nil, err
	}
	b := f.plane.Bounds()
	buf := v.buffers[v.next]
	if buf == nil || buf.Rect != b {
		buf = image.NewRGBA(b)
		v.buffers[v.next] = buf
	}
	v.next = 1 - v.next
	var ov *render.Overlay
	if f.labels != nil {
		ov = &render.Overlay{Map: f.labels, Opacity: f.opacity}
	}
	if err := f.plane.RenderRGBA(buf, f.vol, f.slice, lut, ov); err != nil {
		return nil, err
	}
	return buf, nil
}

// CreateRenderer builds the viewport's canvas objects.
func (v *Viewport) CreateRenderer() fyne.WidgetRenderer {
	return &viewportRenderer{v: v}
}

type viewportRenderer struct{ v *Viewport }

func (r *viewportRenderer) Objects() []fyne.CanvasObject {
	v := r.v
	return []fyne.CanvasObject{v.bg, v.img, v.topLeft, v.bottomLeft, v.edges[0], v.edges[1], v.edges[2], v.edges[3], v.placeholder}
}

func (r *viewportRenderer) Layout(size fyne.Size) {
	v := r.v
	v.bg.Resize(size)
	v.tr.viewW, v.tr.viewH = float64(size.Width), float64(size.Height)
	x, y, w, h := v.tr.imageRect()
	v.img.Move(fyne.NewPos(float32(x), float32(y)))
	v.img.Resize(fyne.NewSize(float32(w), float32(h)))
	pad := theme.Padding()
	v.topLeft.Move(fyne.NewPos(pad, pad))
	bl := v.bottomLeft.MinSize()
	v.bottomLeft.Move(fyne.NewPos(pad, size.Height-bl.Height-pad))
	place := func(t *canvas.Text, fx, fy float32) {
		m := t.MinSize()
		t.Move(fyne.NewPos(fx*(size.Width-m.Width)+(0.5-fx)*2*pad, fy*(size.Height-m.Height)+(0.5-fy)*2*pad))
	}
	place(v.edges[0], 0, 0.5)
	place(v.edges[1], 1, 0.5)
	place(v.edges[2], 0.5, 0)
	place(v.edges[3], 0.5, 1)
	place(v.placeholder, 0.5, 0.5)
}

func (r *viewportRenderer) MinSize() fyne.Size { return fyne.NewSize(128, 128) }

func (r *viewportRenderer) Refresh() {
	v := r.v
	v.placeholder.Hidden = v.vol != nil
	v.img.Hidden = v.vol == nil
	if v.vol != nil {
		v.topLeft.Text = v.title
		wl := fmt.Sprintf("W %.0f  L %.0f", v.window.Width, v.window.Center)
		if v.invert {
			wl += "  inverted"
		}
		v.bottomLeft.Text = fmt.Sprintf("Im %d/%d   %s", v.slice+1, v.plane.Slices(), wl)
		e := v.plane.Edges()
		for i, s := range []string{e.Left, e.Right, e.Top, e.Bottom} {
			v.edges[i].Text = s
		}
	}
	v.placeholder.Text = "No series"
	if v.lastErr != nil {
		v.placeholder.Text, v.placeholder.Hidden = v.lastErr.Error(), false
	}
	r.Layout(v.Size())
	for _, o := range r.Objects() {
		o.Refresh()
	}
}

func (r *viewportRenderer) Destroy() {}
