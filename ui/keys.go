package ui

import (
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// Hotkeys work whatever has the focus. Fyne gives keys to the focused widget instead of the canvas, and a
// check box, slider, button or list takes the focus when it is touched; so the workstation's controls are
// the widgets below, which pass every key to the hotkeys of the workstation on their canvas. Text entries
// keep the keys they type, and give Esc and the function keys back: Esc leaves the entry, and keys act on
// the viewport again. Panels that add controls to the window should make them with these constructors.

// keyTargets maps a canvas to the workstation whose hotkeys it runs.
var keyTargets sync.Map // fyne.Canvas → *Workstation

// hotkeysFor returns the workstation of the canvas o is on, or nil.
func hotkeysFor(o fyne.CanvasObject) *Workstation {
	app := fyne.CurrentApp()
	if app == nil {
		return nil
	}
	c := app.Driver().CanvasForObject(o)
	if c == nil {
		return nil
	}
	if w, ok := keyTargets.Load(c); ok {
		return w.(*Workstation)
	}
	return nil
}

// passKey hands a key a control does not keep to the hotkeys; it reports whether there were any.
func passKey(o fyne.CanvasObject, e *fyne.KeyEvent) bool {
	if w := hotkeysFor(o); w != nil {
		w.TypedKey(e)
		return true
	}
	return false
}

func passRune(o fyne.CanvasObject, r rune) bool {
	if w := hotkeysFor(o); w != nil {
		w.TypedRune(r)
		return true
	}
	return false
}

// hotCheck is a check box whose keys are the workstation's.
type hotCheck struct{ widget.Check }

func newCheck(label string, changed func(bool)) *hotCheck {
	c := &hotCheck{}
	c.Text, c.OnChanged = label, changed
	c.ExtendBaseWidget(c)
	return c
}

func (c *hotCheck) TypedKey(e *fyne.KeyEvent) {
	if !passKey(c, e) {
		c.Check.TypedKey(e)
	}
}

func (c *hotCheck) TypedRune(r rune) {
	if !passRune(c, r) {
		c.Check.TypedRune(r)
	}
}

// hotSlider is a slider whose keys are the workstation's.
type hotSlider struct{ widget.Slider }

func newSlider(lo, hi float64) *hotSlider {
	s := &hotSlider{}
	s.Min, s.Max, s.Step, s.Orientation = lo, hi, 1, widget.Horizontal
	s.ExtendBaseWidget(s)
	return s
}

func (s *hotSlider) TypedKey(e *fyne.KeyEvent) {
	if !passKey(s, e) {
		s.Slider.TypedKey(e)
	}
}

func (s *hotSlider) TypedRune(r rune) {
	if !passRune(s, r) {
		s.Slider.TypedRune(r)
	}
}

// hotSelect is a drop-down whose keys are the workstation's.
type hotSelect struct{ widget.Select }

func newSelect(options []string, changed func(string)) *hotSelect {
	s := &hotSelect{}
	s.Options, s.OnChanged, s.PlaceHolder = options, changed, "(Select one)"
	s.ExtendBaseWidget(s)
	return s
}

func (s *hotSelect) TypedKey(e *fyne.KeyEvent) {
	if !passKey(s, e) {
		s.Select.TypedKey(e)
	}
}

func (s *hotSelect) TypedRune(r rune) {
	if !passRune(s, r) {
		s.Select.TypedRune(r)
	}
}

// hotButton is a button whose keys are the workstation's, with a tooltip (its hotkey, say) shown while the
// pointer rests on it.
type hotButton struct {
	widget.Button
	tip   string
	timer *time.Timer
}

var _ desktop.Hoverable = (*hotButton)(nil)

func newButton(label, tip string, tapped func()) *hotButton {
	b := &hotButton{tip: tip}
	b.Text, b.OnTapped = label, tapped
	b.ExtendBaseWidget(b)
	return b
}

func (b *hotButton) TypedKey(e *fyne.KeyEvent) {
	if !passKey(b, e) {
		b.Button.TypedKey(e)
	}
}

func (b *hotButton) TypedRune(r rune) {
	if !passRune(b, r) {
		b.Button.TypedRune(r)
	}
}

// tipDelay is how long the pointer rests on a control before its tooltip shows.
const tipDelay = 600 * time.Millisecond

// MouseIn shows the tooltip after tipDelay.
func (b *hotButton) MouseIn(e *desktop.MouseEvent) {
	b.Button.MouseIn(e)
	if b.tip == "" {
		return
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = time.AfterFunc(tipDelay, func() { do(b.showTip) })
}

func (b *hotButton) showTip() {
	if w := hotkeysFor(b); w != nil && b.timer != nil {
		w.tips.show(b, b.tip)
	}
}

// Tapped hides the tooltip and taps the button.
func (b *hotButton) Tapped(e *fyne.PointEvent) {
	b.hideTip()
	b.Button.Tapped(e)
}

// MouseOut hides the tooltip.
func (b *hotButton) MouseOut() {
	b.Button.MouseOut()
	b.hideTip()
}

func (b *hotButton) hideTip() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if w := hotkeysFor(b); w != nil {
		w.tips.hide()
	}
}

// hotEntry is a text entry that keeps the keys it types and gives Esc (which also leaves it) and the
// function keys to the workstation.
type hotEntry struct{ widget.Entry }

func newEntry() *hotEntry {
	e := &hotEntry{}
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ExtendBaseWidget(e)
	return e
}

// newPasswordEntry is newEntry whose text is hidden.
func newPasswordEntry() *hotEntry {
	e := newEntry()
	e.Password = true
	return e
}

func (e *hotEntry) TypedKey(k *fyne.KeyEvent) {
	switch k.Name {
	case fyne.KeyEscape:
		if c := fyne.CurrentApp().Driver().CanvasForObject(e); c != nil {
			c.Unfocus()
		}
		passKey(e, k)
	case fyne.KeyF1, fyne.KeyF2, fyne.KeyF3, fyne.KeyF4, fyne.KeyF5, fyne.KeyF6, fyne.KeyF7, fyne.KeyF8,
		fyne.KeyF9, fyne.KeyF10, fyne.KeyF11, fyne.KeyF12:
		passKey(e, k)
	default:
		e.Entry.TypedKey(k)
	}
}

// hotTable is a table whose keys are the workstation's: touching a worklist row leaves the keys to the
// viewports.
type hotTable struct{ widget.Table }

func newTable(length func() (int, int), create func() fyne.CanvasObject, update func(widget.TableCellID, fyne.CanvasObject)) *hotTable {
	t := &hotTable{}
	t.Length, t.CreateCell, t.UpdateCell = length, create, update
	t.ExtendBaseWidget(t)
	return t
}

func (t *hotTable) TypedKey(e *fyne.KeyEvent) {
	if !passKey(t, e) {
		t.Table.TypedKey(e)
	}
}

func (t *hotTable) TypedRune(r rune) {
	if !passRune(t, r) {
		t.Table.TypedRune(r)
	}
}
