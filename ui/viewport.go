package ui

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// Status is what the status bar shows about a viewport.
type Status struct {
	Series        string
	Plane         render.Orientation
	Slice, Slices int // Slice counts from 1; 0 when nothing is shown
	Window        viewer.Window
	Zoom          float64
	Probe         string // value and position under the pointer, "" when outside the image
}

// Measurement is a length, a region of interest or a probed voxel drawn on one slice of a plane.
type Measurement struct {
	Kind   Tool // ToolLength, ToolEllipse, ToolRectangle or ToolProbe
	Plane  render.Orientation
	Slice  int
	A, B   measure.Point // image coordinates; B = A for a probe
	Length float64       // mm, for ToolLength
	Stats  measure.Stats // for ToolEllipse and ToolRectangle
	Probe  string        // for ToolProbe
}

// Label is the measurement's text as the viewport draws it.
func (m Measurement) Label() string {
	switch m.Kind {
	case ToolLength:
		return fmt.Sprintf("%.1f mm", m.Length)
	case ToolEllipse, ToolRectangle:
		s := m.Stats
		return fmt.Sprintf("mean %.1f  SD %.1f\nmin %.0f  max %.0f\narea %.1f mm²  (%d px)", s.Mean, s.SD, s.Min, s.Max, s.Area, s.N)
	case ToolProbe:
		return m.Probe
	}
	return ""
}

// Viewport shows one plane of one series. With the default tool the wheel scrolls the stack, dragging with
// the left button windows (right = wider, down = higher level), the right button zooms and the middle button
// pans; the other tools measure. Images are rendered by a worker goroutine from the latest state, so a burst
// of events costs one render, never a queue of them. All methods must be called on the UI goroutine.
type Viewport struct {
	widget.BaseWidget

	// OnStatus is called whenever what the status bar shows changes.
	OnStatus func(Status)
	// OnActivate is called when the user presses a mouse button in the viewport.
	OnActivate func()
	// OnSlice is called when the slice changes.
	OnSlice func()
	// OnCrosshair is called with the patient position the crosshair tool points at.
	OnCrosshair func(viewer.Vec3)

	// Tool is the primary button's tool and Overlay how label maps are drawn: shared by a reading area's
	// viewports. Change them, then Refresh.
	Tool    *Tool
	Overlay *OverlaySettings

	series   *viewer.Series
	title    string
	vol      *viewer.Volume
	labels   *viewer.LabelMap
	plane    render.Plane
	slice    int
	window   viewer.Window
	invert   bool
	tr       viewTransform
	probe    string
	active   bool
	measures []Measurement
	refLines []render.Line // other viewports' slices on this image, image coordinates
	cross    *viewer.Vec3  // crosshair position, when set

	// Pointer state.
	button   desktop.MouseButton // button held, from MouseDown
	dragging *Measurement        // a measurement being drawn
	dragW    viewer.Window       // window at the start of a window drag
	lastPos  fyne.Position       // pointer position at the previous move (for right-button zoom)

	img         *canvas.Image
	bg          *canvas.Rectangle
	border      *canvas.Rectangle
	topLeft     *canvas.Text
	bottomLeft  *canvas.Text
	edges       [4]*canvas.Text // left, right, top, bottom orientation letters
	placeholder *canvas.Text
	banner      *canvas.Text        // the model's banner when the label map is an AI result
	vectors     []fyne.CanvasObject // measurements, reference lines, crosshair

	mu      sync.Mutex // guards want
	want    *frame     // the latest state to draw; nil when drawn
	kick    chan struct{}
	shown   atomic.Int64   // frames handed to the screen, for tests and benchmarks
	bufs    [4]*image.RGBA // the worker's: two plane buffers and two oriented ones, alternating
	next    int
	lastErr error
}

// frame is the state one render needs, copied from the UI goroutine.
type frame struct {
	vol          *viewer.Volume
	plane        render.Plane
	slice        int
	window       viewer.Window
	invert       bool
	overlay      *render.Overlay // nil: none
	rot          int
	flipH, flipV bool
}

var (
	_ fyne.Scrollable   = (*Viewport)(nil)
	_ fyne.Draggable    = (*Viewport)(nil)
	_ fyne.Tappable     = (*Viewport)(nil)
	_ desktop.Hoverable = (*Viewport)(nil)
	_ desktop.Mouseable = (*Viewport)(nil)
)

var (
	annotationColor = color.NRGBA{R: 0xe0, G: 0xe6, B: 0xeb, A: 0xff}
	edgeColor       = color.NRGBA{R: 0xf5, G: 0x9e, B: 0x0b, A: 0xff}
	measureColor    = color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0xff}
	refLineColor    = color.NRGBA{R: 0x60, G: 0xa5, B: 0xfa, A: 0xc0}
	crossColor      = color.NRGBA{R: 0xfa, G: 0xcc, B: 0x15, A: 0xd0}
	activeColor     = color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0xff}
)

// NewViewport makes an empty viewport with its own tool and overlay settings; a reading area replaces
// them with shared ones. SetSeries gives it something to show.
func NewViewport() *Viewport {
	tool := ToolWindowLevel
	v := &Viewport{kick: make(chan struct{}, 1), Tool: &tool,
		Overlay: &OverlaySettings{Visible: true, Opacity: render.DefaultOverlayOpacity}}
	v.img = canvas.NewImageFromImage(nil)
	v.img.FillMode = canvas.ImageFillStretch
	v.img.ScaleMode = canvas.ImageScaleSmooth
	v.bg = canvas.NewRectangle(color.Black)
	v.border = canvas.NewRectangle(color.Transparent)
	v.border.StrokeWidth = 1
	v.topLeft, v.bottomLeft, v.placeholder = newText(""), newText(""), newText("Drop a series here")
	v.banner = newText("")
	v.banner.Color = edgeColor
	v.banner.TextStyle.Bold = true
	for i := range v.edges {
		v.edges[i] = newText("")
		v.edges[i].Color = edgeColor
	}
	v.ExtendBaseWidget(v)
	go v.renderLoop()
	return v
}

func newText(s string) *canvas.Text {
	t := canvas.NewText(s, annotationColor)
	t.TextSize = theme.CaptionTextSize()
	return t
}

// SetSeries shows vol, the volume of se (labels may be nil, or must lie on vol's grid), in orientation o,
// with the first window preset, at the slice with the most labelled voxels, else the middle slice. Zoom,
// pan, rotation and measurements start afresh.
func (v *Viewport) SetSeries(se *viewer.Series, vol *viewer.Volume, labels *viewer.LabelMap, o render.Orientation) error {
	title := fmt.Sprintf("%s  %s", se.Type, se.Description)
	plane, err := render.NewPlane(vol.Geometry, o)
	if err != nil {
		return fmt.Errorf("viewport %s: %w", title, err)
	}
	if labels != nil && !labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		return fmt.Errorf("viewport %s: the label map (%s) is not on the series' grid", title, labels.Source)
	}
	v.series, v.title, v.vol, v.labels, v.plane = se, title, vol, labels, plane
	v.slice = plane.StartSlice(labels)
	v.window = render.DefaultWindow(vol)
	v.invert = false
	su, sv := plane.PixelSpacing()
	b := plane.Bounds()
	v.tr = viewTransform{viewW: v.tr.viewW, viewH: v.tr.viewH, imgW: b.Dx(), imgH: b.Dy(), su: su, sv: sv, zoom: 1}
	v.probe, v.measures, v.refLines, v.cross, v.dragging = "", nil, nil, nil, nil
	v.changed()
	if v.OnSlice != nil {
		v.OnSlice()
	}
	return nil
}

// SetLabels replaces the label map drawn (nil for none; it must lie on the series' grid) and the banner
// shown with it: the model card's banner when the map is an AI result, "" otherwise.
func (v *Viewport) SetLabels(labels *viewer.LabelMap, banner string) error {
	if labels != nil && v.vol != nil && !labels.Geometry.SameGrid(v.vol.Geometry, 1e-3) {
		return fmt.Errorf("viewport %s: the label map (%s) is not on the series' grid", v.title, labels.Source)
	}
	v.labels = labels
	v.banner.Text = banner
	v.changed()
	return nil
}

// Series returns the series shown, or nil.
func (v *Viewport) Series() *viewer.Series { return v.series }

// Volume returns the volume shown, or nil.
func (v *Viewport) Volume() *viewer.Volume { return v.vol }

// Plane returns the plane shown and whether there is one.
func (v *Viewport) Plane() (render.Plane, bool) { return v.plane, v.vol != nil }

// Slice returns the slice shown (from 0) and the number of slices.
func (v *Viewport) Slice() (int, int) {
	if v.vol == nil {
		return 0, 0
	}
	return v.slice, v.plane.Slices()
}

// SetSlice shows slice s, clamped to the stack.
func (v *Viewport) SetSlice(s int) {
	if v.vol == nil {
		return
	}
	s = max(0, min(s, v.plane.Slices()-1))
	if s != v.slice {
		v.slice = s
		v.changed()
		if v.OnSlice != nil {
			v.OnSlice()
		}
	}
}

// Scroll moves n slices (negative: back), stopping at the ends.
func (v *Viewport) Scroll(n int) { v.SetSlice(v.slice + n) }

// Centre returns the patient position of the centre of the slice shown.
func (v *Viewport) Centre() viewer.Vec3 {
	b := v.plane.Bounds()
	return v.plane.Patient(float64(v.slice), float64(b.Dx())/2, float64(b.Dy())/2)
}

// Window returns the window in use.
func (v *Viewport) Window() viewer.Window { return v.window }

// SetWindow sets the window; widths under 1 become 1.
func (v *Viewport) SetWindow(w viewer.Window) {
	w.Width = max(w.Width, 1)
	v.window = w
	v.changed()
}

// Invert toggles grey-scale inversion.
func (v *Viewport) Invert() {
	v.invert = !v.invert
	v.changed()
}

// Zoom multiplies the zoom by f about the viewport centre (1 fits the image).
func (v *Viewport) Zoom(f float64) {
	v.tr.zoom = max(0.05, min(v.tr.zoom*f, 50))
	v.changed()
}

// Fit zooms to fit and centres the image.
func (v *Viewport) Fit() {
	v.tr.zoom, v.tr.panX, v.tr.panY = 1, 0, 0
	v.changed()
}

// Rotate turns the image by quarter turns, clockwise for positive n.
func (v *Viewport) Rotate(n int) {
	v.tr.rot = ((v.tr.rot+n)%4 + 4) % 4
	v.changed()
}

// Flip mirrors the image left↔right (horizontal) or top↔bottom.
func (v *Viewport) Flip(horizontal bool) {
	if horizontal {
		v.tr.flipH = !v.tr.flipH
	} else {
		v.tr.flipV = !v.tr.flipV
	}
	v.changed()
}

// Reset restores zoom, pan, rotation, flips, inversion and the first window preset.
func (v *Viewport) Reset() {
	if v.vol == nil {
		return
	}
	v.tr.zoom, v.tr.panX, v.tr.panY, v.tr.rot, v.tr.flipH, v.tr.flipV = 1, 0, 0, 0, false, false
	v.invert = false
	v.window = render.DefaultWindow(v.vol)
	v.changed()
}

// Measurements returns the measurements made on this series.
func (v *Viewport) Measurements() []Measurement { return v.measures }

// DeleteMeasurements removes the measurements of the slice shown.
func (v *Viewport) DeleteMeasurements() {
	kept := v.measures[:0]
	for _, m := range v.measures {
		if m.Plane != v.plane.Orientation() || m.Slice != v.slice {
			kept = append(kept, m)
		}
	}
	v.measures = kept
	v.Refresh()
}

// SetActive marks the viewport as the one keys act on.
func (v *Viewport) SetActive(on bool) {
	if v.active != on {
		v.active = on
		v.Refresh()
	}
}

// SetReferenceLines sets the lines (image coordinates) where other viewports' slices cut this one.
func (v *Viewport) SetReferenceLines(lines []render.Line) {
	v.refLines = lines
	v.Refresh()
}

// SetCrosshair moves to the slice nearest to patient position p and marks p; nil removes the mark.
func (v *Viewport) SetCrosshair(p *viewer.Vec3) {
	v.cross = p
	if p != nil && v.vol != nil {
		if s, ok := v.plane.NearestSlice(*p); ok {
			v.SetSlice(s)
		}
	}
	v.Refresh()
}

// ImageToView maps image coordinates to viewport coordinates.
func (v *Viewport) ImageToView(x, y float64) fyne.Position {
	px, py := v.tr.toView(x, y)
	return fyne.NewPos(float32(px), float32(py))
}

// ViewToImage maps a viewport point to image coordinates.
func (v *Viewport) ViewToImage(p fyne.Position) measure.Point {
	x, y := v.tr.toImage(float64(p.X), float64(p.Y))
	return measure.Point{X: x, Y: y}
}

// Scrolled scrolls the stack one slice per wheel notch: down goes to the next slice.
func (v *Viewport) Scrolled(e *fyne.ScrollEvent) {
	switch {
	case e.Scrolled.DY < 0:
		v.Scroll(1)
	case e.Scrolled.DY > 0:
		v.Scroll(-1)
	}
}

// Tapped activates the viewport; with the probe or crosshair tool it also acts at the point.
func (v *Viewport) Tapped(e *fyne.PointEvent) {
	v.activate()
	if v.vol == nil {
		return
	}
	switch *v.Tool {
	case ToolProbe:
		v.addProbe(e.Position)
	case ToolCrosshair:
		v.crosshairAt(e.Position)
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

// Dragged acts with the tool of the button held: the middle button pans, the left one uses the tool.
func (v *Viewport) Dragged(e *fyne.DragEvent) {
	if v.vol == nil {
		return
	}
	tool := *v.Tool
	if v.button&desktop.MouseButtonTertiary != 0 {
		tool = ToolPan
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
	case ToolLength, ToolEllipse, ToolRectangle:
		if v.dragging == nil {
			start := e.Position.Subtract(e.Dragged)
			a := v.ViewToImage(fyne.NewPos(start.X, start.Y))
			v.dragging = &Measurement{Kind: tool, Plane: v.plane.Orientation(), Slice: v.slice, A: a}
		}
		v.dragging.B = v.ViewToImage(e.Position)
		v.complete(v.dragging)
		v.Refresh()
	case ToolProbe:
		v.probe = v.ProbeAt(e.Position)
		v.status()
	case ToolCrosshair:
		v.crosshairAt(e.Position)
	}
}

// DragEnd finishes a window drag or a measurement.
func (v *Viewport) DragEnd() {
	v.dragW = viewer.Window{}
	if m := v.dragging; m != nil {
		v.dragging = nil
		if m.A != m.B {
			v.measures = append(v.measures, *m)
		}
		v.Refresh()
	}
}

// complete computes a measurement's value.
func (v *Viewport) complete(m *Measurement) {
	switch m.Kind {
	case ToolLength:
		m.Length = measure.Length(v.plane, m.Slice, m.A, m.B)
	case ToolEllipse, ToolRectangle:
		shape := measure.Rectangle
		if m.Kind == ToolEllipse {
			shape = measure.Ellipse
		}
		if v.vol.Samples == 1 {
			m.Stats, _ = measure.Region(v.plane, v.vol, m.Slice, shape, m.A, m.B)
		}
	}
}

// Measure adds a measurement of kind between image points a and b of the slice shown, as a drag with
// that tool does, and returns it.
func (v *Viewport) Measure(kind Tool, a, b measure.Point) Measurement {
	m := Measurement{Kind: kind, Plane: v.plane.Orientation(), Slice: v.slice, A: a, B: b}
	v.complete(&m)
	v.measures = append(v.measures, m)
	v.Refresh()
	return m
}

func (v *Viewport) addProbe(p fyne.Position) {
	s := v.ProbeAt(p)
	if s == "" {
		return
	}
	a := v.ViewToImage(p)
	v.measures = append(v.measures, Measurement{Kind: ToolProbe, Plane: v.plane.Orientation(), Slice: v.slice, A: a, B: a, Probe: s})
	v.Refresh()
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

// MouseMoved reports the voxel under the pointer; with the right button held it zooms.
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

// changed redraws after a state change: annotations now, the image through the worker.
func (v *Viewport) changed() {
	if f := v.frame(); f != nil {
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

// frame snapshots what the image shows, or nil when there is nothing to show.
func (v *Viewport) frame() *frame {
	if v.vol == nil {
		return nil
	}
	f := &frame{vol: v.vol, plane: v.plane, slice: v.slice, window: v.window, invert: v.invert,
		rot: v.tr.rot, flipH: v.tr.flipH, flipV: v.tr.flipV}
	if ov := v.Overlay; ov != nil && ov.Visible && v.labels != nil {
		f.overlay = &render.Overlay{Map: v.labels, Opacity: ov.Opacity, Hidden: ov.Hidden, Outline: ov.Outline}
	}
	return f
}

func (v *Viewport) status() {
	if v.OnStatus != nil {
		v.OnStatus(v.Status())
	}
}

// Status returns what the status bar shows for this viewport.
func (v *Viewport) Status() Status {
	s := Status{Series: v.title, Window: v.window, Zoom: v.tr.zoom, Probe: v.probe}
	if v.vol != nil {
		s.Plane, s.Slice, s.Slices = v.plane.Orientation(), v.slice+1, v.plane.Slices()
	}
	return s
}

// renderLoop draws the latest wanted frame whenever it is kicked, into buffers not on screen, and hands
// the image to the UI goroutine, waiting until it is shown. It lives as long as the program.
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
		doAndWait(func() {
			if err != nil || v.lastErr != nil {
				v.lastErr = err
				v.Refresh()
			}
			if err == nil {
				v.img.Image = img
				v.img.Refresh()
			}
		})
		v.shown.Add(1)
	}
}

// draw renders f into the next pair of back buffers: the plane image, then, when rotated or flipped, the
// oriented copy.
func (v *Viewport) draw(f *frame) (*image.RGBA, error) {
	lut, err := render.NewLUT(f.window, f.invert)
	if err != nil {
		return nil, err
	}
	b := f.plane.Bounds()
	buf := v.buffer(2*v.next, b)
	if err := f.plane.RenderRGBA(buf, f.vol, f.slice, lut, f.overlay); err != nil {
		return nil, err
	}
	out := buf
	if f.rot != 0 || f.flipH || f.flipV {
		ob := b
		if f.rot%2 == 1 {
			ob = image.Rect(0, 0, b.Dy(), b.Dx())
		}
		out = v.buffer(2*v.next+1, ob)
		orientImage(out, buf, f.rot, f.flipH, f.flipV)
	}
	v.next = 1 - v.next
	return out, nil
}

func (v *Viewport) buffer(i int, r image.Rectangle) *image.RGBA {
	if v.bufs[i] == nil || v.bufs[i].Rect != r {
		v.bufs[i] = image.NewRGBA(r)
	}
	return v.bufs[i]
}

// CreateRenderer builds the viewport's canvas objects.
func (v *Viewport) CreateRenderer() fyne.WidgetRenderer { return &viewportRenderer{v: v} }

type viewportRenderer struct{ v *Viewport }

func (r *viewportRenderer) Objects() []fyne.CanvasObject {
	v := r.v
	objs := []fyne.CanvasObject{v.bg, v.img}
	objs = append(objs, v.vectors...)
	return append(objs, v.topLeft, v.bottomLeft, v.edges[0], v.edges[1], v.edges[2], v.edges[3], v.placeholder, v.banner, v.border)
}

func (r *viewportRenderer) Layout(size fyne.Size) {
	v := r.v
	v.bg.Resize(size)
	v.border.Resize(size)
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
	bm := v.banner.MinSize()
	v.banner.Move(fyne.NewPos(pad, size.Height-bl.Height-bm.Height-pad)) // above the bottom-left annotation
	r.layoutVectors()
}

// layoutVectors rebuilds the vector annotations for the current transform.
func (r *viewportRenderer) layoutVectors() {
	v := r.v
	v.vectors = v.vectors[:0]
	if v.vol == nil {
		return
	}
	line := func(a, b fyne.Position, c color.Color, width float32) {
		l := canvas.NewLine(c)
		l.StrokeWidth = width
		l.Position1, l.Position2 = a, b
		v.vectors = append(v.vectors, l)
	}
	// label places text beside a measurement, kept inside the viewport.
	label := func(at fyne.Position, s string) {
		t := widget.NewLabel(s)
		t.Importance = widget.HighImportance
		size := t.MinSize()
		t.Move(fyne.NewPos(max(0, min(at.X, float32(v.tr.viewW)-size.Width)), max(0, min(at.Y, float32(v.tr.viewH)-size.Height))))
		t.Resize(size)
		v.vectors = append(v.vectors, t)
	}
	for _, l := range v.refLines {
		line(v.ImageToView(l.X0, l.Y0), v.ImageToView(l.X1, l.Y1), refLineColor, 1)
	}
	if v.cross != nil {
		s, x, y := v.plane.Locate(*v.cross)
		if math.Abs(s-float64(v.slice)) < 0.5 {
			b := v.plane.Bounds()
			line(v.ImageToView(0, y), v.ImageToView(float64(b.Dx()), y), crossColor, 1)
			line(v.ImageToView(x, 0), v.ImageToView(x, float64(b.Dy())), crossColor, 1)
		}
	}
	ms := v.measures
	if v.dragging != nil {
		ms = append(ms[:len(ms):len(ms)], *v.dragging)
	}
	for _, m := range ms {
		if m.Plane != v.plane.Orientation() || m.Slice != v.slice {
			continue
		}
		a, b := v.ImageToView(m.A.X, m.A.Y), v.ImageToView(m.B.X, m.B.Y)
		switch m.Kind {
		case ToolLength:
			line(a, b, measureColor, 2)
		case ToolEllipse:
			// A polygon through the image, so that it follows rotation, flips and the pixel aspect.
			cx, cy := (m.A.X+m.B.X)/2, (m.A.Y+m.B.Y)/2
			rx, ry := (m.B.X-m.A.X)/2, (m.B.Y-m.A.Y)/2
			const segments = 64
			prev := v.ImageToView(cx+rx, cy)
			for k := 1; k <= segments; k++ {
				t := 2 * math.Pi * float64(k) / segments
				p := v.ImageToView(cx+rx*math.Cos(t), cy+ry*math.Sin(t))
				line(prev, p, measureColor, 2)
				prev = p
			}
		case ToolRectangle:
			corners := [4]fyne.Position{a, v.ImageToView(m.B.X, m.A.Y), b, v.ImageToView(m.A.X, m.B.Y)}
			for k := range corners {
				line(corners[k], corners[(k+1)%4], measureColor, 2)
			}
		case ToolProbe:
			c := canvas.NewCircle(measureColor)
			c.Move(a.Subtract(fyne.NewPos(3, 3)))
			c.Resize(fyne.NewSize(6, 6))
			v.vectors = append(v.vectors, c)
		}
		label(fyne.NewPos(max(a.X, b.X)+4, max(a.Y, b.Y)+4), m.Label())
	}
}

func (r *viewportRenderer) MinSize() fyne.Size { return fyne.NewSize(128, 128) }

func (r *viewportRenderer) Refresh() {
	v := r.v
	v.placeholder.Hidden = v.vol != nil
	v.img.Hidden = v.vol == nil
	v.placeholder.Text = "Drop a series here"
	if v.vol != nil {
		v.topLeft.Text = fmt.Sprintf("%s  (%s)", v.title, v.plane.Orientation())
		v.bottomLeft.Text = fmt.Sprintf("Im %d/%d  W %.0f L %.0f", v.slice+1, v.plane.Slices(), v.window.Width, v.window.Center)
		if v.invert {
			v.bottomLeft.Text += "  inv"
		}
		e := v.plane.Edges()
		names := map[[2]float64]string{{-1, 0}: e.Left, {1, 0}: e.Right, {0, -1}: e.Top, {0, 1}: e.Bottom}
		for i, d := range [4][2]float64{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
			x, y := v.tr.imageDirection(d[0], d[1])
			v.edges[i].Text = names[[2]float64{math.Round(x), math.Round(y)}]
		}
	}
	if v.lastErr != nil {
		v.placeholder.Text, v.placeholder.Hidden = v.lastErr.Error(), false
	}
	v.banner.Hidden = v.banner.Text == "" || v.vol == nil || v.labels == nil || (v.Overlay != nil && !v.Overlay.Visible)
	v.border.StrokeColor = color.Transparent
	if v.active {
		v.border.StrokeColor = activeColor
	}
	r.Layout(v.Size())
	for _, o := range r.Objects() {
		o.Refresh()
	}
}

func (r *viewportRenderer) Destroy() {}
