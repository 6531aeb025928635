package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/api"
)

// TestHotkeysAfterFocusingOrderFilters: a filter of the orders view touched before going back to the Reading
// tab keeps the focus, and leaves the keys to the workstation's hotkeys (the filters were plain Fyne widgets,
// which kept them: the viewports answered no key until something else was clicked).
func TestHotkeysAfterFocusingOrderFilters(t *testing.T) {
	w, win := newClinicWorkstation(t, newFakeClinic(api.RoleDoctor))
	c := win.Canvas()
	c.SetOnTypedKey(w.TypedKey)
	c.SetOnTypedRune(w.TypedRune)
	v := w.Clinic.Orders
	for _, o := range []fyne.Focusable{v.Mine, v.Unassigned, v.Open, v.Status} {
		w.Reading.Tool = ToolPan
		w.Clinic.Tabs.Select(w.Clinic.ordersTab)
		c.Focus(o)
		if c.Focused() != o {
			t.Fatalf("%T did not take the focus", o)
		}
		w.Clinic.Tabs.SelectIndex(0)
		pressKey(c, fyne.KeyM)
		if w.Reading.Tool != ToolLength {
			t.Errorf("M with %T focused: tool %s, want %s", o, w.Reading.Tool, ToolLength)
		}
		c.Unfocus()
	}
	test.Tap(v.NewPatient)
	if v.PatientForm == nil {
		t.Error("New patient… did not open the form")
	}
}
