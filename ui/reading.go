package ui

import (
	"context"
	"slices"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/measure"
	"github.com/neuronova/neuronova/viewer/render"
)

// Layout is an arrangement of viewports.
type Layout int

const (
	Layout1x1 Layout = iota
	Layout1x2
	Layout2x2
	LayoutMPR   // axial, coronal and sagittal planes of one series, with a crosshair
	LayoutPrior // the active series beside the same sequence of the patient's prior exam
)

var layoutNames = [...]string{"1×1", "1×2", "2×2", "MPR", "Prior"}

func (l Layout) String() string { return layoutNames[l] }

// Layouts lists the layouts in menu order.
var Layouts = []Layout{Layout1x1, Layout1x2, Layout2x2, LayoutMPR, LayoutPrior}

func (l Layout) viewports() int { return [...]int{1, 2, 4, 3, 2}[l] }

func (l Layout) columns() int { return [...]int{1, 2, 2, 3, 2}[l] }

// Reading is the viewer area: up to four viewports in a layout, one of them active (keys act on it), sharing
// the tool, the overlay settings and the corner annotations. Scrolling one viewport scrolls the others that
// show the same patient's images in one frame of reference, one session (an exam) or, beside a prior, the
// prior, to the same patient position (when Sync is on); each viewport shows where the active one's slice cuts
// it. Volumes load in worker goroutines and are kept for the study. F2 (ToggleMaximise) fills the area with
// the active viewport and gives the layout back.
type Reading struct {
	Tool        Tool
	Overlay     OverlaySettings
	Annotations Annotations
	Sync        bool
	// LinkWindows: changing one viewport's window changes the others' that show the same sequence.
	LinkWindows bool
	// Owner names who measures.
	Owner string

	// OnStatus receives the active viewport's status; OnLoading the loading progress (0…1, 1 when done)
	// or an error.
	OnStatus  func(Status)
	OnLoading func(fraction float64, err error)
	// OnMeasure hears of every measurement made, edited or (removed) deleted in a viewport; MeasurementsOf,
	// when set, gives the measurements kept on a series, which a viewport shows with it.
	OnMeasure      func(m measure.Measurement, removed bool)
	MeasurementsOf func(seriesUID string) []measure.Measurement
	// Painter edits the label map with the editing tools; nil: they do nothing.
	Painter Painter

	study    *viewer.Study
	prior    *viewer.Study    // the prior exam beside the study (LayoutPrior), or nil
	labels   *viewer.LabelMap // drawn over the viewports: the study's own, or an AI result
	banner   string           // shown with labels when they are an AI result
	layout   Layout
	ports    [4]*Viewport
	shown    [4]*viewer.Series // what each viewport shows or is loading
	visible  []int             // the ports the area shows, in order
	maxed    bool              // the active viewport alone fills the area
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
		Annotations: DefaultAnnotations, Sync: true, fps: 15, volumes: map[*viewer.Series]*viewer.Volume{},
		loading: map[*viewer.Series][]func(*viewer.Volume){}}
	for i := range r.ports {
		vp := NewViewport()
		vp.Tool, vp.Overlay, vp.Annotations, vp.Owner, vp.Painter = &r.Tool, &r.Overlay, &r.Annotations, &r.Owner, &r.Painter
		vp.OnActivate = func() { r.Activate(i) }
		vp.OnSlice = func() { r.sliceChanged(i) }
		vp.OnCrosshair = r.crosshair
		vp.OnStatus = func(s Status) {
			if i == r.active && r.OnStatus != nil {
				r.OnStatus(s)
			}
		}
		vp.OnWindow = func(w viewer.Window) { r.windowChanged(i, w) }
		vp.OnMeasure = func(m measure.Measurement, removed bool) { r.measured(i, m, removed) }
		r.ports[i] = vp
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.grid = container.NewGridWithColumns(2)
	r.ports[0].SetActive(true)
	r.setLayout(Layout1x1)
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

// Visible returns the viewports the area shows: the layout's, or the maximised one.
func (r *Reading) Visible() []*Viewport {
	out := make([]*Viewport, len(r.visible))
	for k, i := range r.visible {
		out[k] = r.ports[i]
	}
	return out
}

// Index returns vp's number (0…3), -1 when it is not one of the reading's.
func (r *Reading) Index(vp *Viewport) int {
	for i, p := range r.ports {
		if p == vp {
			return i
		}
	}
	return -1
}

// Shown returns the series viewport i shows or is loading.
func (r *Reading) Shown(i int) *viewer.Series { return r.shown[i] }

// Study returns the study (exam) shown.
func (r *Reading) Study() *viewer.Study { return r.study }

// Prior returns the prior exam shown beside the study, or nil.
func (r *Reading) Prior() *viewer.Study { return r.prior }

// Maximised reports whether the active viewport alone fills the area.
func (r *Reading) Maximised() bool { return r.maxed }

// Open shows st with the brain-tumour hanging protocol: T1, T1CE, T2 and FLAIR in 2×2 when the study (an exam:
// the sequences may come from several studies) has them, by the reader's choice of sequences
// (Study.Sequences) or else the series classifier, else its first series in 1×1.
func (r *Reading) Open(st *viewer.Study) {
	r.StopCine()
	if r.cancel != nil {
		r.cancel()
	}
	r.study, r.prior, r.labels, r.banner = st, nil, st.Labels, ""
	r.volumes, r.loading = map[*viewer.Series]*viewer.Volume{}, map[*viewer.Series][]func(*viewer.Volume){}
	r.shown = [4]*viewer.Series{}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	hang := r.hanging()
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

// hanging returns the study's T1, T1CE, T2 and FLAIR series (fewer when some are missing).
func (r *Reading) hanging() []*viewer.Series {
	var hang []*viewer.Series
	for _, t := range viewer.BrainTumourTypes {
		if se := r.study.Sequence(t); se != nil {
			hang = append(hang, se)
		}
	}
	return hang
}

// SetSequence makes se the study's series of sequence t (the reader's choice, which M1 uses too) and, when
// the hanging protocol is laid out, shows it in t's viewport.
func (r *Reading) SetSequence(t viewer.SeriesType, se *viewer.Series) {
	if r.study == nil || se == nil {
		return
	}
	if r.study.Sequences == nil {
		r.study.Sequences = map[viewer.SeriesType]string{}
	}
	r.study.Sequences[t] = se.UID
	if r.layout == Layout2x2 && len(r.hanging()) == len(viewer.BrainTumourTypes) {
		for i, role := range viewer.BrainTumourTypes {
			if role == t {
				r.Assign(i, se)
			}
		}
	}
}

// SetLayout changes the layout (and ends a maximised view). MPR shows the active viewport's series in the
// three planes; Prior needs the prior exam first (Compare).
func (r *Reading) SetLayout(l Layout) {
	if l == r.layout && !r.maxed {
		return
	}
	if l == LayoutPrior {
		if r.prior != nil {
			r.Compare(r.prior)
		}
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
	case prev == LayoutMPR && se != nil || prev == LayoutPrior:
		r.prior = nil
		r.Open(r.study)
		return
	default:
		for i := range r.visible {
			if r.shown[i] == nil && r.study != nil && i < len(r.study.Series) {
				r.Assign(i, r.study.Series[i])
			}
		}
	}
	r.Activate(min(r.active, l.viewports()-1))
}

// Compare shows the active viewport's series beside the same sequence of prior, the patient's earlier exam:
// scrolling either goes to the same patient position in both (Sync), and with LinkWindows their windows
// move together.
func (r *Reading) Compare(prior *viewer.Study) {
	se := r.shown[r.active]
	if r.study == nil || prior == nil || len(prior.Series) == 0 {
		return
	}
	if se == nil {
		se = r.study.Series[0]
	}
	other := prior.Sequence(se.Type)
	if other == nil {
		other = prior.Series[0]
	}
	r.prior = prior
	r.setLayout(LayoutPrior)
	r.Assign(0, se)
	r.Assign(1, other)
	r.Activate(0)
}

func (r *Reading) setLayout(l Layout) {
	r.layout, r.maxed = l, false
	r.visible = r.visible[:0]
	for i := range l.viewports() {
		r.visible = append(r.visible, i)
	}
	r.arrange(l.columns())
}

// arrange lays the visible viewports out in cols columns.
func (r *Reading) arrange(cols int) {
	objs := make([]fyne.CanvasObject, len(r.visible))
	for k, i := range r.visible {
		objs[k] = r.ports[i]
	}
	r.grid.Layout = container.NewGridWithColumns(cols).Layout
	r.grid.Objects = objs
	r.grid.Refresh()
}

// ToggleMaximise fills the area with the active viewport, showing what it shows, or gives the layout back.
func (r *Reading) ToggleMaximise() {
	if r.maxed {
		r.setLayout(r.layout)
	} else {
		r.maxed = true
		r.visible = append(r.visible[:0], r.active)
		r.arrange(1)
	}
	r.Activate(r.active)
}

// Activate makes viewport i the one keys act on, when it is visible.
func (r *Reading) Activate(i int) {
	if !slices.Contains(r.visible, i) {
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
	st := r.studyOf(se)
	r.withVolume(se, func(vol *viewer.Volume) {
		if r.shown[i] != se {
			return // another series was put there meanwhile
		}
		vp := r.ports[i]
		if err := vp.SetStudySeries(st, se, vol, r.labelsOn(vol), o); err != nil && r.OnLoading != nil {
			r.OnLoading(1, err)
		}
		vp.SetLabels(r.labelsOn(vol), r.banner)
		if r.MeasurementsOf != nil {
			vp.SetMeasurements(r.MeasurementsOf(se.UID))
		}
	})
}

// studyOf returns the study se belongs to: of the exam shown, or of the prior.
func (r *Reading) studyOf(se *viewer.Series) *viewer.Study {
	for _, ex := range []*viewer.Study{r.study, r.prior} {
		if ex != nil && slices.Contains(ex.Series, se) {
			return ex.StudyOf(se)
		}
	}
	return r.study
}

// examOf returns the exam (the study shown, or the prior) that holds se.
func (r *Reading) examOf(se *viewer.Series) *viewer.Study {
	if r.prior != nil && slices.Contains(r.prior.Series, se) {
		return r.prior
	}
	return r.study
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

// NextSeries shows the next (or, for negative step, previous) series of the active viewport's exam in it.
func (r *Reading) NextSeries(step int) {
	ex := r.examOf(r.shown[r.active])
	if ex == nil || len(ex.Series) == 0 {
		return
	}
	cur := 0
	for k, se := range ex.Series {
		if se == r.shown[r.active] {
			cur = k
		}
	}
	n := len(ex.Series)
	r.Assign(r.active, ex.Series[((cur+step)%n+n)%n])
}

// ShowMeasurements shows ms, the measurements of series uid, in every viewport that shows it but from.
func (r *Reading) ShowMeasurements(uid string, ms []measure.Measurement, from *Viewport) {
	for _, vp := range r.ports {
		if vp != from && vp.Series() != nil && vp.Series().UID == uid {
			vp.SetMeasurements(ms)
		}
	}
}

// measured passes a measurement made in viewport i on.
func (r *Reading) measured(i int, m measure.Measurement, removed bool) {
	if r.OnMeasure != nil {
		r.OnMeasure(m, removed)
	}
	if r.MeasurementsOf != nil {
		r.ShowMeasurements(m.SeriesUID, r.MeasurementsOf(m.SeriesUID), r.ports[i])
	}
}

// windowChanged gives viewport i's new window to the visible viewports of the same sequence, when linked.
func (r *Reading) windowChanged(i int, w viewer.Window) {
	src := r.ports[i]
	if !r.LinkWindows || src.Series() == nil {
		return
	}
	for _, vp := range r.Visible() {
		if vp != src && vp.Series() != nil && vp.Series().Type == src.Series().Type {
			vp.ShowWindow(w)
		}
	}
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
	if r.Sync && r.layout != LayoutMPR && src.Volume() != nil && slices.Contains(r.visible, i) {
		r.syncing = true
		centre := src.Centre()
		sp, _ := src.Plane()
		for _, vp := range r.Visible() {
			p, ok := vp.Plane()
			if vp == src || !ok || !r.scrollTogether(src, vp) || p.Orientation() != sp.Orientation() {
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

// scrollTogether reports whether scrolling a goes to the same patient position in b: their positions compare
// (samePosition), or b is the prior beside a.
func (r *Reading) scrollTogether(a, b *Viewport) bool {
	if samePosition(a, b) {
		return true
	}
	return r.prior != nil && r.layout == LayoutPrior && a.Study() != nil && b.Study() != nil && a.Study().PatientID == b.Study().PatientID
}

// samePosition reports whether two viewports' patient positions compare: the same series, one frame of
// reference, or one session of one patient (an exam written one study per series, each its own frame).
func samePosition(a, b *Viewport) bool {
	sa, sb := a.Series(), b.Series()
	if sa == nil || sb == nil {
		return false
	}
	if sa == sb || sa.FrameOfReferenceUID != "" && sa.FrameOfReferenceUID == sb.FrameOfReferenceUID {
		return true
	}
	x, y := a.Study(), b.Study()
	return x != nil && y != nil && x.PatientID != "" && x.PatientID == y.PatientID && x.StudyDate != "" && x.StudyDate == y.StudyDate
}

// updateReferenceLines draws, in every visible viewport, where the other viewports' slices cut it.
func (r *Reading) updateReferenceLines() {
	for _, vp := range r.Visible() {
		p, ok := vp.Plane()
		if !ok {
			continue
		}
		s, _ := vp.Slice()
		var lines []render.Line
		for _, other := range r.Visible() {
			op, ok := other.Plane()
			if other == vp || !ok || !samePosition(vp, other) {
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

// crosshair moves every visible viewport whose positions compare with the active one's to patient position p.
func (r *Reading) crosshair(p viewer.Vec3) {
	src := r.Active()
	r.syncing = true
	for _, vp := range r.Visible() {
		if samePosition(src, vp) {
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
