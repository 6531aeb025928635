package ui

import (
	"context"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// Layout is an arrangement of viewports.
type Layout int

const (
	Layout1x1 Layout = iota
	Layout1x2
	Layout2x2
	LayoutMPR // axial, coronal and sagittal planes of one series, with a crosshair
)

var layoutNames = [...]string{"1×1", "1×2", "2×2", "MPR"}

func (l Layout) String() string { return layoutNames[l] }

// Layouts lists the layouts in menu order.
var Layouts = []Layout{Layout1x1, Layout1x2, Layout2x2, LayoutMPR}

func (l Layout) viewports() int { return [...]int{1, 2, 4, 3}[l] }

// Reading is the viewer area: up to four viewports in a layout, one of them active (keys act on it), sharing
// the tool and the overlay settings. Scrolling one viewport scrolls the others that share its frame of
// reference to the same patient position (when Sync is on), and each viewport shows where the active one's
// slice cuts it. Volumes load in worker goroutines and are kept for the study.
type Reading struct {
	Tool    Tool
	Overlay OverlaySettings
	Sync    bool

	// OnStatus receives the active viewport's status; OnLoading the loading progress (0…1, 1 when done)
	// or an error.
	OnStatus  func(Status)
	OnLoading func(fraction float64, err error)

	study    *viewer.Study
	labels   *viewer.LabelMap // drawn over the viewports: the study's own, or an AI result
	banner   string           // shown with labels when they are an AI result
	layout   Layout
	ports    [4]*Viewport
	shown    [4]*viewer.Series // what each viewport shows or is loading
	active   int
	grid     *fyne.Container
	volumes  map[*viewer.Series]*viewer.Volume
	loading  map[*viewer.Series][]func(*viewer.Volume) // callbacks waiting for a volume
	ctx      context.Context                           // the open study's loads; cancelled when another study opens
	cancel   context.CancelFunc
	syncing  bool
	cineStop chan struct{}
	fps      int        // cine frame rate
	mu       sync.Mutex // guards cineStop and fps, which the cine goroutine reads
}

// NewReading makes an empty reading area.
func NewReading() *Reading {
	r := &Reading{Tool: ToolWindowLevel, Overlay: OverlaySettings{Visible: true, Opacity: render.DefaultOverlayOpacity},
		Sync: true, fps: 15, volumes: map[*viewer.Series]*viewer.Volume{}, loading: map[*viewer.Series][]func(*viewer.Volume){}}
	for i := range r.ports {
		vp := NewViewport()
		vp.Tool, vp.Overlay = &r.Tool, &r.Overlay
		vp.OnActivate = func() { r.Activate(i) }
		vp.OnSlice = func() { r.sliceChanged(i) }
		vp.OnCrosshair = r.crosshair
		vp.OnStatus = func(s Status) {
			if i == r.active && r.OnStatus != nil {
				r.OnStatus(s)
			}
		}
		r.ports[i] = vp
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.grid = container.NewGridWithColumns(2)
	r.ports[0].SetActive(true)
	return r
}

// Content is the viewer area's canvas object.
func (r *Reading) Content() fyne.CanvasObject { return r.grid }

// Viewport returns viewport i (0…3).
func (r *Reading) Viewport(i int) *Viewport { return r.ports[i] }

// Active returns the active viewport.
func (r *Reading) Active() *Viewport { return r.ports[r.active] }

// Layout returns the layout in use.
func (r *Reading) Layout() Layout { return r.layout }

// Visible returns the viewports the layout shows.
func (r *Reading) Visible() []*Viewport { return r.ports[:r.layout.viewports()] }

// Study returns the study shown.
func (r *Reading) Study() *viewer.Study { return r.study }

// Open shows st with the brain-tumour hanging protocol: T1, T1CE, T2 and FLAIR in 2×2 when the study has
// them (by the series classifier), else its first series in 1×1.
func (r *Reading) Open(st *viewer.Study) {
	r.StopCine()
	if r.cancel != nil {
		r.cancel()
	}
	r.study, r.labels, r.banner = st, st.Labels, ""
	r.volumes, r.loading = map[*viewer.Series]*viewer.Volume{}, map[*viewer.Series][]func(*viewer.Volume){}
	r.shown = [4]*viewer.Series{}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	var hang []*viewer.Series
	for _, t := range viewer.BrainTumourTypes {
		if se := st.SeriesByType(t); se != nil {
			hang = append(hang, se)
		}
	}
	if len(hang) == len(viewer.BrainTumourTypes) {
		r.setLayout(Layout2x2)
	} else {
		hang = st.Series[:min(1, len(st.Series))]
		r.setLayout(Layout1x1)
	}
	r.prefetch(hang)
	for i, se := range hang {
		r.Assign(i, se)
	}
	r.Activate(0)
}

// SetLayout changes the layout. MPR shows the active viewport's series in the three planes.
func (r *Reading) SetLayout(l Layout) {
	if l == r.layout {
		return
	}
	se := r.shown[r.active]
	prev := r.layout
	r.setLayout(l)
	switch {
	case l == LayoutMPR && se != nil:
		for i, o := range []render.Orientation{render.Axial, render.Coronal, render.Sagittal} {
			r.assign(i, se, o)
		}
	case prev == LayoutMPR && se != nil:
		r.Open(r.study)
		return
	default:
		for i := range r.Visible() {
			if r.shown[i] == nil && r.study != nil && i < len(r.study.Series) {
				r.Assign(i, r.study.Series[i])
			}
		}
	}
	r.Activate(min(r.active, l.viewports()-1))
}

func (r *Reading) setLayout(l Layout) {
	r.layout = l
	cols := map[Layout]int{Layout1x1: 1, Layout1x2: 2, Layout2x2: 2, LayoutMPR: 3}[l]
	objs := make([]fyne.CanvasObject, l.viewports())
	for i := range objs {
		objs[i] = r.ports[i]
	}
	r.grid.Layout = container.NewGridWithColumns(cols).Layout
	r.grid.Objects = objs
	r.grid.Refresh()
}

// Activate makes viewport i the one keys act on.
func (r *Reading) Activate(i int) {
	if i < 0 || i >= r.layout.viewports() {
		return
	}
	r.active = i
	for k, vp := range r.ports {
		vp.SetActive(k == i)
	}
	r.updateReferenceLines()
	if r.OnStatus != nil {
		r.OnStatus(r.Active().Status())
	}
}

// Assign shows series se in viewport i in the axial plane, loading its volume first if needed.
func (r *Reading) Assign(i int, se *viewer.Series) { r.assign(i, se, render.Axial) }

func (r *Reading) assign(i int, se *viewer.Series, o render.Orientation) {
	if i < 0 || i >= len(r.ports) || se == nil || r.study == nil {
		return
	}
	r.shown[i] = se
	r.withVolume(se, func(vol *viewer.Volume) {
		if r.shown[i] != se {
			return // another series was put there meanwhile
		}
		if err := r.ports[i].SetSeries(se, vol, r.labelsOn(vol), o); err != nil && r.OnLoading != nil {
			r.OnLoading(1, err)
		}
		r.ports[i].SetLabels(r.labelsOn(vol), r.banner)
	})
}

// labelsOn returns the label map drawn over vol: the reading's, when it lies on vol's grid.
func (r *Reading) labelsOn(vol *viewer.Volume) *viewer.LabelMap {
	if r.labels != nil && r.labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		return r.labels
	}
	return nil
}

// SetLabels draws m over every viewport whose series lies on its grid (nil: none), with banner (the model's,
// for an AI result; "" for the study's own label map).
func (r *Reading) SetLabels(m *viewer.LabelMap, banner string) {
	r.labels, r.banner = m, banner
	for _, vp := range r.ports {
		if vol := vp.Volume(); vol != nil {
			vp.SetLabels(r.labelsOn(vol), banner)
		}
	}
}

// Labels returns the label map drawn over the viewports and its banner.
func (r *Reading) Labels() (*viewer.LabelMap, string) { return r.labels, r.banner }

// NextSeries shows the study's next (or, for negative step, previous) series in the active viewport.
func (r *Reading) NextSeries(step int) {
	if r.study == nil || len(r.study.Series) == 0 {
		return
	}
	cur := 0
	for k, se := range r.study.Series {
		if se == r.shown[r.active] {
			cur = k
		}
	}
	n := len(r.study.Series)
	r.Assign(r.active, r.study.Series[((cur+step)%n+n)%n])
}

// withVolume calls fn on the UI goroutine with se's volume, at once when it is loaded.
func (r *Reading) withVolume(se *viewer.Series, fn func(*viewer.Volume)) {
	if vol, ok := r.volumes[se]; ok {
		fn(vol)
		return
	}
	waiting, inFlight := r.loading[se]
	r.loading[se] = append(waiting, fn)
	if !inFlight {
		r.prefetch([]*viewer.Series{se})
	}
}

// prefetch loads series in one worker (viewer.LoadStudy decodes them all at once) and hands each volume
// to the callbacks waiting for it.
func (r *Reading) prefetch(series []*viewer.Series) {
	var todo []*viewer.Series
	for _, se := range series {
		if _, ok := r.volumes[se]; ok {
			continue
		}
		if _, ok := r.loading[se]; !ok {
			r.loading[se] = nil
		}
		todo = append(todo, se)
	}
	if len(todo) == 0 {
		return
	}
	report := r.OnLoading
	study, ctx := r.study, r.ctx
	// Progress reaches the screen at most every progressEvery, however many slices are decoded.
	shown := &coalescer[float64]{every: progressEvery, now: time.Now, after: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		show: func(f float64) {
			if report != nil && r.study == study {
				report(f, nil)
			}
		}}
	go func() {
		vols, err := viewer.LoadStudy(ctx, todo, func(done, total int) {
			shown.push(float64(done) / float64(max(total, 1)))
		})
		do(func() {
			shown.close()
			if r.study != study {
				return
			}
			for k, se := range todo {
				waiting := r.loading[se]
				delete(r.loading, se)
				if err != nil {
					continue
				}
				r.volumes[se] = vols[k]
				for _, fn := range waiting {
					fn(vols[k])
				}
			}
			if report != nil {
				if err != nil && ctx.Err() == nil {
					report(1, err)
				} else if err == nil {
					report(1, nil)
				}
			}
		})
	}()
}

// sliceChanged follows a viewport's slice: synchronised scrolling and reference lines.
func (r *Reading) sliceChanged(i int) {
	if r.syncing {
		return
	}
	src := r.ports[i]
	if r.Sync && r.layout != LayoutMPR && src.Volume() != nil {
		r.syncing = true
		centre := src.Centre()
		sp, _ := src.Plane()
		for k, vp := range r.Visible() {
			p, ok := vp.Plane()
			if k == i || !ok || !sameFrame(src.Series(), vp.Series()) || p.Orientation() != sp.Orientation() {
				continue
			}
			if s, inside := p.NearestSlice(centre); inside {
				vp.SetSlice(s)
			}
		}
		r.syncing = false
	}
	r.updateReferenceLines()
}

// sameFrame reports whether two series share a frame of reference, so that patient positions compare.
func sameFrame(a, b *viewer.Series) bool {
	if a == nil || b == nil {
		return false
	}
	return a == b || a.FrameOfReferenceUID != "" && a.FrameOfReferenceUID == b.FrameOfReferenceUID
}

// updateReferenceLines draws, in every visible viewport, where the other viewports' slices cut it.
func (r *Reading) updateReferenceLines() {
	for k, vp := range r.Visible() {
		p, ok := vp.Plane()
		if !ok {
			continue
		}
		s, _ := vp.Slice()
		var lines []render.Line
		for j, other := range r.Visible() {
			op, ok := other.Plane()
			if j == k || !ok || !sameFrame(vp.Series(), other.Series()) {
				continue
			}
			os, _ := other.Slice()
			if l, ok := p.ReferenceLine(s, op, os); ok {
				lines = append(lines, l)
			}
		}
		vp.SetReferenceLines(lines)
	}
}

// crosshair moves every visible viewport sharing the active one's frame of reference to patient position p.
func (r *Reading) crosshair(p viewer.Vec3) {
	src := r.Active().Series()
	r.syncing = true
	for _, vp := range r.Visible() {
		if sameFrame(src, vp.Series()) {
			vp.SetCrosshair(&p)
		}
	}
	r.syncing = false
	r.updateReferenceLines()
}

// Refresh redraws every viewport after a change of the shared tool or overlay settings.
func (r *Reading) Refresh() {
	for _, vp := range r.ports {
		vp.changed()
	}
}

// ToggleCine starts or stops the active viewport's cine loop.
func (r *Reading) ToggleCine() {
	if r.StopCine() {
		return
	}
	stop := make(chan struct{})
	r.mu.Lock()
	r.cineStop = stop
	r.mu.Unlock()
	vp := r.Active()
	go func() {
		for {
			r.mu.Lock()
			fps := r.fps
			r.mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(time.Second / time.Duration(max(fps, 1))):
			}
			doAndWait(func() {
				if s, n := vp.Slice(); n > 0 {
					vp.SetSlice((s + 1) % n)
				}
			})
		}
	}()
}

// StopCine stops the cine loop and reports whether one was running.
func (r *Reading) StopCine() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cineStop == nil {
		return false
	}
	close(r.cineStop)
	r.cineStop = nil
	return true
}

// Cine reports whether a cine loop runs.
func (r *Reading) Cine() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cineStop != nil
}

// SetFPS sets the cine frame rate, 1…60.
func (r *Reading) SetFPS(fps int) {
	r.mu.Lock()
	r.fps = max(1, min(fps, 60))
	r.mu.Unlock()
}

// CineFPS returns the cine frame rate.
func (r *Reading) CineFPS() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fps
}
