package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/neuronova/neuronova/viewer"
	"github.com/neuronova/neuronova/viewer/render"
)

// Preferences are one reader's settings, kept in the library under their name: how studies group into exams,
// the layout studies open with, the corner annotations, window presets per sequence (offered first, keys
// 1–5) and the panels' sizes.
type Preferences struct {
	ExamRule    viewer.ExamRule                       `json:"exam_rule"`
	Layout      string                                `json:"layout,omitempty"` // "" the hanging protocol, else a layout's name
	Annotations Annotations                           `json:"annotations"`
	Presets     map[viewer.SeriesType][]viewer.Window `json:"presets,omitempty"`
	LeftPanel   float64                               `json:"left_panel,omitempty"` // the divider between the left panel and the images (0…1)
	Worklist    float64                               `json:"worklist,omitempty"`   // the divider under the worklist (0…1)
}

// DefaultPreferences are the preferences of a reader who has set none.
func DefaultPreferences() Preferences {
	return Preferences{ExamRule: viewer.ExamByDay, Annotations: DefaultAnnotations, LeftPanel: 0.24, Worklist: 0.3}
}

// prefsKey is the library setting that holds user's preferences.
func prefsKey(user string) string { return "preferences/" + user }

// user is who reads: the signed-in clinician, else the account the workstation runs under.
func (w *Workstation) user() string {
	if w.Clinic != nil {
		if s := w.Clinic.Session(); s != nil && s.User.LoginID != "" {
			return s.User.LoginID
		}
	}
	if w.User != "" {
		return w.User
	}
	return "reader"
}

// loadPreferences reads the reader's preferences from the library in a worker and applies them.
func (w *Workstation) loadPreferences() {
	w.prefsUser = w.user()
	if w.lib == nil {
		return
	}
	lib, user := w.lib, w.prefsUser
	go func() {
		s, err := lib.Setting(context.Background(), prefsKey(user))
		do(func() {
			if err != nil {
				w.message.SetText("Preferences: " + err.Error())
				return
			}
			if s == "" {
				return
			}
			p := DefaultPreferences()
			if err := json.Unmarshal([]byte(s), &p); err != nil {
				w.message.SetText("Preferences could not be read, the defaults apply: " + err.Error())
				return
			}
			w.SetPreferences(p)
		})
	}()
}

// SetPreferences applies p (it is saved by SavePreferences).
func (w *Workstation) SetPreferences(p Preferences) {
	if _, err := viewer.ParseExamRule(string(p.ExamRule)); err != nil || p.ExamRule == "" {
		p.ExamRule = viewer.ExamByDay
	}
	regroup := p.ExamRule != w.Prefs.ExamRule
	w.Prefs = p
	w.Reading.Annotations = p.Annotations
	w.Reading.Refresh()
	if p.LeftPanel > 0 && w.split != nil {
		w.split.SetOffset(p.LeftPanel)
	}
	if p.Worklist > 0 && w.left != nil {
		w.left.SetOffset(p.Worklist)
	}
	if regroup {
		w.Worklist.Rule = p.ExamRule
		w.Worklist.Refresh()
	}
}

// SavePreferences keeps the reader's preferences, with the panels' sizes as they are, in the library; wait
// says whether to return only once they are kept (at exit).
func (w *Workstation) SavePreferences(wait bool) error {
	if w.lib == nil {
		return nil
	}
	p := w.Prefs
	if w.split != nil {
		p.LeftPanel = w.split.Offset
	}
	if w.left != nil {
		p.Worklist = w.left.Offset
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	lib, key := w.lib, prefsKey(w.user())
	save := func() error { return lib.SetSetting(context.Background(), key, string(b)) }
	if wait {
		return save()
	}
	go func() {
		if err := save(); err != nil {
			do(func() { w.message.SetText("Preferences not kept: " + err.Error()) })
		}
	}()
	return nil
}

// presets are the windows keys 1–5 choose for vp: the reader's presets of its sequence, then the series'.
func (w *Workstation) presets(vp *Viewport) []viewer.Window {
	vol := vp.Volume()
	if vol == nil {
		return nil
	}
	var out []viewer.Window
	if se := vp.Series(); se != nil {
		out = append(out, w.Prefs.Presets[se.Type]...)
	}
	return append(out, render.Presets(vol)...)
}

// keepWindowAsPreset adds the active viewport's window to the reader's presets of its sequence.
func (w *Workstation) keepWindowAsPreset() string {
	vp := w.Reading.Active()
	se := vp.Series()
	if se == nil {
		return "No series shown: no window to keep."
	}
	win := vp.Window()
	win.Name = fmt.Sprintf("%s %.0f/%.0f", se.Type, win.Width, win.Center)
	if w.Prefs.Presets == nil {
		w.Prefs.Presets = map[viewer.SeriesType][]viewer.Window{}
	}
	list := w.Prefs.Presets[se.Type]
	if slices.ContainsFunc(list, func(x viewer.Window) bool { return x.Center == win.Center && x.Width == win.Width }) {
		return "That window is one of your " + string(se.Type) + " presets already."
	}
	w.Prefs.Presets[se.Type] = append(list, win)
	w.SavePreferences(false)
	return fmt.Sprintf("Kept W %.0f L %.0f as your %s preset %d.", win.Width, win.Center, se.Type, len(w.Prefs.Presets[se.Type]))
}

// ShowPreferences opens the preferences of the reader.
func (w *Workstation) ShowPreferences() {
	p := w.Prefs
	rules := make([]string, len(viewer.ExamRules))
	for i, r := range viewer.ExamRules {
		rules[i] = string(r)
	}
	rule := newSelect(rules, nil)
	rule.SetSelected(string(p.ExamRule))
	layouts := []string{"hanging protocol"}
	for _, l := range Layouts[:4] {
		layouts = append(layouts, l.String())
	}
	layout := newSelect(layouts, nil)
	layout.SetSelected(orDefault(p.Layout, "hanging protocol"))
	var corners [4]*hotEntry
	form := container.NewVBox(
		widget.NewLabelWithStyle("Preferences of "+w.user(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, widget.NewLabel("Exam: the studies of one patient on one"), nil, rule),
		container.NewBorder(nil, nil, widget.NewLabel("Open studies with"), nil, layout),
	)
	for i, name := range []string{"Top left", "Top right", "Bottom left", "Bottom right"} {
		e := newEntry()
		e.MultiLine = true
		e.SetText(p.Annotations.Corners[i])
		e.SetMinRowsVisible(3)
		corners[i] = e
		form.Add(container.NewBorder(nil, nil, widget.NewLabel(name), nil, e))
	}
	scale := newCheck("Scale bar", nil)
	scale.SetChecked(p.Annotations.ScaleBar)
	var fields []string
	for _, f := range AnnotationFields {
		fields = append(fields, "{"+f.Name+"} "+f.Means)
	}
	help := widget.NewLabel("Corner fields: " + strings.Join(fields, "; ") + ".")
	help.Wrapping = fyne.TextWrapWord
	presets := widget.NewLabel(presetsText(p.Presets))
	presets.Wrapping = fyne.TextWrapWord
	note := widget.NewLabel("")
	keep := newButton("Keep the active window as a preset", "Keys 1–5 offer your presets of the sequence first", func() {
		note.SetText(w.keepWindowAsPreset())
		presets.SetText(presetsText(w.Prefs.Presets))
	})
	clear := newButton("Forget my presets", "", func() {
		w.Prefs.Presets = nil
		presets.SetText(presetsText(nil))
	})
	form.Add(scale)
	form.Add(help)
	form.Add(container.NewHBox(keep, clear))
	form.Add(presets)
	form.Add(note)
	var pop *widget.PopUp
	save := newButton("Save", "", func() {
		np := w.Prefs
		np.ExamRule = viewer.ExamRule(rule.Selected)
		np.Layout = strings.TrimPrefix(layout.Selected, "hanging protocol")
		for i, e := range corners {
			np.Annotations.Corners[i] = e.Text
		}
		np.Annotations.ScaleBar = scale.Checked
		w.SetPreferences(np)
		w.SavePreferences(false)
		pop.Hide()
	})
	cancel := newButton("Cancel", "Esc", func() { pop.Hide() })
	pop = widget.NewModalPopUp(container.NewBorder(nil, container.NewHBox(save, cancel), nil, nil, container.NewVScroll(form)), w.canvas)
	size := w.canvas.Size()
	pop.Resize(fyne.NewSize(min(size.Width-40, 720), size.Height-40))
	w.prefsPop = pop
	pop.Show()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// presetsText lists a reader's presets by sequence.
func presetsText(p map[viewer.SeriesType][]viewer.Window) string {
	if len(p) == 0 {
		return "No presets of your own: keys 1–5 choose the series' (file windows, Auto, Contrast, Wide, Full range)."
	}
	var lines []string
	for _, t := range viewer.BrainTumourTypes {
		var ws []string
		for _, w := range p[t] {
			ws = append(ws, fmt.Sprintf("W %.0f L %.0f", w.Width, w.Center))
		}
		if len(ws) > 0 {
			lines = append(lines, fmt.Sprintf("%s: %s", t, strings.Join(ws, ", ")))
		}
	}
	return "Your presets (first on keys 1–5): " + strings.Join(lines, "; ")
}
