package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
)

// readingRoom is what the workstation adds to the reading area: panels for measurements, the sequences and
// key images, the prior exams, the tag browser, preferences, tooltips and hotkeys whatever has the focus.
type readingRoom struct {
	// Measures lists and keeps the measurements; Sequences chooses the exam's T1, T1CE, T2 and FLAIR;
	// KeyImages holds the key images.
	Measures  *MeasurementPanel
	Sequences *SequencePanel
	KeyImages *KeyImagePanel
	// Edit is the segmentation editor (brush, eraser, fill, undo, save as a new version).
	Edit *EditPanel
	// Prefs are the reader's preferences; User the account the workstation runs under (the signed-in
	// clinician's name comes first).
	Prefs Preferences
	User  string

	prefsUser   string // whose preferences were read
	tips        *tipLayer
	tags        *tagBrowser
	prefsPop    *widget.PopUp
	priorSelect *hotSelect
	priors      []priorChoice
	split, left *container.Split
	tabs        *container.AppTabs // under the worklist
}

// initReadingRoom makes the reading room's panels and ties them to the reading area; c is the window's
// canvas, whose keys the workstation's controls pass on.
func (w *Workstation) initReadingRoom(c fyne.Canvas) {
	keyTargets.Store(c, w)
	w.tips = newTipLayer()
	w.Prefs = DefaultPreferences()
	w.Measures = newMeasurementPanel(w)
	w.Sequences = newSequencePanel(w)
	w.KeyImages = newKeyImagePanel(w)
	w.Edit = newEditPanel(w)
	w.Reading.Painter = w.Edit
	if c != nil {
		for _, h := range hotkeys {
			if h.Modifier != 0 {
				c.AddShortcut(driverShortcut(h.Shortcut, h.Modifier), func(fyne.Shortcut) { h.do(w, h.Shortcut) })
			}
		}
	}
	w.Reading.MeasurementsOf = w.Measures.Of
	w.Reading.Owner = w.user()
	w.Reading.OnMeasure = w.Measures.changed
	w.priorSelect = newSelect(nil, func(string) {
		if i := w.priorSelect.SelectedIndex(); i >= 0 {
			w.ComparePrior(i)
		}
	})
	w.priorSelect.PlaceHolder = "no prior"
	w.priorSelect.Disable()
}

// driverShortcut is the shortcut Fyne's desktop driver delivers for a key pressed with a modifier: Ctrl+Z
// and Ctrl+Y (Cmd on macOS) arrive as the standard fyne.ShortcutUndo and fyne.ShortcutRedo, any other
// combination we bind as a desktop.CustomShortcut. A canvas shortcut registered under the other name is
// never called.
func driverShortcut(key fyne.KeyName, mod fyne.KeyModifier) fyne.Shortcut {
	if mod == fyne.KeyModifierShortcutDefault {
		switch key {
		case fyne.KeyZ:
			return &fyne.ShortcutUndo{}
		case fyne.KeyY:
			return &fyne.ShortcutRedo{}
		}
	}
	return &desktop.CustomShortcut{KeyName: key, Modifier: mod}
}

// toolbar is the row above the viewports: layout, tool, prior exam, and buttons whose tooltips name their key.
func (w *Workstation) toolbar() fyne.CanvasObject {
	var names []string
	for _, l := range Layouts {
		names = append(names, l.String())
	}
	w.layouts = newSelect(names, func(s string) {
		for _, l := range Layouts {
			if l.String() == s {
				w.SetLayout(l)
			}
		}
	})
	w.tools = newSelect(toolLabels(), func(s string) {
		for _, t := range Tools {
			if t.String() == s {
				w.SetTool(t)
			}
		}
	})
	w.tools.SetSelected(ToolWindowLevel.String())
	wide := func(o fyne.CanvasObject, width float32) fyne.CanvasObject {
		return container.NewGridWrap(fyne.NewSize(width, o.MinSize().Height), o)
	}
	return container.NewHBox(
		wide(w.layouts, 92), wide(w.tools, 178), wide(w.priorSelect, 220),
		newButton("Invert", "Invert grey levels (I)", func() { w.Reading.Active().Invert() }),
		newButton("Reset", "Reset zoom, pan, window and rotation (Space)", func() { w.Reading.Active().Reset() }),
		newButton("Cine", "Start or stop cine (C; [ and ] change the speed)", func() { w.Reading.ToggleCine(); w.refreshStatus() }),
		newButton("Key", "Mark this image as a key image (K)", func() { w.KeyImages.Mark() }),
		newButton("Tags", "DICOM header of this image (G)", w.ShowTags),
		newButton("Prefs", "Preferences: exams, layout, corners, presets (F8)", w.ShowPreferences),
		newButton("Help", "All the keys (F1 or ?)", w.ToggleHelp),
	)
}

// leftTabs are the tabs under the worklist: series (with the sequence choice and the label overlay), the
// measurements, key images, AI, sync and segmentation editing.
func (w *Workstation) leftTabs() *container.AppTabs {
	// One scroll for the sequences, the thumbnails and the label overlay: a short window scrolls them.
	series := container.NewVScroll(container.NewVBox(w.Sequences.Content(), widget.NewSeparator(), w.Strip.box,
		widget.NewSeparator(), w.Overlay.Content()))
	w.tabs = container.NewAppTabs(container.NewTabItem("Series", series),
		container.NewTabItem("Measures", w.Measures.Content()),
		container.NewTabItem("Keys", w.KeyImages.Content()),
		container.NewTabItem("AI", container.NewVScroll(w.AI.Content())),
		container.NewTabItem("Sync", container.NewVScroll(w.Sync.Content())),
		container.NewTabItem("Edit", container.NewVScroll(w.Edit.Content())))
	return w.tabs
}

// withTips lays the tooltip layer over content.
func (w *Workstation) withTips(content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewStack(content, w.tips.box)
}

// opened follows the opening of exam st: the window's title names the patient, the worklist marks the exam,
// the sequence choice, the measurements and the priors are read, and the reader's layout applies.
func (w *Workstation) opened(st *viewer.Study) {
	w.Reading.Owner = w.user()
	if w.Reading.Owner != w.prefsUser {
		w.loadPreferences() // a clinician signed in since: theirs
	}
	w.setTitle(windowTitle(st))
	w.Worklist.SetOpen(st.Exam)
	w.Sequences.SetExam(st)
	w.Measures.load(st)
	w.findPriors(st)
	for _, l := range Layouts[:4] {
		if l.String() == w.Prefs.Layout && l != w.Reading.Layout() {
			w.SetLayout(l)
		}
	}
}

// windowTitle names the exam shown: the patient as a person reads the name, ID, sex and age, date.
func windowTitle(st *viewer.Study) string {
	if st == nil {
		return "NeuroNova"
	}
	parts := []string{viewer.PersonName(st.PatientName), st.PatientID, st.SexAge(), viewer.FormatDate(st.StudyDate)}
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return "NeuroNova — " + strings.Join(kept, " · ")
}

// setTitle titles the window the workstation is in.
func (w *Workstation) setTitle(title string) {
	app := fyne.CurrentApp()
	if app == nil {
		return
	}
	for _, win := range app.Driver().AllWindows() {
		if win.Canvas() == w.canvas {
			win.SetTitle(title)
		}
	}
}

// showLoading shows the volumes' loading progress (0…1) under the viewports: shown before its value is set,
// so that a bar hidden at 100 % does not show full while it reads 0 %.
func (w *Workstation) showLoading(f float64, err error) {
	if f < 1 {
		w.progress.Show()
	}
	w.progress.SetValue(f)
	if f >= 1 {
		w.progress.Hide()
	}
	if err != nil {
		w.message.SetText(err.Error())
	}
}

// maximise fills the area with the active viewport, or gives the layout back (F2).
func (w *Workstation) maximise() {
	w.Reading.ToggleMaximise()
	w.refreshStatus()
}

// toggleLinkWindows links or unlinks the windows of viewports that show the same sequence (J).
func (w *Workstation) toggleLinkWindows() {
	w.Reading.LinkWindows = !w.Reading.LinkWindows
	w.refreshStatus()
}

// readingStatus is what the status bar adds about the reading room.
func (w *Workstation) readingStatus() string {
	var s []string
	if w.Reading.Maximised() {
		s = append(s, "maximised (F2 restores)")
	}
	if w.Reading.LinkWindows {
		s = append(s, "windows linked")
	}
	if p := w.Reading.Prior(); p != nil {
		s = append(s, fmt.Sprintf("prior %s", viewer.FormatDate(p.StudyDate)))
	}
	if len(s) == 0 {
		return ""
	}
	return "   " + strings.Join(s, "   ")
}

// sessionOnce keeps the first of session studies with the same StudyInstanceUID (the demo study opened from
// --input and built in memory, say).
func sessionOnce(studies []*viewer.Study) []*viewer.Study {
	seen := map[string]bool{}
	var out []*viewer.Study
	for _, st := range studies {
		if !seen[st.UID] {
			seen[st.UID] = true
			out = append(out, st)
		}
	}
	return out
}

// ReopenFromLibrary opens the library's copy of study uid in place of the session's, when the session's is
// the one shown (the demo study, once imported): its AI results and measurements are then kept there.
func (w *Workstation) ReopenFromLibrary(uid string) {
	st := w.Reading.Study()
	if w.lib == nil || st == nil || !slices.Contains(st.StudyUIDs(), uid) || len(st.Series) == 0 {
		return
	}
	if _, inMemory := st.Series[0].InMemory(); !inMemory {
		return
	}
	lib, rule := w.lib, w.Prefs.ExamRule
	go func() {
		ex, err := lib.OpenExam(context.Background(), uid, rule)
		do(func() {
			if err != nil {
				w.message.SetText(err.Error())
				return
			}
			if w.Reading.Study() == st {
				w.Open(ex)
			}
		})
	}()
}

// Message shows a line of text under the left panel's tabs.
func (w *Workstation) Message(s string) { w.message.SetText(s) }
