package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

// tipLayer draws tooltips above the workstation's content. Nothing in it can be tapped, so that it never
// takes a click meant for the control beneath.
type tipLayer struct {
	box  *fyne.Container // the layer, as large as the content
	bg   *canvas.Rectangle
	text *canvas.Text
}

func newTipLayer() *tipLayer {
	t := &tipLayer{bg: canvas.NewRectangle(color.NRGBA{R: 0x22, G: 0x27, B: 0x2e, A: 0xf0}), text: canvas.NewText("", theme.Color(theme.ColorNameForeground))}
	t.bg.StrokeColor, t.bg.StrokeWidth, t.bg.CornerRadius = color.NRGBA{R: 0x44, G: 0x4c, B: 0x56, A: 0xff}, 1, 3
	t.text.TextSize = theme.CaptionTextSize()
	t.box = container.NewWithoutLayout(t.bg, t.text)
	t.hide()
	return t
}

// show shows tip under o (or above it, near the bottom), kept inside the layer.
func (t *tipLayer) show(o fyne.CanvasObject, tip string) {
	d := fyne.CurrentApp().Driver()
	at := d.AbsolutePositionForObject(o).Subtract(d.AbsolutePositionForObject(t.box))
	t.text.Text = tip
	pad := theme.Padding() * 2
	ts := t.text.MinSize()
	size := fyne.NewSize(ts.Width+2*pad, ts.Height+pad)
	area := t.box.Size()
	pos := fyne.NewPos(at.X, at.Y+o.Size().Height+2)
	if pos.Y+size.Height > area.Height {
		pos.Y = at.Y - size.Height - 2
	}
	pos.X = max(0, min(pos.X, area.Width-size.Width))
	t.bg.Move(pos)
	t.bg.Resize(size)
	t.text.Move(pos.Add(fyne.NewPos(pad, pad/2)))
	t.bg.Show()
	t.text.Show()
	t.box.Refresh()
}

// hide hides the tooltip.
func (t *tipLayer) hide() {
	t.bg.Hide()
	t.text.Hide()
}

// Shown returns the tooltip shown, "" when none.
func (t *tipLayer) Shown() string {
	if t.text.Hidden {
		return ""
	}
	return t.text.Text
}
