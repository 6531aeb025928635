package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/neuronova/neuronova/api"
)

// TestHotkeysAfterFocusingOrderFilters: the orders view's filters, which take the focus when touched, leave
// the keys to the workstation's hotkeys (they were plain Fyne widgets, which kept them).
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

// TestTabSwitchLeavesNoFocusBehind: text typed after going back to the Reading tab from the Admin tab, where a
// search field had the focus, reaches the hotkeys, not the hidden field.
func TestTabSwitchLeavesNoFocusBehind(t *testing.T) {
	w, win := newClinicWorkstation(t, newFakeClinic(api.RoleAdmin))
	c := win.Canvas()
	c.SetOnTypedKey(w.TypedKey)
	c.SetOnTypedRune(w.TypedRune)
	w.Clinic.Tabs.Select(w.Clinic.adminTab)
	login := w.Clinic.Admin.Login
	c.Focus(login)
	w.Clinic.Tabs.SelectIndex(0)
	w.Reading.Tool = ToolPan
	typeText(c, "m")
	pressKey(c, fyne.KeyM)
	if login.Text != "" || w.Reading.Tool != ToolLength {
		t.Errorf("after the switch: the hidden field holds %q, tool %s (want it empty, %s)", login.Text, w.Reading.Tool, ToolLength)
	}
}
