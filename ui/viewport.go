package ui

import (
	"fmt"
	"image"
	"image/color"
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
	// OnWindow is called when the reader changes the window (drag, preset, auto, reset).
	OnWindow func(viewer.Window)
	// OnMeasure is called when a measurement is made or edited, or (removed) deleted.
	OnMeasure func(m measure.Measurement, removed bool)

	// Tool is the primary button's tool, Overlay how label maps are drawn and Annotations what the corners
	// say: shared by a reading area's viewports. Change them, then Refresh. Owner names who measures.
	Tool        *Tool
	Overlay     *OverlaySettings
	Annotations *Annotations
	Owner       *string
	// Painter, when set, takes the editing tools' strokes (the reading area's segmentation editor).
	Painter *Painter

	study    *viewer.Study // the series' own study: its patient and study attributes annotate the image
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
	measures []measure.Measurement // of this series, every plane and slice
	refLines []render.Line         // other viewports' slices on this image, image coordinates
	cross    *viewer.Vec3          // crosshair position, when set

	// Pointer state.
	button   desktop.MouseButton  // button held, from MouseDown
	drawing  *measure.Measurement // a measurement being drawn
	dragFrom measure.Point        // where its drag started, image coordinates
	editing  grip                 // the handle being dragged
	hover    grip                 // the handle under the pointer
	dragW    viewer.Window        // window at the start of a window drag
	lastPos  fyne.Position        // pointer position at the previous move (for right-button zoom)
	painting bool                 // a brush or eraser stroke is being dragged
	paintAt  measure.Point        // where its last segment ended, image coordinates

	img         *canvas.Image
	bg          *canvas.Rectangle
	border      *canvas.Rectangle
	corners     [4]*textBlock // top left, top right, bottom left, bottom right
	edges       [4]*textBlock // left, right, top, bottom orientation letters
	placeholder *canvas.Text
	banner      *canvas.Text // the model's banner when the label map is an AI result (drawn wrapped by bannerLines)
	bannerLines *textBlock
	scale       *scaleBar
	vectors     []fyne.CanvasObject // measurements, reference lines, crosshair

	mu      sync.Mutex // guards want
	want    *frame     // the latest state to draw; nil when drawn
	kick    chan struct{}
	shown   atomic.Int64   // frames handed to the screen, for tests and benchmarks
	wanted  int64          // frames asked for (guarded by mu); frame.seq numbers them
	current atomic.Int64   // the seq of the frame on the screen
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
	seq          int64 // its number among the frames asked for
}

var (
	_ fyne.Scrollable   = (*Viewport)(nil)
	_ fyne.Draggable    = (*Viewport)(nil)
	_ fyne.Tappable     = (*Viewport)(nil)
	_ desktop.Hoverable = (*Viewport)(nil)
	_ desktop.Mouseable = (*Viewport)(nil)
)

// NewViewport makes an empty viewport with its own tool, overlay and annotation settings; a reading area
// replaces them with shared ones. SetSeries gives it something to show.
func NewViewport() *Viewport {
	tool, owner, ann := ToolWindowLevel, "", DefaultAnnotations
	v := &Viewport{kick: make(chan struct{}, 1), Tool: &tool, Owner: &owner, Annotations: &ann,
		Overlay: &OverlaySettings{Visible: true, Opacity: render.DefaultOverlayOpacity}, editing: noGrip, hover: noGrip}
	v.img = canvas.NewImageFromImage(nil)
	v.img.FillMode = canvas.ImageFillStretch
	v.img.ScaleMode = canvas.ImageScaleSmooth
	v.bg = canvas.NewRectangle(color.Black)
	v.border = canvas.NewRectangle(color.Transparent)
	v.border.StrokeWidth = 1
	v.placeholder = canvas.NewText("Drop a series here", annotationColor)
	v.placeholder.TextSize = theme.CaptionTextSize()
	v.banner = canvas.NewText("", edgeColor)
	v.bannerLines = newTextBlock(edgeColor)
	v.bannerLines.bold = true
	for i := range v.corners {
		v.corners[i] = newTextBlock(annotationColor)
		v.edges[i] = newTextBlock(edgeColor)
	}
	v.scale = newScaleBar()
	v.ExtendBaseWidget(v)
	go v.renderLoop()
	return v
}

// SetSeries shows vol, the volume of se (labels may be nil, or must lie on vol's grid), in orientation o,
// with the first window preset, at the slice with the most labelled voxels, else the middle slice. Zoom,
// pan, rotation and measurements start afresh.
func (v *Viewport) SetSeries(se *viewer.Series, vol *viewer.Volume, labels *viewer.LabelMap, o render.Orientation) error {
	return v.SetStudySeries(nil, se, vol, labels, o)
}

// SetStudySeries is SetSeries with the study the series belongs to, whose patient and study the corners
// name (nil: none).
func (v *Viewport) SetStudySeries(st *viewer.Study, se *viewer.Series, vol *viewer.Volume, labels *viewer.LabelMap, o render.Orientation) error {
	title := fmt.Sprintf("%s  %s", se.Type, se.Description)
	plane, err := render.NewPlane(vol.Geometry, o)
	if err != nil {
		return fmt.Errorf("viewport %s: %w", title, err)
	}
	if labels != nil && !labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		return fmt.Errorf("viewport %s: the label map (%s) is not on the series' grid", title, labels.Source)
	}
	v.study, v.series, v.title, v.vol, v.labels, v.plane = st, se, title, vol, labels, plane
	v.slice = plane.StartSlice(labels)
	v.window = render.DefaultWindow(vol)
	v.invert = false
	su, sv := plane.PixelSpacing()
	b := plane.Bounds()
	v.tr = viewTransform{viewW: v.tr.viewW, viewH: v.tr.viewH, imgW: b.Dx(), imgH: b.Dy(), su: su, sv: sv, zoom: 1}
	v.probe, v.measures, v.refLines, v.cross, v.drawing, v.editing, v.hover = "", nil, nil, nil, nil, noGrip, noGrip
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

// Study returns the study of the series shown, or nil.
func (v *Viewport) Study() *viewer.Study { return v.study }

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
		if v.probe != "" {
			v.probe = v.ProbeAt(v.lastPos) // the pointer rests on another voxel now
		}
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

// SetWindow sets the window (widths under 1 become 1), as the reader does: OnWindow hears of it.
func (v *Viewport) SetWindow(w viewer.Window) {
	v.ShowWindow(w)
	if v.OnWindow != nil {
		v.OnWindow(v.window)
	}
}

// ShowWindow sets the window without telling OnWindow: for windows linked from another viewport.
func (v *Viewport) ShowWindow(w viewer.Window) {
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
	v.SetWindow(render.DefaultWindow(v.vol))
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

// changed redraws after a state change: annotations now, the image through the worker.
func (v *Viewport) changed() {
	if f := v.frame(); f != nil {
		v.mu.Lock()
		v.wanted++
		f.seq = v.wanted
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
		m := v.labels
		if p := v.painter(); p != nil {
			m = p.Shown(m) // the worker must not read a map being painted
		}
		f.overlay = &render.Overlay{Map: m, Opacity: ov.Opacity, Hidden: ov.Hidden, Outline: ov.Outline}
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

// upToDate reports whether the screen shows the latest frame asked for.
func (v *Viewport) upToDate() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.current.Load() == v.wanted
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
		v.current.Store(f.seq)
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
