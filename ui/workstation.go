package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// Workstation is the reading window's content: the worklist and the open study's series strip and overlay
// settings on the left, a toolbar, the viewer area (Reading) and a status bar. Install TypedKey and
// TypedRune on the window's canvas, and Import as the window's drop handler.
type Workstation struct {
	Reading  *Reading
	Worklist *Worklist
	Strip    *Strip
	Overlay  *OverlayPanel
	Sync     *SyncPanel
	AI       *AIPanel
	// Clinic is the clinical workflow (orders, reports, review, administration); nil without a server.
	Clinic *ClinicUI
	// ChoosePDF asks where to write a PDF named name and hands the path to done ("" cancelled); nil writes
	// it in the home folder.
	ChoosePDF func(name string, done func(path string))
	readingRoom

	canvas   fyne.Canvas
	content  fyne.CanvasObject
	status   *widget.Label
	progress *widget.ProgressBar
	message  *widget.Label
	tools    *hotSelect
	layouts  *hotSelect
	help     *widget.PopUp
	last     Status

	lib       Library
	importing *task
	// OnImported is called after an import ends, with its report and error.
	OnImported func(report string, err error)
}

// Services are what the workstation works with beyond its own window; either may be nil.
type Services struct {
	Library Library  // the local cache
	Sync    Syncer   // the link to the central server
	AI      Analyzer // the AI models
	Clinic  Clinic   // the clinical workflow of the server (with Sync)
	// User is the account the workstation runs under, whose preferences and measurements these are (the
	// signed-in clinician's, when there is one, come first).
	User string
}

// NewWorkstation lays out the workstation for its services and the session's studies, and opens the first
// session study. c is the window's canvas (for the help overlay and drag and drop).
func NewWorkstation(c fyne.Canvas, svc Services, session []*viewer.Study) *Workstation {
	lib := svc.Library
	session = viewer.GroupExams(sessionOnce(session), viewer.ExamByDay)
	w := &Workstation{canvas: c, lib: lib, Reading: NewReading(), Worklist: NewWorklist(lib, session), Strip: NewStrip(),
		status: widget.NewLabel(""), progress: widget.NewProgressBar(), message: widget.NewLabel("")}
	w.User = svc.User
	w.initReadingRoom(c)
	w.importing = newTask()
	w.Overlay = NewOverlayPanel(w.Reading)
	w.Overlay.OnSEG = w.showSEG
	w.Sync = NewSyncPanel(svc.Sync)
	w.Sync.OnStatus = func(SyncStatus) { w.refreshStatus() }
	w.Sync.OnSynced = func(string, error) {
		w.Worklist.Refresh()
		w.AI.Refresh() // the server's results and reviews the sync brought
		if w.Clinic != nil {
			w.Clinic.Refresh()
		}
	}
	w.AI = NewAIPanel(svc.AI)
	if r, ok := svc.Clinic.(ServerRunner); ok {
		w.AI.SetServer(r) // signed in, M1 may run on the server's queue
	}
	if rl, ok := lib.(ResultLibrary); ok {
		w.AI.SetLibrary(rl)
	}
	w.AI.OnResult = func(res *AIResult) {
		w.showLabels(res.Labels, res.Banner)
		if w.Clinic != nil {
			w.Clinic.syncNow() // the result and its SEG wait in the outbox
		}
	}
	w.AI.OnOverlay = func(ai bool) {
		if res := w.AI.Result(); ai && res != nil {
			w.showLabels(res.Labels, res.Banner)
		} else if st := w.Reading.Study(); st != nil {
			w.showLabels(st.Labels, "")
		}
	}
	w.progress.Hide()
	w.message.Wrapping = fyne.TextWrapWord
	w.Reading.OnStatus = func(s Status) {
		w.last = s
		w.refreshStatus()
	}
	w.Reading.OnLoading = w.showLoading
	w.Worklist.OnOpen = w.Open
	w.Worklist.OnError = func(err error) { w.message.SetText(err.Error()) }
	w.Strip.OnTap = func(se *viewer.Series) { w.Reading.Assign(w.Reading.active, se) } // in a maximised view, the viewport shown
	w.Strip.OnDrop = w.drop

	toolbar := w.toolbar()
	left := container.NewVSplit(w.Worklist.Content(), container.NewBorder(nil, w.message, nil, nil, w.leftTabs()))
	left.Offset = w.Prefs.Worklist
	main := container.NewBorder(toolbar, nil, nil, nil, w.Reading.Content())
	split := container.NewHSplit(left, main)
	split.Offset = w.Prefs.LeftPanel
	w.split, w.left = split, left
	var centre fyne.CanvasObject = split
	if svc.Clinic != nil {
		w.Clinic = newClinicUI(w, svc.Clinic, split)
		centre = w.Clinic.Content()
	}
	w.content = w.withTips(container.NewBorder(nil, container.NewVBox(w.progress, w.importing.content(), w.status), nil, nil, centre))
	w.loadPreferences()
	if len(session) > 0 {
		w.Open(session[0])
	}
	return w
}

// Import adds files, folders, ZIP archives, DICOMDIR media or BraTS folders to the library in a worker,
// with a progress bar and a cancel button, then says what was imported, skipped and rejected.
func (w *Workstation) Import(paths []string) {
	w.ImportThen(paths, fmt.Sprintf("Importing %s", strings.Join(paths, ", ")), nil)
}

// ImportThen is Import under the progress line what, which also calls then (which may be nil) on the UI
// goroutine when it ends.
func (w *Workstation) ImportThen(paths []string, what string, then func(report string, err error)) {
	switch {
	case len(paths) == 0:
		return
	case w.lib == nil:
		w.message.SetText("No local cache is open: nothing can be imported.")
		return
	}
	lib := w.lib
	var report string
	started := w.importing.start(what, func(ctx context.Context, prog progressFunc) (err error) {
		report, err = lib.Import(ctx, paths, func(done, total int) { prog("files", done, total) })
		return err
	}, func(err error) {
		if err != nil {
			report = strings.TrimSpace(report + "\nImport stopped: " + err.Error())
		}
		w.message.SetText(report)
		w.Worklist.Refresh()
		if w.OnImported != nil {
			w.OnImported(report, err)
		}
		if then != nil {
			then(report, err)
		}
	})
	if !started {
		w.message.SetText("An import is running: wait for it or cancel it first.")
	}
}

func toolLabels() []string {
	var s []string
	for _, t := range Tools {
		s = append(s, t.String())
	}
	return s
}

// Content is the window content.
func (w *Workstation) Content() fyne.CanvasObject { return w.content }

// Status returns what the status bar shows for the active viewport.
func (w *Workstation) Status() Status { return w.last }

// Open shows st with the hanging protocol.
func (w *Workstation) Open(st *viewer.Study) {
	w.message.SetText("")
	w.Strip.SetSeries(st.Series)
	w.Overlay.SetLabels(st.Labels)
	w.loadSEGs(st)
	w.Reading.Open(st)
	w.AI.SetStudy(st)
	w.layouts.SetSelected(w.Reading.Layout().String())
	for _, se := range st.Series {
		w.Reading.withVolume(se, func(vol *viewer.Volume) { w.Strip.SetVolume(se, vol, st.Labels) })
	}
	w.opened(st)
}

// showLabels draws m (the study's label map, or an AI result with its banner) and lists its labels.
func (w *Workstation) showLabels(m *viewer.LabelMap, banner string) {
	w.Reading.SetLabels(m, banner)
	w.Overlay.SetLabels(m)
	if banner != "" {
		w.Overlay.SetBanner(banner)
	}
}

// SetTool chooses the primary button's tool.
func (w *Workstation) SetTool(t Tool) {
	w.Reading.Tool = t
	if w.tools.Selected != t.String() {
		w.tools.SetSelected(t.String())
	}
	w.refreshStatus()
}

// SetLayout changes the viewer layout; Prior compares with the newest prior exam when none is shown.
func (w *Workstation) SetLayout(l Layout) {
	if l == LayoutPrior && w.Reading.Prior() == nil {
		w.ComparePrior(0)
		return
	}
	w.Reading.SetLayout(l)
	if w.layouts.Selected != l.String() {
		w.layouts.SetSelected(l.String())
	}
}

// drop assigns a series dropped at absolute position p to the viewport under p.
func (w *Workstation) drop(se *viewer.Series, p fyne.Position) {
	d := fyne.CurrentApp().Driver()
	for _, vp := range w.Reading.Visible() {
		o, s := d.AbsolutePositionForObject(vp), vp.Size()
		if p.X >= o.X && p.Y >= o.Y && p.X < o.X+s.Width && p.Y < o.Y+s.Height {
			i := w.Reading.Index(vp)
			w.Reading.Assign(i, se)
			w.Reading.Activate(i)
			return
		}
	}
}

func (w *Workstation) cycleViewport(step int) {
	vis := w.Reading.Visible()
	k := max(0, slices.Index(vis, w.Reading.Active()))
	n := len(vis)
	w.Reading.Activate(w.Reading.Index(vis[((k+step)%n+n)%n]))
}

func (w *Workstation) setOverlayVisible(on bool) {
	w.Reading.Overlay.Visible = on
	w.Overlay.Sync()
	w.Reading.Refresh()
}

func (w *Workstation) autoWindow() {
	if vp := w.Reading.Active(); vp.Volume() != nil {
		vp.SetWindow(vp.Volume().AutoWindow())
	}
}

func (w *Workstation) preset(n int) {
	if vp := w.Reading.Active(); vp.Volume() != nil {
		if presets := w.presets(vp); n >= 0 && n < len(presets) {
			vp.SetWindow(presets[n])
		}
	}
}

// ToggleHelp shows or hides the list of keys.
func (w *Workstation) ToggleHelp() {
	if w.help != nil {
		w.help.Hide()
		w.help = nil
		return
	}
	w.help = widget.NewModalPopUp(newHelp(w.ToggleHelp), w.canvas)
	size := w.canvas.Size()
	w.help.Resize(fyne.NewSize(min(size.Width-40, 640), size.Height-40))
	w.help.Show()
}

// HelpShown reports whether the help overlay is open.
func (w *Workstation) HelpShown() bool { return w.help != nil }

func (w *Workstation) escape() {
	if w.help != nil {
		w.ToggleHelp()
	}
	for _, p := range []*widget.PopUp{w.prefsPop} {
		if p != nil {
			p.Hide()
		}
	}
	if w.tags != nil {
		w.tags.pop.Hide()
	}
	w.canvas.Unfocus() // keys go to the viewports again
	w.Reading.StopCine()
	w.SetTool(ToolWindowLevel)
}

// TypedKey dispatches a key through the hotkey table.
func (w *Workstation) TypedKey(e *fyne.KeyEvent) {
	for _, h := range hotkeys {
		for _, k := range h.Keys {
			if k == e.Name {
				h.do(w, e.Name)
				return
			}
		}
	}
}

// TypedRune dispatches a typed character through the hotkey table.
func (w *Workstation) TypedRune(r rune) {
	for _, h := range hotkeys {
		for _, c := range h.Runes {
			if c == r {
				h.do(w, "")
				return
			}
		}
	}
}

func (w *Workstation) refreshStatus() {
	line := StatusLine(w.last)
	line += fmt.Sprintf("   tool %s", w.Reading.Tool)
	if w.Reading.Cine() {
		line += fmt.Sprintf("   cine %d fps", w.Reading.CineFPS())
	}
	if !w.Reading.Sync {
		line += "   scroll sync off"
	}
	line += w.readingStatus()
	if st := w.Sync.Status(); st.Configured {
		line += "   │ " + SyncLine(st)
	}
	if w.Clinic != nil {
		line += "   │ " + userLine(w.Clinic.Session())
	}
	w.status.SetText(line)
}

// StatusLine formats a viewport status for the status bar.
func StatusLine(s Status) string {
	if s.Slices == 0 {
		return "No series shown"
	}
	line := fmt.Sprintf("%s   %s %d/%d   W %.0f L %.0f", s.Series, s.Plane, s.Slice, s.Slices, s.Window.Width, s.Window.Center)
	if s.Window.Name != "" {
		line += " (" + s.Window.Name + ")"
	}
	line += fmt.Sprintf("   zoom %.0f%%", 100*s.Zoom)
	if s.Probe != "" {
		line += "   " + s.Probe
	}
	return line
}
