package ui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// Workstation is the reading window's content: the study's series on the left, a viewport, and a status
// bar. Series load in a worker goroutine with progress; choosing another series cancels a load under way.
type Workstation struct {
	Viewport *Viewport
	content  fyne.CanvasObject
	study    *viewer.Study
	list     *widget.List
	progress *widget.ProgressBar
	status   *widget.Label
	note     *widget.Label // patient and study, and problems of the shown series

	selected int
	cancel   context.CancelFunc
	volumes  map[*viewer.Series]*viewer.Volume
	last     Status
}

// NewWorkstation lays out st and starts loading its first brain-tumour sequence (T1CE when present).
func NewWorkstation(st *viewer.Study) *Workstation {
	w := &Workstation{study: st, Viewport: NewViewport(), progress: widget.NewProgressBar(),
		status: widget.NewLabel(""), note: widget.NewLabel(""), selected: -1,
		volumes: make(map[*viewer.Series]*viewer.Volume)}
	w.progress.Hide()
	w.note.Wrapping = fyne.TextWrapWord
	w.list = widget.NewList(
		func() int { return len(st.Series) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("FLAIR  description")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			se := st.Series[i]
			o.(*widget.Label).SetText(fmt.Sprintf("%-5s  %s", se.Type, se.Description))
		})
	w.list.OnSelected = func(i widget.ListItemID) { w.Show(i) }
	w.Viewport.OnStatus = func(s Status) {
		w.last = s
		w.status.SetText(StatusLine(s))
	}
	header := widget.NewLabelWithStyle(studyTitle(st), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	header.Wrapping = fyne.TextWrapWord
	left := container.NewBorder(header, w.note, nil, nil, w.list)
	split := container.NewHSplit(left, w.Viewport)
	split.Offset = 0.22
	w.content = container.NewBorder(nil, container.NewVBox(w.progress, w.status), nil, nil, split)

	first := 0
	for _, t := range []viewer.SeriesType{viewer.T1CE, viewer.T1, viewer.FLAIR, viewer.T2} {
		if i := w.index(st.SeriesByType(t)); i >= 0 {
			first = i
			break
		}
	}
	if len(st.Series) > 0 {
		w.list.Select(first)
	}
	return w
}

// Content is the window content.
func (w *Workstation) Content() fyne.CanvasObject { return w.content }

// Status returns what the status bar shows.
func (w *Workstation) Status() Status { return w.last }

func (w *Workstation) index(se *viewer.Series) int {
	for i, s := range w.study.Series {
		if s == se {
			return i
		}
	}
	return -1
}

// Show loads series i (in a worker) and shows it.
func (w *Workstation) Show(i int) {
	if i < 0 || i >= len(w.study.Series) || i == w.selected {
		return
	}
	w.selected = i
	w.list.Select(i)
	if w.cancel != nil {
		w.cancel()
	}
	se := w.study.Series[i]
	w.note.SetText(seriesNote(se))
	if vol, ok := w.volumes[se]; ok {
		w.display(se, vol)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.progress.SetValue(0)
	w.progress.Show()
	go func() {
		vol, err := viewer.LoadSeries(ctx, se, func(done, total int) {
			fyne.Do(func() { w.progress.SetValue(float64(done) / float64(max(total, 1))) })
		})
		fyne.Do(func() {
			if ctx.Err() != nil { // another series was chosen meanwhile
				return
			}
			w.progress.Hide()
			if err != nil {
				w.note.SetText(err.Error())
				return
			}
			w.volumes[se] = vol
			w.display(se, vol)
		})
	}()
}

func (w *Workstation) display(se *viewer.Series, vol *viewer.Volume) {
	labels := w.study.Labels
	if labels != nil && !labels.Geometry.SameGrid(vol.Geometry, 1e-3) {
		labels = nil
	}
	title := fmt.Sprintf("%s  %s", se.Type, se.Description)
	if err := w.Viewport.SetSeries(title, vol, labels); err != nil {
		w.note.SetText(err.Error())
	}
}

// TypedKey handles the reading keys: ↑/↓ scroll, PgUp/PgDn change series, Home/End go to the ends, O shows
// or hides the overlay, A applies the auto window, 1–5 the window presets.
func (w *Workstation) TypedKey(e *fyne.KeyEvent) {
	vp := w.Viewport
	switch e.Name {
	case fyne.KeyUp:
		vp.Scroll(-1)
	case fyne.KeyDown:
		vp.Scroll(1)
	case fyne.KeyHome:
		vp.Scroll(-1 << 20)
	case fyne.KeyEnd:
		vp.Scroll(1 << 20)
	case fyne.KeyPageUp:
		w.Show(w.selected - 1)
	case fyne.KeyPageDown:
		w.Show(w.selected + 1)
	case fyne.KeyO:
		vp.ShowOverlay(!vp.OverlayShown())
	case fyne.KeyA:
		if vp.vol != nil {
			vp.SetWindow(vp.vol.AutoWindow())
		}
	case fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5:
		if vp.vol != nil {
			presets := render.Presets(vp.vol)
			if n := int(e.Name[0] - '1'); n < len(presets) {
				vp.SetWindow(presets[n])
			}
		}
	}
}

// StatusLine formats a status for the status bar.
func StatusLine(s Status) string {
	if s.Slices == 0 {
		return "No series shown"
	}
	line := fmt.Sprintf("%s   slice %d/%d   W %.0f L %.0f", s.Series, s.Slice, s.Slices, s.Window.Width, s.Window.Center)
	if s.Window.Name != "" {
		line += " (" + s.Window.Name + ")"
	}
	line += fmt.Sprintf("   zoom %.0f%%", 100*s.Zoom)
	if s.Probe != "" {
		line += "   " + s.Probe
	}
	return line
}

func studyTitle(st *viewer.Study) string {
	name := st.PatientName
	if name == "" {
		name = "(no name)"
	}
	return fmt.Sprintf("%s  %s  %s", name, st.PatientID, st.Description)
}

func seriesNote(se *viewer.Series) string {
	s := fmt.Sprintf("Series %d: %s", se.Number, se.Description)
	for _, p := range se.Problems {
		s += "\n⚠ " + p
	}
	return s
}
