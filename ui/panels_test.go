package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestOverlayPanel checks the panel against its markup golden and that its controls drive the reading
// area's overlay settings.
func TestOverlayPanel(t *testing.T) {
	newTestApp(t)
	r := NewReading()
	p := NewOverlayPanel(r)
	_, labels := testVolume(t)
	labels.Source = "ground truth (test)"
	p.SetLabels(labels)
	test.AssertObjectRendersToMarkup(t, "overlay_panel.xml", p.Content())

	test.Tap(p.Visible)
	if r.Overlay.Visible {
		t.Error("unticking 'Label overlay' leaves the overlay visible")
	}
	test.Tap(p.Labels[1])
	if !r.Overlay.Hidden[1] {
		t.Error("unticking the first label does not hide it")
	}
	p.Opacity.SetValue(0.8)
	if r.Overlay.Opacity != 0.8 {
		t.Errorf("opacity %g after moving the slider to 0.8", r.Overlay.Opacity)
	}
	test.Tap(p.Outline)
	if !r.Overlay.Outline {
		t.Error("ticking 'Outline only' does not set it")
	}

	p.SetLabels(nil)
	if !p.Visible.Disabled() {
		t.Error("without a label map the overlay switch is enabled")
	}
}

func TestHelpListsEveryKey(t *testing.T) {
	help := helpText()
	for _, h := range Hotkeys() {
		if !strings.Contains(help, h.Label) || !strings.Contains(help, h.Does) {
			t.Errorf("help lacks %q: %s", h.Label, h.Does)
		}
	}
}
